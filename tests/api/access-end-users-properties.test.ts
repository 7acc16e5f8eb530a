/**
 * The end-user slice of the decision index is kept current one user or group at a time
 * (docs/decisions.md): after any sequence of end-user writes on a running server, its answers
 * must be exactly those of a server that builds its index from scratch on the same database.
 * Random writes (fast-check), then every user × feature question asked of both, with explain.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { PROPERTY_SETUP_TIMEOUT_MS, propertyRuns, propertyTimeout } from '../helpers/property.js';
import type { Roster } from '../helpers/roster.js';

const RUNS = propertyRuns(8);
/** Replays a failure: the seed fast-check printed (ROSTER_PROPERTY_SEED=-1259441679). */
const SEED = process.env.ROSTER_PROPERTY_SEED;
const ENVIRONMENTS = ['dev', 'prod'] as const;
type Environment = (typeof ENVIRONMENTS)[number];

type Command =
  | { kind: 'group'; environment: Environment; user: number; tool: boolean }
  | { kind: 'add'; group: number; user: number }
  | { kind: 'remove'; group: number; user: number }
  | { kind: 'environment'; user: number; environment: Environment; access: boolean }
  | { kind: 'lock' | 'unlock' | 'delete_user'; user: number }
  | { kind: 'grant_group'; feature: number; group: number }
  | { kind: 'grant_user'; feature: number; user: number }
  | {
      kind: 'policy';
      feature: number;
      effect: 'allow' | 'deny' | 'require_approval';
      scope: 'all' | 'users' | 'groups';
      target: number;
    }
  | { kind: 'delete_group'; group: number }
  | { kind: 'revoke_group'; feature: number; group: number }
  | { kind: 'revoke_user'; feature: number; user: number }
  | {
      kind: 'policy_update';
      policy: number;
      effect: 'allow' | 'deny' | 'require_approval';
      scope: 'all' | 'users' | 'groups';
      target: number;
    }
  | { kind: 'policy_delete'; policy: number }
  | { kind: 'delete_feature'; feature: number };

const USERS = 3;
const FEATURES = 3;
const index = fc.nat(7);
const environment = fc.constantFrom(...ENVIRONMENTS);
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('group' as const),
    environment,
    user: index,
    tool: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('add' as const, 'remove' as const),
    group: index,
    user: index,
  }),
  fc.record({
    kind: fc.constant('environment' as const),
    user: index,
    environment,
    access: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('lock' as const, 'unlock' as const, 'delete_user' as const),
    user: index,
  }),
  fc.record({ kind: fc.constant('grant_group' as const), feature: index, group: index }),
  fc.record({ kind: fc.constant('grant_user' as const), feature: index, user: index }),
  fc.record({
    kind: fc.constant('policy' as const),
    feature: index,
    effect: fc.constantFrom('allow' as const, 'deny' as const, 'require_approval' as const),
    scope: fc.constantFrom('all' as const, 'users' as const, 'groups' as const),
    target: index,
  }),
  fc.record({ kind: fc.constant('delete_group' as const), group: index }),
  fc.record({ kind: fc.constant('revoke_group' as const), feature: index, group: index }),
  fc.record({ kind: fc.constant('revoke_user' as const), feature: index, user: index }),
  fc.record({
    kind: fc.constant('policy_update' as const),
    policy: index,
    effect: fc.constantFrom('allow' as const, 'deny' as const, 'require_approval' as const),
    scope: fc.constantFrom('all' as const, 'users' as const, 'groups' as const),
    target: index,
  }),
  fc.record({ kind: fc.constant('policy_delete' as const), policy: index }),
  fc.record({ kind: fc.constant('delete_feature' as const), feature: index }),
);

interface World {
  users: number[];
  groups: number[];
  features: { id: number; env: Environment }[];
  policies: number[];
}

let cluster: Cluster;
let server: Roster;
let run = 0;

beforeAll(async () => {
  cluster = await startCluster({ instances: 1 });
  server = cluster.instances[0] as Roster;
}, PROPERTY_SETUP_TIMEOUT_MS);
afterAll(async () => {
  await cluster.close();
});

const pick = <T>(list: T[], i: number): T | undefined =>
  list.length === 0 ? undefined : list[i % list.length];

/** Applies one command on the running server. Refusals (4xx) are part of the game: ignored. */
async function apply(world: World, c: Command, name: string): Promise<void> {
  const user = 'user' in c ? pick(world.users, c.user) : undefined;
  const group = 'group' in c ? pick(world.groups, c.group) : undefined;
  const feature = 'feature' in c ? pick(world.features, c.feature) : undefined;
  const policy = 'policy' in c ? pick(world.policies, c.policy) : undefined;
  /** A policy's scope for the command: undefined when it names a user or group there is none of. */
  const scopeOf = (command: { scope: 'all' | 'users' | 'groups'; target: number }) => {
    if (command.scope === 'all') return { type: 'all' };
    const id = pick(command.scope === 'users' ? world.users : world.groups, command.target);
    return id === undefined ? undefined : { type: command.scope, ids: [id] };
  };
  switch (c.kind) {
    case 'group': {
      if (user === undefined) return;
      const res = await server.post('/api/end_user_groups', {
        environment_type: c.environment,
        name: `${name} group ${world.groups.length}`,
        end_user_ids: [user],
        ...(c.tool ? { managed_by: 'external' } : {}),
      });
      if (res.status === 201) world.groups.push((res.body as { data: { id: number } }).data.id);
      return;
    }
    case 'add':
    case 'remove':
      if (user === undefined || group === undefined) return;
      await server.request(
        c.kind === 'add' ? 'POST' : 'DELETE',
        `/api/end_user_groups/${group}/members`,
        {
          body: { end_user_ids: [user] },
        },
      );
      return;
    case 'environment':
      if (user === undefined) return;
      await server.put(`/api/end_users/${user}/environments`, {
        environment_type: c.environment,
        access: c.access,
        confirm: true,
      });
      return;
    case 'lock':
    case 'unlock':
      if (user !== undefined) await server.post(`/api/end_users/${user}/${c.kind}`);
      return;
    case 'delete_user':
      if (user !== undefined) await server.delete(`/api/end_users/${user}`);
      return;
    case 'grant_group':
      if (feature !== undefined && group !== undefined)
        await server.post(`/api/features/${feature.id}/access`, { end_user_group_ids: [group] });
      return;
    case 'grant_user':
      if (feature !== undefined && user !== undefined)
        await server.post(`/api/features/${feature.id}/access`, { end_user_ids: [user] });
      return;
    case 'policy': {
      const scope = scopeOf(c);
      if (feature === undefined || scope === undefined) return;
      const res = await server.post('/api/policies', {
        name: `${name} policy ${world.policies.length} ${c.effect}`,
        environment_type: feature.env,
        feature_id: feature.id,
        scope,
        effect: c.effect,
      });
      if (res.status === 201) world.policies.push((res.body as { data: { id: number } }).data.id);
      return;
    }
    case 'delete_group':
      if (group !== undefined) await server.delete(`/api/end_user_groups/${group}`);
      return;
    case 'revoke_group':
      if (feature !== undefined && group !== undefined)
        await server.request('DELETE', `/api/features/${feature.id}/access`, {
          body: { end_user_group_ids: [group] },
        });
      return;
    case 'revoke_user':
      if (feature !== undefined && user !== undefined)
        await server.request('DELETE', `/api/features/${feature.id}/access`, {
          body: { end_user_ids: [user] },
        });
      return;
    case 'policy_update': {
      const scope = scopeOf(c);
      if (policy !== undefined && scope !== undefined)
        await server.request('PATCH', `/api/policies/${policy}`, {
          body: { effect: c.effect, scope },
        });
      return;
    }
    case 'policy_delete':
      if (policy !== undefined) await server.delete(`/api/policies/${policy}`);
      return;
    case 'delete_feature':
      if (feature !== undefined) await server.delete(`/api/features/${feature.id}`);
      return;
  }
}

// A run (3 users, 3 features, up to 14 writes, a fresh instance, 9 questions to each) takes about
// a second on an idle machine: a minute each is a backstop against a hang only.
const timeout = propertyTimeout(RUNS, 60_000);

describe('the end-user slice kept current one write at a time', { timeout }, () => {
  it('answers every user × feature question exactly as an index built from scratch', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray([...ENVIRONMENTS]), { minLength: USERS, maxLength: USERS }),
        fc.array(command, { minLength: 1, maxLength: 14 }),
        async (userEnvironments, commands) => {
          run += 1;
          const name = `run ${run}`;
          const world: World = { users: [], groups: [], features: [], policies: [] };
          for (const [i, environments] of userEnvironments.entries()) {
            const res = await server.post('/api/end_users', {
              name: `${name} user ${i}`,
              email: `user${i}.run${run}@props.example.com`,
              environment_types: environments,
            });
            expect(res.status).toBe(201);
            world.users.push((res.body as { data: { id: number } }).data.id);
          }
          for (let i = 0; i < FEATURES; i++) {
            const env = ENVIRONMENTS[i % ENVIRONMENTS.length] as Environment;
            const res = await server.post('/api/features', {
              environment_type: env,
              kind: 'mcp_server',
              name: `${name} feature ${i}`,
            });
            expect(res.status).toBe(201);
            world.features.push({ id: (res.body as { data: { id: number } }).data.id, env });
          }
          for (const c of commands) await apply(world, c, name);

          const fresh = await cluster.addInstance();
          try {
            for (const user of world.users) {
              for (const feature of world.features) {
                const question = {
                  subject: { end_user_id: user },
                  environment_type: feature.env,
                  feature_id: feature.id,
                  explain: true,
                };
                const [kept, rebuilt] = await Promise.all([
                  server.post('/api/access/check', question),
                  fresh.post('/api/access/check', question),
                ]);
                expect({ status: kept.status, body: kept.body }).toEqual({
                  status: rebuilt.status,
                  body: rebuilt.body,
                });
              }
            }
          } finally {
            await fresh.stop();
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: Number(SEED) }) },
    );
  });
});
