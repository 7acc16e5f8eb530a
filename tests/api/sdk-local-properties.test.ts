/**
 * Property: the SDK's local authorizer (packages/sdk, createLocalAuthorizer) answers every check
 * exactly as the server does, answer and explanation, once it has caught up with the change
 * stream, without loading the snapshot again (the changes' rows are applied, GET
 * /api/access/snapshot/changes). fast-check drives random writes through the HTTP API on both sides of the model
 * (collaborators: memberships and grants with and without expiry, revocations, role configs,
 * environment roles, clock moves; end users: groups, environment access, locks, feature grants,
 * policies, deletions). One authorizer follows the stream through every run; after each write
 * it waits for the last audit event, then every member × project × privilege, member × environment
 * privilege and end user × feature question is asked of both, with explain.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_RESOURCES } from '@roster/contracts';
import { createLocalAuthorizer, type LocalAuthorizer } from '../../packages/sdk/src/index.js';
import { PROPERTY_SETUP_TIMEOUT_MS, propertyRuns, propertyTimeout } from '../helpers/property.js';
import { ADMIN_TOKEN, createMember, startRoster, type Roster } from '../helpers/roster.js';

const HOUR = 60 * 60 * 1000;
const RUNS = propertyRuns(12);
/** Replays a failure: the seed fast-check printed (ROSTER_PROPERTY_SEED=…). */
const SEED = process.env.ROSTER_PROPERTY_SEED;
const ENVIRONMENTS = ['dev', 'prod'] as const;
type Environment = (typeof ENVIRONMENTS)[number];

const PROJECT_CHECKS = [
  ...Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
    def.privileges.slice(0, 3).map((privilege) => ({ resource, privilege })),
  ),
];
const ENVIRONMENT_CHECKS = [
  { resource: 'team', privilege: 'invite' },
  { resource: 'folder', privilege: 'view' },
  { resource: 'recipe', privilege: 'run' },
];

type Command =
  | { kind: 'join'; group: number; member: number; expiresIn: number | null }
  | { kind: 'leave'; group: number; member: number }
  | {
      kind: 'grant';
      project: number;
      role: number;
      assignee: number;
      toGroup: boolean;
      expiresIn: number | null;
    }
  | { kind: 'revoke'; project: number; pick: number }
  | { kind: 'reconfigure'; role: number; resource: string; all: boolean }
  | { kind: 'environment_role'; member: number; name: string }
  | { kind: 'advance'; hours: number }
  | { kind: 'eu_group'; environment: Environment; user: number }
  | { kind: 'eu_add' | 'eu_remove'; group: number; user: number }
  | { kind: 'eu_environment'; user: number; environment: Environment; access: boolean }
  | { kind: 'lock' | 'unlock'; user: number }
  | { kind: 'feature_grant'; feature: number; user: number; toGroup: boolean }
  | {
      kind: 'policy';
      feature: number;
      effect: 'allow' | 'deny' | 'require_approval';
      scope: 'all' | 'users' | 'groups';
      target: number;
    };

const index = fc.nat(7);
const environment = fc.constantFrom(...ENVIRONMENTS);
const expiry = fc.option(fc.integer({ min: -1, max: 3 }).map((h) => h * HOUR + HOUR / 2));
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('join' as const), group: index, member: index, expiresIn: expiry }),
  fc.record({ kind: fc.constant('leave' as const), group: index, member: index }),
  fc.record({
    kind: fc.constant('grant' as const),
    project: index,
    role: index,
    assignee: index,
    toGroup: fc.boolean(),
    expiresIn: expiry,
  }),
  fc.record({ kind: fc.constant('revoke' as const), project: index, pick: index }),
  fc.record({
    kind: fc.constant('reconfigure' as const),
    role: index,
    resource: fc.constantFrom(...Object.keys(PROJECT_RESOURCES)),
    all: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('environment_role' as const),
    member: index,
    name: fc.constantFrom('Admin', 'Analyst', 'Operator', 'No access'),
  }),
  fc.record({ kind: fc.constant('advance' as const), hours: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('eu_group' as const), environment, user: index }),
  fc.record({
    kind: fc.constantFrom('eu_add' as const, 'eu_remove' as const),
    group: index,
    user: index,
  }),
  fc.record({
    kind: fc.constant('eu_environment' as const),
    user: index,
    environment,
    access: fc.boolean(),
  }),
  fc.record({ kind: fc.constantFrom('lock' as const, 'unlock' as const), user: index }),
  fc.record({
    kind: fc.constant('feature_grant' as const),
    feature: index,
    user: index,
    toGroup: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('policy' as const),
    feature: index,
    effect: fc.constantFrom('allow' as const, 'deny' as const, 'require_approval' as const),
    scope: fc.constantFrom('all' as const, 'users' as const, 'groups' as const),
    target: index,
  }),
);

let server: Roster;
let local: LocalAuthorizer;
const world = {
  members: [] as number[],
  groups: [] as string[],
  projects: [] as number[],
  roles: [] as string[],
  users: [] as number[],
  userGroups: [] as number[],
  features: [] as { id: number; env: Environment }[],
};
const at = <T>(list: T[], i: number): T | undefined =>
  list.length === 0 ? undefined : list[i % list.length];
const inFuture = (ms: number) => new Date(server.clock.now().getTime() + ms).toISOString();

async function apply(c: Command, name: string): Promise<number> {
  switch (c.kind) {
    case 'join':
      return (
        await server.post(`/api/user_groups/${at(world.groups, c.group)}/members`, {
          user_ids: [at(world.members, c.member)],
          ...(c.expiresIn === null ? {} : { expires_at: inFuture(c.expiresIn) }),
        })
      ).status;
    case 'leave':
      return (
        await server.delete(
          `/api/user_groups/${at(world.groups, c.group)}/members?user_ids[]=${at(world.members, c.member)}`,
        )
      ).status;
    case 'grant':
      return (
        await server.put(`/api/projects/${at(world.projects, c.project)}/project_grants`, {
          project_grants: [
            {
              assignment_type: c.toGroup ? 'UserGroup' : 'User',
              assignment_id: c.toGroup
                ? at(world.groups, c.assignee)
                : String(at(world.members, c.assignee)),
              project_role_id: at(world.roles, c.role),
              ...(c.expiresIn === null ? {} : { expires_at: inFuture(c.expiresIn) }),
            },
          ],
        })
      ).status;
    case 'revoke': {
      const listed = await server.get(
        `/api/projects/${at(world.projects, c.project)}/project_grants`,
      );
      const grant = at(listed.body.data as { id: string }[], c.pick);
      if (grant === undefined) return 200;
      return (await server.delete(`/api/project_grants/${grant.id}`)).status;
    }
    case 'reconfigure': {
      const id = at(world.roles, c.role);
      const current = await server.get(`/api/project_roles/${id}`);
      const privileges = PROJECT_RESOURCES[c.resource]?.privileges ?? [];
      return (
        await server.put(`/api/project_roles/${id}`, {
          project_role: {
            name: current.body.data.name,
            config: { [c.resource]: { privileges: c.all ? 'all' : privileges.slice(0, 1) } },
          },
        })
      ).status;
    }
    case 'environment_role':
      return (
        await server.put(`/api/members/${at(world.members, c.member)}`, {
          env_roles: [{ environment_type: 'dev', name: c.name }],
        })
      ).status;
    case 'advance':
      server.clock.advance(c.hours * HOUR);
      return 200;
    case 'eu_group': {
      const res = await server.post('/api/end_user_groups', {
        environment_type: c.environment,
        name: `${name} group ${world.userGroups.length}`,
        end_user_ids: [at(world.users, c.user)],
      });
      if (res.status === 201) world.userGroups.push((res.body as { data: { id: number } }).data.id);
      return res.status;
    }
    case 'eu_add':
    case 'eu_remove': {
      const group = at(world.userGroups, c.group);
      if (group === undefined) return 200;
      return (
        await server.request(
          c.kind === 'eu_add' ? 'POST' : 'DELETE',
          `/api/end_user_groups/${group}/members`,
          { body: { end_user_ids: [at(world.users, c.user)] } },
        )
      ).status;
    }
    case 'eu_environment':
      return (
        await server.put(`/api/end_users/${at(world.users, c.user)}/environments`, {
          environment_type: c.environment,
          access: c.access,
          confirm: true,
        })
      ).status;
    case 'lock':
    case 'unlock':
      return (await server.post(`/api/end_users/${at(world.users, c.user)}/${c.kind}`)).status;
    case 'feature_grant': {
      const feature = at(world.features, c.feature);
      const group = at(world.userGroups, c.user);
      if (feature === undefined) return 200;
      if (c.toGroup && group === undefined) return 200;
      return (
        await server.post(
          `/api/features/${feature.id}/access`,
          c.toGroup ? { end_user_group_ids: [group] } : { end_user_ids: [at(world.users, c.user)] },
        )
      ).status;
    }
    case 'policy': {
      const feature = at(world.features, c.feature);
      if (feature === undefined) return 200;
      const target = at(c.scope === 'users' ? world.users : world.userGroups, c.target);
      if (c.scope !== 'all' && target === undefined) return 200;
      return (
        await server.post('/api/policies', {
          name: `${name} policy ${c.effect}`,
          environment_type: feature.env,
          feature_id: feature.id,
          scope: c.scope === 'all' ? { type: 'all' } : { type: c.scope, ids: [target] },
          effect: c.effect,
        })
      ).status;
    }
  }
}

/** Every question of the world, asked with explain. */
function questions(): Record<string, unknown>[] {
  const checks: Record<string, unknown>[] = [];
  for (const member of world.members) {
    for (const project of world.projects)
      for (const c of PROJECT_CHECKS)
        checks.push({ subject: { member_id: member }, project_id: project, ...c, explain: true });
    for (const c of ENVIRONMENT_CHECKS)
      checks.push({ subject: { member_id: member }, environment_type: 'dev', ...c, explain: true });
  }
  for (const user of world.users)
    for (const feature of world.features)
      for (const tool of [null, 'deploy'])
        checks.push({
          subject: { end_user_id: user },
          environment_type: feature.env,
          feature_id: feature.id,
          tool,
          explain: true,
        });
  // One that cannot be answered: its error must be the server's too.
  checks.push({
    subject: { member_id: 999_999 },
    environment_type: 'dev',
    ...ENVIRONMENT_CHECKS[0],
  });
  return checks;
}

async function compareAll(): Promise<void> {
  const last = (await server.get('/api/audit_events?page[size]=1')).body.data[0].id as number;
  await local.waitFor(last, 10_000);
  const checks = questions();
  const res = await server.post('/api/access/check_batch', { checks });
  expect(res.status).toBe(200);
  // The batch endpoint takes at most 1,000 checks; the world stays below that.
  expect(checks.length).toBeLessThanOrEqual(1_000);
  const mine = local.checkBatch(checks as Parameters<LocalAuthorizer['checkBatch']>[0]);
  const differences = checks
    .map((check, i) => ({ check, server: res.body.data[i], local: mine[i] }))
    .filter((d) => JSON.stringify(d.server) !== JSON.stringify(d.local));
  expect(differences.slice(0, 3)).toEqual([]);
}

beforeAll(async () => {
  server = await startRoster();
  for (let i = 0; i < 2; i++) {
    const role = await server.post('/api/project_roles', {
      project_role: { name: `SDK role ${i}`, config: { recipe: { privileges: ['read'] } } },
    });
    world.roles.push(role.body.data.id);
    const group = await server.post('/api/user_groups', { user_group: { name: `SDK group ${i}` } });
    world.groups.push(group.body.data.id);
    const project = await server.post('/api/projects', {
      name: `SDK project ${i}`,
      environment_type: i === 1 ? 'test' : 'dev',
    });
    world.projects.push(project.body.data.id);
  }
  const all = await server.get('/api/user_groups');
  world.groups.push(all.body.data.find((g: { system: boolean }) => g.system).id);
  for (let i = 0; i < 3; i++)
    world.members.push((await createMember(server, { email: `sdk${i}@example.com` })).id);
  for (let i = 0; i < 3; i++) {
    const res = await server.post('/api/end_users', {
      name: `SDK user ${i}`,
      email: `sdk-user${i}@example.com`,
      environment_types: i === 2 ? ['prod'] : ['dev', 'prod'],
    });
    world.users.push(res.body.data.id);
  }
  for (let i = 0; i < 2; i++) {
    const env = ENVIRONMENTS[i] as Environment;
    const res = await server.post('/api/features', {
      environment_type: env,
      kind: 'mcp_server',
      name: `SDK feature ${i}`,
    });
    world.features.push({ id: res.body.data.id, env });
  }
  local = await createLocalAuthorizer({
    baseUrl: server.url,
    token: ADMIN_TOKEN,
    nowMs: () => server.clock.now().getTime(),
  });
}, PROPERTY_SETUP_TIMEOUT_MS);

afterAll(async () => {
  local.close();
  await server.close();
});

const timeout = propertyTimeout(RUNS, 60_000);

describe('the SDK local authorizer', { timeout }, () => {
  it('answers every check as the server does, with the same explanation, once the stream has caught up', async () => {
    await compareAll();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 10 }), async (commands) => {
        run += 1;
        for (const command of commands) {
          // Refusals (a duplicate, a missing membership) are part of the game; a 5xx is not.
          expect(await apply(command, `run ${run}`)).toBeLessThan(500);
          // After each write, and from its changed rows alone: no snapshot is loaded again.
          await compareAll();
          expect(local.stats.fullReloads).toBe(0);
        }
      }),
      { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: Number(SEED) }) },
    );
    // Followed incrementally: the first snapshot only, and the changes applied row by row.
    expect(local.stats.reloads).toBe(1);
    expect(local.stats.deltas).toBeGreaterThan(0);
  });
});
