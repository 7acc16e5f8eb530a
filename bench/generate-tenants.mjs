/**
 * Writes the tenants benchmark's data set (bench/tenants.mjs) into a fresh SQLite file: W small
 * workspaces straight into the tables, prepared statements, one transaction per 100 workspaces.
 * The first workspace is made by the service (its furniture is the template for the others).
 */
import { createHash } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { migrateToLatest, openStore } from '../packages/server/dist/storage/connect.js';
import { createWorkspacesService } from '../packages/server/dist/modules/workspaces/workspaces.service.js';
import { PROJECT_RESOURCES } from '../packages/contracts/dist/index.js';
import { prng } from './generate.mjs';

/** What each workspace holds. */
export const PER = {
  members: 50,
  groups: 5,
  groupsPerMember: 2,
  projects: 10,
  roles: 5,
  grants: 150,
  groupShare: 0.7,
  endUsers: 500,
  endUserGroups: 2,
  features: 5,
  featureGrants: 20,
  policies: 3,
};

/** Workspace w's API token (an api_clients row of each workspace). */
export const tokenOf = (w) => `rst_tenant_${String(w).padStart(6, '0')}_0123456789abcdef`;

/** Writes W workspaces: the first through the service (its furniture is the template), the rest by SQL. */
export async function generateTenants(file, W) {
  const store = openStore({ url: file });
  await migrateToLatest(store);
  await createWorkspacesService({
    db: store.db,
    clock: { now: () => new Date() },
    dialect: 'sqlite',
  }).ensureDefaultWorkspace(tokenOf(1));
  await store.close();

  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const random = prng(42);
  const pick = (n) => Math.floor(random() * n);
  const created = new Date(Date.now() - 86_400_000).toISOString();
  const legacy = db.prepare('select * from legacy_roles where workspace_id = 1 order by id').all();
  const envs = db.prepare('select * from environments where workspace_id = 1 order by id').all();
  if (legacy.length !== 4 || envs.length !== 3) throw new Error('unexpected default furniture');
  const noAccess = legacy.findIndex((role) => role.name === 'No access');
  const analyst = legacy.findIndex((role) => role.name === 'Analyst');

  const stmt = (sql) => db.prepare(sql);
  const ins = {
    workspace: stmt(
      'insert into workspaces (id, name, environments_enabled, created_at) values (?, ?, 1, ?)',
    ),
    environment: stmt(
      'insert into environments (id, workspace_id, type, created_at) values (?, ?, ?, ?)',
    ),
    legacy: stmt(
      'insert into legacy_roles (id, workspace_id, name, name_key, privileges, system, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    group: stmt(
      'insert into collaborator_groups (id, workspace_id, name, name_key, description, system, created_at, updated_at) values (?, ?, ?, ?, null, ?, ?, ?)',
    ),
    client: stmt(
      'insert into api_clients (workspace_id, name, token_hash, token_prefix, environment_types, project_ids, created_at) values (?, ?, ?, ?, ?, null, ?)',
    ),
    member: stmt(
      "insert into members (id, workspace_id, name, email, email_key, external_id, time_zone, grant_type, avatar_url, created_at, updated_at) values (?, ?, ?, ?, ?, null, 'UTC', 'team', null, ?, ?)",
    ),
    memberRole: stmt(
      "insert into member_environment_roles (workspace_id, member_id, environment_id, role_type, legacy_role_id, environment_role_id) values (?, ?, ?, 'privilege_group', ?, null)",
    ),
    membership: stmt(
      'insert or ignore into group_memberships (workspace_id, group_id, member_id, invitation_id, created_at, expires_at) values (?, ?, ?, null, ?, null)',
    ),
    project: stmt(
      'insert into projects (id, workspace_id, environment_id, name, description, created_at, updated_at) values (?, ?, ?, ?, null, ?, ?)',
    ),
    role: stmt(
      "insert into project_roles (id, workspace_id, name, name_key, config, type, inheritable, created_at, updated_at) values (?, ?, ?, ?, ?, 'custom', 0, ?, ?)",
    ),
    grant: stmt(
      'insert or ignore into project_grants (id, workspace_id, project_id, project_role_id, member_id, group_id, created_at, updated_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, null)',
    ),
    endUser: stmt(
      "insert into end_users (id, workspace_id, name, email, email_key, avatar_url, external_id, status, mfa_enabled, source, created_at, updated_at) values (?, ?, ?, ?, ?, null, null, 'active', 0, 'manual', ?, ?)",
    ),
    endUserEnv: stmt(
      'insert into end_user_environments (workspace_id, end_user_id, environment_id, created_at) values (?, ?, ?, ?)',
    ),
    endUserGroup: stmt(
      "insert into end_user_groups (id, workspace_id, environment_id, name, name_key, description, managed_by, roles, system, created_at, updated_at) values (?, ?, ?, ?, ?, null, 'manual', '[]', ?, ?, ?)",
    ),
    endUserMember: stmt(
      'insert or ignore into end_user_group_members (workspace_id, group_id, end_user_id, created_at) values (?, ?, ?, ?)',
    ),
    feature: stmt(
      "insert into features (id, workspace_id, environment_id, kind, name, name_key, description, created_at, updated_at) values (?, ?, ?, 'assistant', ?, ?, null, ?, ?)",
    ),
    featureGrant: stmt(
      'insert or ignore into feature_grants (workspace_id, feature_id, end_user_id, group_id, created_at) values (?, ?, ?, ?, ?)',
    ),
    policy: stmt(
      "insert into policies (id, workspace_id, environment_id, feature_id, name, name_key, description, tools, scope_type, effect, created_at, updated_at) values (?, ?, ?, ?, ?, ?, null, '[]', ?, ?, ?, ?)",
    ),
    policyTarget: stmt(
      'insert or ignore into policy_targets (workspace_id, policy_id, end_user_id, group_id) values (?, ?, ?, null)',
    ),
  };
  const resources = Object.entries(PROJECT_RESOURCES);

  const one = (w) => {
    const envId = (k) => (w - 1) * 3 + 1 + k;
    const dev = envId(0);
    if (w > 1) {
      ins.workspace.run(w, `Tenant ${w}`, created);
      envs.forEach((env, k) => ins.environment.run(envId(k), w, env.type, created));
      legacy.forEach((role, k) =>
        ins.legacy.run(
          (w - 1) * 4 + 1 + k,
          w,
          role.name,
          role.name_key,
          role.privileges,
          role.system,
          created,
          created,
        ),
      );
      ins.group.run(`am-t${w}`, w, 'All collaborators', 'all collaborators', 1, created, created);
      const token = tokenOf(w);
      ins.client.run(
        w,
        'Bench',
        createHash('sha256').update(token).digest('hex'),
        `${token.slice(0, 12)}…`,
        '["dev","test","prod"]',
        created,
      );
    }
    for (let g = 1; g <= PER.groups; g++)
      ins.group.run(`ug-t${w}-${g}`, w, `Group ${g}`, `group ${g}`, 0, created, created);
    for (let i = 1; i <= PER.members; i++) {
      const id = (w - 1) * PER.members + i;
      const email = `m${i}@t${w}.example`;
      ins.member.run(id, w, `Member ${i}`, email, email, created, created);
      // Most hold No access in DEV (grants decide), a few Analyst (a legacy role covers DEV).
      const role = i <= 3 ? analyst : noAccess;
      ins.memberRole.run(w, id, dev, (w - 1) * 4 + 1 + role);
      for (let k = 0; k < PER.groupsPerMember; k++)
        ins.membership.run(w, `ug-t${w}-${1 + pick(PER.groups)}`, id, created);
    }
    for (let p = 1; p <= PER.projects; p++)
      ins.project.run((w - 1) * PER.projects + p, w, dev, `Project ${p}`, created, created);
    for (let r = 1; r <= PER.roles; r++) {
      const config = {};
      for (const [resource, definition] of resources) {
        if (random() < 0.5) continue;
        config[resource] = {
          privileges: definition.privileges.filter(() => random() < 0.5),
        };
      }
      ins.role.run(
        `pr-t${w}-${r}`,
        w,
        `Role ${r}`,
        `role ${r}`,
        JSON.stringify(config),
        created,
        created,
      );
    }
    for (let k = 1; k <= PER.grants; k++) {
      const toGroup = random() < PER.groupShare;
      ins.grant.run(
        `pg-t${w}-${k}`,
        w,
        (w - 1) * PER.projects + 1 + pick(PER.projects),
        `pr-t${w}-${1 + pick(PER.roles)}`,
        toGroup ? null : (w - 1) * PER.members + 1 + pick(PER.members),
        toGroup ? `ug-t${w}-${1 + pick(PER.groups)}` : null,
        created,
        created,
      );
    }
    const groupIds = [];
    for (let g = 0; g <= PER.endUserGroups; g++) {
      const id = (w - 1) * (PER.endUserGroups + 1) + 1 + g;
      const name = g === 0 ? 'Everyone' : `Team ${g}`;
      ins.endUserGroup.run(id, w, dev, name, name.toLowerCase(), g === 0 ? 1 : 0, created, created);
      if (g > 0) groupIds.push(id);
    }
    const firstUser = (w - 1) * PER.endUsers + 1;
    for (let u = 0; u < PER.endUsers; u++) {
      const id = firstUser + u;
      const email = `u${u}@t${w}.example`;
      ins.endUser.run(id, w, `User ${u}`, email, email, created, created);
      ins.endUserEnv.run(w, id, dev, created);
      ins.endUserMember.run(w, groupIds[pick(groupIds.length)], id, created);
    }
    for (let f = 1; f <= PER.features; f++) {
      const id = (w - 1) * PER.features + f;
      ins.feature.run(id, w, dev, `Feature ${f}`, `feature ${f}`, created, created);
      for (let k = 0; k < PER.featureGrants / PER.features; k++) {
        if (k === 0) ins.featureGrant.run(w, id, null, groupIds[pick(groupIds.length)], created);
        else ins.featureGrant.run(w, id, firstUser + pick(PER.endUsers), null, created);
      }
    }
    for (let k = 1; k <= PER.policies; k++) {
      const id = (w - 1) * PER.policies + k;
      const feature = (w - 1) * PER.features + 1 + pick(PER.features);
      const users = k % 2 === 0;
      ins.policy.run(
        id,
        w,
        dev,
        feature,
        `Policy ${k}`,
        `policy ${k}`,
        users ? 'users' : 'all',
        k === 1 ? 'require_approval' : users ? 'deny' : 'allow',
        created,
        created,
      );
      if (users) ins.policyTarget.run(w, id, firstUser + pick(PER.endUsers));
    }
  };
  const batch = db.transaction((from, to) => {
    for (let w = from; w <= to; w++) one(w);
  });
  for (let from = 1; from <= W; from += 100) batch(from, Math.min(W, from + 99));
  db.pragma('wal_checkpoint(TRUNCATE)');
  const count = (table) => db.prepare(`select count(*) as n from ${table}`).get().n;
  const counts = {
    workspaces: count('workspaces'),
    members: count('members'),
    project_grants: count('project_grants'),
    end_users: count('end_users'),
  };
  db.close();
  return counts;
}
