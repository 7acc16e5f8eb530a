/**
 * Writes the benchmark data set into a fresh SQLite file, straight into the tables (prepared
 * statements, one transaction per table): 100,000 collaborators, 5,000 groups (each collaborator
 * in about 3), 2,000 projects, 50 project roles and 300,000 project grants, 80% of them to groups.
 * About 5% of memberships and grants carry an expiry (half of those already past).
 */
import SQLite from 'better-sqlite3';
import { migrateToLatest, openStore } from '../packages/server/dist/storage/connect.js';
import { createWorkspacesService } from '../packages/server/dist/modules/workspaces/workspaces.service.js';
import { PROJECT_RESOURCES } from '../packages/contracts/dist/index.js';

export const SIZES = {
  users: 100_000,
  groups: 5_000,
  groupsPerUser: 3,
  projects: 2_000,
  roles: 50,
  grants: 300_000,
  groupShare: 0.8,
};

/** A small deterministic PRNG, so every run benchmarks the same data. */
export function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function generate(file, adminToken) {
  const store = openStore({ url: file });
  await migrateToLatest(store);
  await createWorkspacesService({
    db: store.db,
    clock: { now: () => new Date() },
    dialect: 'sqlite',
  }).ensureDefaultWorkspace(adminToken);
  await store.close();

  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const random = prng(42);
  const pick = (n) => Math.floor(random() * n);
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const created = iso(now - 86_400_000);
  const expiry = () => {
    const r = random();
    if (r >= 0.05) return null;
    return iso(r < 0.025 ? now - 3_600_000 : now + 30 * 86_400_000);
  };
  const workspaceId = db.prepare('select id from workspaces order by id limit 1').get().id;
  const dev = db
    .prepare("select id from environments where workspace_id = ? and type = 'dev'")
    .get(workspaceId).id;
  // Every collaborator holds the legacy role `No access` in DEV: the benchmark measures the grant
  // model, and a legacy role such as `Analyst` would cover every (DEV) project by itself. It still
  // makes every denied check look the member's legacy role up (the legacy path's cost).
  const noAccess = db
    .prepare("select id from legacy_roles where workspace_id = ? and name = 'No access'")
    .get(workspaceId).id;

  const insertMember = db.prepare(
    "insert into members (id, workspace_id, name, email, email_key, external_id, time_zone, grant_type, avatar_url, created_at, updated_at) values (?, ?, ?, ?, ?, null, 'UTC', 'team', null, ?, ?)",
  );
  const insertRole = db.prepare(
    "insert into member_environment_roles (workspace_id, member_id, environment_id, role_type, legacy_role_id, environment_role_id) values (?, ?, ?, 'privilege_group', ?, null)",
  );
  db.transaction(() => {
    for (let i = 1; i <= SIZES.users; i++) {
      const email = `user${i}@bench.example`;
      insertMember.run(i, workspaceId, `User ${i}`, email, email, created, created);
      insertRole.run(workspaceId, i, dev, noAccess);
    }
  })();

  const insertGroup = db.prepare(
    'insert into collaborator_groups (id, workspace_id, name, name_key, description, system, created_at, updated_at) values (?, ?, ?, ?, null, 0, ?, ?)',
  );
  db.transaction(() => {
    for (let g = 1; g <= SIZES.groups; g++)
      insertGroup.run(`ug-bench${g}`, workspaceId, `Group ${g}`, `group ${g}`, created, created);
  })();

  const insertMembership = db.prepare(
    'insert or ignore into group_memberships (workspace_id, group_id, member_id, invitation_id, created_at, expires_at) values (?, ?, ?, null, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 1; i <= SIZES.users; i++) {
      for (let k = 0; k < SIZES.groupsPerUser; k++)
        insertMembership.run(
          workspaceId,
          `ug-bench${1 + pick(SIZES.groups)}`,
          i,
          created,
          expiry(),
        );
    }
  })();

  const insertProject = db.prepare(
    'insert into projects (id, workspace_id, environment_id, name, description, created_at, updated_at) values (?, ?, ?, ?, null, ?, ?)',
  );
  db.transaction(() => {
    for (let p = 1; p <= SIZES.projects; p++)
      insertProject.run(p, workspaceId, dev, `Project ${p}`, created, created);
  })();

  const resources = Object.entries(PROJECT_RESOURCES);
  const insertProjectRole = db.prepare(
    "insert into project_roles (id, workspace_id, name, name_key, config, type, inheritable, created_at, updated_at) values (?, ?, ?, ?, ?, 'custom', 0, ?, ?)",
  );
  db.transaction(() => {
    for (let r = 1; r <= SIZES.roles; r++) {
      const config = {};
      for (const [resource, definition] of resources) {
        if (random() < 0.5) continue;
        config[resource] =
          random() < 0.2
            ? { privileges: 'all' }
            : { privileges: definition.privileges.filter(() => random() < 0.5) };
      }
      insertProjectRole.run(
        `pr-bench${r}`,
        workspaceId,
        `Role ${r}`,
        `role ${r}`,
        JSON.stringify(config),
        created,
        created,
      );
    }
  })();

  const insertGrant = db.prepare(
    'insert or ignore into project_grants (id, workspace_id, project_id, project_role_id, member_id, group_id, created_at, updated_at, expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 1; i <= SIZES.grants; i++) {
      const toGroup = random() < SIZES.groupShare;
      insertGrant.run(
        `pg-bench${i}`,
        workspaceId,
        1 + pick(SIZES.projects),
        `pr-bench${1 + pick(SIZES.roles)}`,
        toGroup ? null : 1 + pick(SIZES.users),
        toGroup ? `ug-bench${1 + pick(SIZES.groups)}` : null,
        created,
        created,
        expiry(),
      );
    }
  })();
  const count = (table) => db.prepare(`select count(*) as n from ${table}`).get().n;
  const counts = {
    members: count('members'),
    groups: count('collaborator_groups'),
    memberships: count('group_memberships'),
    projects: count('projects'),
    project_roles: count('project_roles'),
    project_grants: count('project_grants'),
    group_grants: db
      .prepare('select count(*) as n from project_grants where group_id is not null')
      .get().n,
  };
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return counts;
}
