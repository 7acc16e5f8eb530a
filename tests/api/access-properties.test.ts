/**
 * Property: the in-memory index always agrees with a plain SQL evaluation of the same rules
 * (grants, memberships, expiry, and the legacy role that covers every project of its environment).
 * fast-check drives random writes through the HTTP API (memberships and grants with and without
 * expiry, removals, role config changes, environment role changes, clock moves); after each
 * sequence every (member, project or environment, privilege) is asked of the server in one batch
 * and evaluated by the oracle below, straight on the server's database.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEGACY_CATEGORY_MAPPING,
  LEGACY_SYSTEM_ROLE_MIGRATION,
  PROJECT_RESOURCES,
  ENVIRONMENT_RESOURCES,
  SYSTEM_PROJECT_ROLES,
  convertLegacyPrivileges,
} from '@roster/contracts';
import type { Store } from '../../packages/server/src/storage/connect.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { PROPERTY_SETUP_TIMEOUT_MS, propertyRuns, propertyTimeout } from '../helpers/property.js';
import { createMember, type Roster } from '../helpers/roster.js';

const HOUR = 60 * 60 * 1000;
const RUNS = propertyRuns(25);

let cluster: Cluster;
let server: Roster;
let store: Store;
let workspaceId: number;
const members: number[] = [];
const groups: string[] = [];
const projects: number[] = [];
const roles: string[] = [];

/** The pairs a check can name: every catalogue privilege, plus one no role has. */
const PROJECT_CHECKS = [
  ...Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
    def.privileges.map((privilege) => ({ resource, privilege })),
  ),
  { resource: 'recipe', privilege: 'fly' },
];
const ENVIRONMENT_CHECKS = [
  { resource: 'team', privilege: 'invite' },
  { resource: 'manage_projects', privilege: 'read' },
  { resource: 'folder', privilege: 'view' },
  { resource: 'recipe', privilege: 'run' },
  { resource: 'audit_log', privilege: 'read' },
];

// --- the oracle: the rules, in SQL, on the same database ------------------------------------

type Config = Record<string, { privileges: 'all' | string[] }>;

function configAllows(
  config: Config,
  resource: string,
  privilege: string,
  catalogue: typeof PROJECT_RESOURCES,
): boolean {
  const entry = config[resource];
  if (entry === undefined) return false;
  const list =
    entry.privileges === 'all' ? (catalogue[resource]?.privileges ?? ['all']) : entry.privileges;
  return list.includes(privilege);
}

async function oracleProjectConfigs(memberId: number, now: string): Promise<Map<number, Config[]>> {
  const rows = await sql<{ project_id: number | string; config: string }>`
    select g.project_id, r.config
    from project_grants g
    join project_roles r on r.id = g.project_role_id
    where g.workspace_id = ${workspaceId}
      and (g.expires_at is null or g.expires_at > ${now})
      and (
        g.member_id = ${memberId}
        or g.group_id in (
          select gm.group_id from group_memberships gm
          where gm.member_id = ${memberId} and (gm.expires_at is null or gm.expires_at > ${now}))
        or g.group_id in (select cg.id from collaborator_groups cg where cg.workspace_id = ${workspaceId} and cg.system = 1)
      )`.execute(store.db);
  const byProject = new Map<number, Config[]>();
  const add = (projectId: number, config: Config) => {
    const list = byProject.get(projectId) ?? [];
    list.push(config);
    byProject.set(projectId, list);
  };
  for (const row of rows.rows) add(Number(row.project_id), JSON.parse(row.config) as Config);
  // A legacy role covers every project of its environment with what the migration would grant.
  const legacy = await sql<{
    project_id: number | string;
    name: string;
    system: number | string;
    privileges: string;
  }>`
    select p.id as project_id, lr.name, lr.system, lr.privileges
    from member_environment_roles mer
    join legacy_roles lr on lr.id = mer.legacy_role_id
    join projects p on p.environment_id = mer.environment_id
    where mer.member_id = ${memberId} and mer.role_type = 'privilege_group'`.execute(store.db);
  for (const row of legacy.rows) {
    const migration = Number(row.system) === 1 ? LEGACY_SYSTEM_ROLE_MIGRATION[row.name] : undefined;
    const config =
      migration === null
        ? {}
        : migration !== undefined
          ? (SYSTEM_PROJECT_ROLES[migration.project_role] ?? {})
          : convertLegacyPrivileges(JSON.parse(row.privileges) as Record<string, string[]>).project;
    add(Number(row.project_id), config);
  }
  return byProject;
}

async function oracleEnvironmentAllows(
  memberId: number,
  resource: string,
  privilege: string,
): Promise<boolean> {
  const rows = await sql<{ role_type: string; privileges: string | null; config: string | null }>`
    select mer.role_type, lr.privileges, er.config
    from member_environment_roles mer
    join environments e on e.id = mer.environment_id
    left join legacy_roles lr on lr.id = mer.legacy_role_id
    left join environment_roles er on er.id = mer.environment_role_id
    where mer.member_id = ${memberId} and e.type = 'dev'`.execute(store.db);
  const row = rows.rows[0];
  if (row === undefined) return false;
  if (row.role_type === 'environment') {
    return configAllows(
      JSON.parse(row.config ?? '{}') as Config,
      resource,
      privilege,
      ENVIRONMENT_RESOURCES,
    );
  }
  const legacy = JSON.parse(row.privileges ?? '{}') as Record<string, string[]>;
  return Object.entries(legacy).some(([category, list]) => {
    const mapping = (
      LEGACY_CATEGORY_MAPPING as Record<
        string,
        { resource: string; rename?: Record<string, string> }
      >
    )[category];
    if (category !== resource && mapping?.resource !== resource) return false;
    return list.some((p) => p === privilege || mapping?.rename?.[p] === privilege);
  });
}

// --- random writes ----------------------------------------------------------------------------

const configArb = fc.dictionary(
  fc.constantFrom(...Object.keys(PROJECT_RESOURCES)),
  fc.oneof(
    fc.constant({ privileges: 'all' as const }),
    fc.record({
      privileges: fc.subarray(
        ['read', 'create', 'update', 'delete', 'run', 'view', 'manage', 'all', 'deploy'],
        { minLength: 1 },
      ),
    }),
  ),
  { minKeys: 1, maxKeys: 3 },
);
/** Expiry at half-hours, clock moves in whole hours: no check ever lands on an expiry instant. */
const expiryArb = fc.option(
  fc.integer({ min: -2, max: 4 }).map((h) => h * HOUR + HOUR / 2),
  { nil: undefined },
);

type Command =
  | { kind: 'join'; group: number; member: number; expiresIn: number | undefined }
  | { kind: 'leave'; group: number; member: number }
  | {
      kind: 'grant';
      project: number;
      toGroup: boolean;
      assignee: number;
      role: number;
      expiresIn: number | undefined;
    }
  | { kind: 'revoke'; pick: number }
  | { kind: 'reconfigure'; role: number; config: Config }
  | { kind: 'environment_role'; member: number; name: string }
  | { kind: 'advance'; hours: number };

const index = fc.nat({ max: 99 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('join' as const),
    group: index,
    member: index,
    expiresIn: expiryArb,
  }),
  fc.record({ kind: fc.constant('leave' as const), group: index, member: index }),
  fc.record({
    kind: fc.constant('grant' as const),
    project: index,
    toGroup: fc.boolean(),
    assignee: index,
    role: index,
    expiresIn: expiryArb,
  }),
  fc.record({ kind: fc.constant('revoke' as const), pick: index }),
  fc.record({ kind: fc.constant('reconfigure' as const), role: index, config: configArb }),
  fc.record({
    kind: fc.constant('environment_role' as const),
    member: index,
    name: fc.constantFrom('Admin', 'Analyst', 'Operator', 'No access'),
  }),
  fc.record({ kind: fc.constant('advance' as const), hours: fc.integer({ min: 1, max: 3 }) }),
);

const at = <T>(list: T[], i: number): T => list[i % list.length] as T;
const inFuture = (ms: number) => new Date(server.clock.now().getTime() + ms).toISOString();

async function run(command: Command): Promise<void> {
  let status: number;
  switch (command.kind) {
    case 'join': {
      const res = await server.post(`/api/user_groups/${at(groups, command.group)}/members`, {
        user_ids: [at(members, command.member)],
        ...(command.expiresIn === undefined ? {} : { expires_at: inFuture(command.expiresIn) }),
      });
      status = res.status;
      break;
    }
    case 'leave':
      status = (
        await server.delete(
          `/api/user_groups/${at(groups, command.group)}/members?user_ids[]=${at(members, command.member)}`,
        )
      ).status;
      break;
    case 'grant': {
      const item = {
        assignment_type: command.toGroup ? 'UserGroup' : 'User',
        assignment_id: command.toGroup
          ? at(groups, command.assignee)
          : String(at(members, command.assignee)),
        project_role_id: at(roles, command.role),
        ...(command.expiresIn === undefined ? {} : { expires_at: inFuture(command.expiresIn) }),
      };
      status = (
        await server.put(`/api/projects/${at(projects, command.project)}/project_grants`, {
          project_grants: [item],
        })
      ).status;
      break;
    }
    case 'revoke': {
      const grants = await sql<{
        id: string;
      }>`select id from project_grants where workspace_id = ${workspaceId} order by id`.execute(
        store.db,
      );
      if (grants.rows.length === 0) return;
      status = (await server.delete(`/api/project_grants/${at(grants.rows, command.pick).id}`))
        .status;
      break;
    }
    case 'reconfigure': {
      const id = at(roles, command.role);
      const current = await server.get(`/api/project_roles/${id}`);
      status = (
        await server.put(`/api/project_roles/${id}`, {
          project_role: { name: current.body.data.name, config: command.config },
        })
      ).status;
      break;
    }
    case 'environment_role':
      status = (
        await server.put(`/api/members/${at(members, command.member)}`, {
          env_roles: [{ environment_type: 'dev', name: command.name }],
        })
      ).status;
      break;
    case 'advance':
      server.clock.advance(command.hours * HOUR);
      return;
  }
  // Refusals (a duplicate, a missing membership) are fine; the server must never fail.
  expect(status).toBeLessThan(500);
}

async function compareAll(): Promise<void> {
  const checks: {
    subject: { member_id: number };
    project_id?: number;
    environment_type?: string;
    resource: string;
    privilege: string;
  }[] = [];
  for (const member of members) {
    for (const project of projects)
      for (const c of PROJECT_CHECKS)
        checks.push({ subject: { member_id: member }, project_id: project, ...c });
    for (const c of ENVIRONMENT_CHECKS)
      checks.push({ subject: { member_id: member }, environment_type: 'dev', ...c });
  }
  const now = server.clock.now().toISOString();
  const res = await server.post('/api/access/check_batch', { checks });
  expect(res.status).toBe(200);
  const expected: boolean[] = [];
  for (const member of members) {
    const configs = await oracleProjectConfigs(member, now);
    for (const project of projects) {
      for (const c of PROJECT_CHECKS) {
        expected.push(
          (configs.get(project) ?? []).some((config) =>
            configAllows(config, c.resource, c.privilege, PROJECT_RESOURCES),
          ),
        );
      }
    }
    for (const c of ENVIRONMENT_CHECKS)
      expected.push(await oracleEnvironmentAllows(member, c.resource, c.privilege));
  }
  const actual = (res.body.data as { allowed: boolean }[]).map((d) => d.allowed);
  const disagreements = checks
    .filter((_, i) => actual[i] !== expected[i])
    .map((c, i) => ({ ...c, index: i }));
  expect(disagreements).toEqual([]);
}

beforeAll(async () => {
  cluster = await startCluster();
  server = cluster.instances[0] as Roster;
  store = cluster.openDatabase();
  const ws = await sql<{
    id: number | string;
  }>`select id from workspaces order by id limit 1`.execute(store.db);
  workspaceId = Number(ws.rows[0]?.id);
  for (let i = 0; i < 3; i++) {
    const role = await server.post('/api/project_roles', {
      project_role: { name: `Property role ${i}`, config: { recipe: { privileges: ['read'] } } },
    });
    roles.push(role.body.data.id);
    const group = await server.post('/api/user_groups', {
      user_group: { name: `Property group ${i}` },
    });
    groups.push(group.body.data.id);
    const project = await server.post('/api/projects', {
      name: `Property project ${i}`,
      environment_type: i === 2 ? 'test' : 'dev',
    });
    projects.push(project.body.data.id);
  }
  const all = await server.get('/api/user_groups');
  groups.push(all.body.data.find((g: { system: boolean }) => g.system).id);
  for (let i = 0; i < 4; i++)
    members.push((await createMember(server, { email: `property${i}@example.com` })).id);
}, PROPERTY_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await store.close();
  await cluster.close();
});

// A run (up to 8 writes, then one batch of every question and the SQL oracle) takes a fraction of
// a second on an idle machine: half a minute each is a backstop against a hang only.
const timeout = propertyTimeout(RUNS, 30_000);

describe('the access index', { timeout }, () => {
  it('agrees with a plain SQL evaluation after any sequence of writes and clock moves', async () => {
    await compareAll();
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 8 }), async (commands) => {
        for (const command of commands) await run(command);
        await compareAll();
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
