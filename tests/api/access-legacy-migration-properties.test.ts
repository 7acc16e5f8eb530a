/**
 * Property: migrating the legacy system roles changes no one's project access, except the
 * moderators the migration reports. fast-check builds random legacy workspaces (each run its own
 * workspace, made with the platform API): projects in DEV, TEST and PROD, custom legacy roles,
 * collaborators holding a system or custom legacy role per environment (some of them moderators),
 * groups, and project grants to collaborators, groups and "All collaborators". Before and after
 * `POST /api/roles_migration/system_roles`, every collaborator's effective project privileges are
 * read twice over, through GET /api/members/:id/projects_privileges and through a check_batch of
 * every (project, privilege); anyone whose answers differ must be one of the plan's `moderators`
 * (the dry run's plan, which must equal the applied one). Then each custom legacy role (some
 * selecting projects) is migrated with `POST /api/roles_migration/custom_role`, changing no one's.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_CATEGORY_MAPPING,
  PROJECT_RESOURCES,
} from '@roster/contracts';
import type { Store } from '../../packages/server/src/storage/connect.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { PLATFORM_TOKEN, createMember, type Roster } from '../helpers/roster.js';

const RUNS = Number(process.env.ROSTER_PROPERTY_RUNS ?? 12);
/** Replays a failure: the seed fast-check printed (ROSTER_PROPERTY_SEED=-1259441679). */
const SEED = process.env.ROSTER_PROPERTY_SEED;
const ENVIRONMENTS = ['dev', 'test', 'prod'] as const;
const SYSTEM_ROLES = ['Admin', 'Analyst', 'Operator', 'No access'] as const;

let cluster: Cluster;
let server: Roster;
let store: Store;
let workspaces = 0;

beforeAll(async () => {
  cluster = await startCluster();
  server = cluster.instances[0] as Roster;
  store = cluster.openDatabase();
}, 120_000);

afterAll(async () => {
  await store.close();
  await cluster.close();
});

/** Every catalogue privilege a project check can name. */
const PROJECT_CHECKS = Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
  def.privileges.map((privilege) => ({ resource, privilege })),
);

/** Each legacy category with the privilege names it takes (legacy spelling: Folders say `read`). */
const LEGACY_NAMES = Object.entries(LEGACY_CATEGORY_MAPPING).map(([category, mapping]) => {
  const catalogue = mapping.scope === 'project' ? PROJECT_RESOURCES : ENVIRONMENT_RESOURCES;
  const legacyName = Object.fromEntries(
    Object.entries(mapping.rename ?? {}).map(([legacy, current]) => [current, legacy]),
  );
  const names = (catalogue[mapping.resource]?.privileges ?? []).map((p) => legacyName[p] ?? p);
  return { category, names: [...new Set([...names, 'all'])] };
});

const legacyPrivilegesArb = fc
  .subarray(LEGACY_NAMES, { minLength: 1, maxLength: 4 })
  .chain((categories) =>
    fc
      .tuple(...categories.map((c) => fc.subarray(c.names, { minLength: 1 })))
      .map((lists) => Object.fromEntries(categories.map((c, i) => [c.category, lists[i] ?? []]))),
  );

/** A valid project role config: 1 to 3 resources, each `all` or some of its own privileges. */
const projectConfigArb = fc
  .subarray(Object.entries(PROJECT_RESOURCES), { minLength: 1, maxLength: 3 })
  .chain((resources) =>
    fc
      .tuple(
        ...resources.map(([, def]) =>
          fc.oneof(
            fc.constant({ privileges: 'all' as const }),
            fc.record({ privileges: fc.subarray([...def.privileges], { minLength: 1 }) }),
          ),
        ),
      )
      .map((entries) => Object.fromEntries(resources.map(([key], i) => [key, entries[i]]))),
  );

/** A role choice: a system role, or custom role number n (No access when there is no such role). */
const roleChoiceArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<string>(...SYSTEM_ROLES) },
  { weight: 1, arbitrary: fc.nat({ max: 1 }).map((n) => `custom:${n}`) },
);

const setupArb = fc.record({
  projects: fc.array(fc.constantFrom(...ENVIRONMENTS), { minLength: 1, maxLength: 5 }),
  customRoles: fc.array(
    fc.record({
      privileges: legacyPrivilegesArb,
      /** The projects it selects (by index); absent: all of them. */
      selects: fc.option(fc.array(fc.nat({ max: 4 }), { maxLength: 3 }), { nil: undefined }),
    }),
    { maxLength: 2 },
  ),
  members: fc.array(
    fc.record({
      roles: fc.tuple(roleChoiceArb, roleChoiceArb, roleChoiceArb),
      moderator: fc.oneof(
        { weight: 3, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  projectRoles: fc.array(projectConfigArb, { minLength: 1, maxLength: 2 }),
  groups: fc.array(fc.array(fc.nat({ max: 3 }), { maxLength: 3 }), { maxLength: 2 }),
  grants: fc.array(
    fc.record({
      project: fc.nat({ max: 4 }),
      /** 0: a collaborator, 1: a group, 2: "All collaborators". */
      to: fc.nat({ max: 2 }),
      assignee: fc.nat({ max: 3 }),
      role: fc.nat({ max: 1 }),
      expires: fc.boolean(),
    }),
    { maxLength: 5 },
  ),
});
type Setup = typeof setupArb extends fc.Arbitrary<infer T> ? T : never;

const at = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

/** The test server, speaking as one workspace's admin token. */
function as(token: string): Roster {
  const pick = (t: string | null | undefined) => (t === undefined ? token : t);
  return {
    ...server,
    get: (p, t) => server.get(p, pick(t)),
    post: (p, body, t) => server.post(p, body, pick(t)),
    put: (p, body, t) => server.put(p, body, pick(t)),
  };
}

interface World {
  api: Roster;
  members: number[];
  projects: number[];
  customRoles: number[];
}

async function build(setup: Setup): Promise<World> {
  workspaces += 1;
  const created = await server.post(
    '/platform/workspaces',
    { name: `Legacy property ${workspaces}` },
    PLATFORM_TOKEN,
  );
  expect(created.status).toBe(201);
  const api = as(created.body.data.admin_token as string);
  const ok = (res: { status: number; text: string }) => {
    if (res.status >= 300) throw new Error(`setup write failed: ${res.status} ${res.text}`);
  };

  const projects: number[] = [];
  for (const [i, environment_type] of setup.projects.entries()) {
    const res = await api.post('/api/projects', { name: `Project ${i}`, environment_type });
    ok(res);
    projects.push(res.body.data.id as number);
  }
  const customNames: string[] = [];
  const customRoles: number[] = [];
  for (const [i, role] of setup.customRoles.entries()) {
    const name = `W${workspaces} custom ${i}`;
    const res = await api.post('/api/roles', {
      role: {
        name,
        privileges: role.privileges,
        ...(role.selects === undefined
          ? {}
          : { project_ids: role.selects.map((p) => at(projects, p)) }),
      },
    });
    ok(res);
    customNames.push(name);
    customRoles.push(res.body.data.id as number);
  }
  const roleName = (choice: string) => {
    if (!choice.startsWith('custom:')) return choice;
    return customNames[Number(choice.slice('custom:'.length))] ?? 'No access';
  };
  const members: number[] = [];
  for (const [i, m] of setup.members.entries()) {
    const person = await createMember(api, {
      email: `w${workspaces}-member${i}@example.com`,
      env_roles: ENVIRONMENTS.map((environment_type, e) => ({
        environment_type,
        name: roleName(m.roles[e] ?? 'No access'),
      })),
    });
    members.push(person.id);
    // No API makes a moderator (the reference's federation managers come from elsewhere).
    if (m.moderator)
      await sql`update members set grant_type = 'federation_manager' where id = ${person.id}`.execute(
        store.db,
      );
  }
  const roles: string[] = [];
  for (const [i, config] of setup.projectRoles.entries()) {
    const res = await api.post('/api/project_roles', {
      project_role: { name: `Role ${i}`, config },
    });
    ok(res);
    roles.push(res.body.data.id as string);
  }
  const groups: string[] = [];
  for (const [i, memberPicks] of setup.groups.entries()) {
    const res = await api.post('/api/user_groups', { user_group: { name: `Group ${i}` } });
    ok(res);
    const id = res.body.data.id as string;
    groups.push(id);
    const userIds = [...new Set(memberPicks.map((p) => at(members, p)))];
    if (userIds.length > 0)
      ok(await api.post(`/api/user_groups/${id}/members`, { user_ids: userIds }));
  }
  const everyone = (await api.get('/api/user_groups')).body.data.find(
    (g: { system: boolean }) => g.system,
  ).id as string;
  for (const g of setup.grants) {
    const toGroup = g.to === 2 || (g.to === 1 && groups.length > 0);
    const item = {
      assignment_type: toGroup ? 'UserGroup' : 'User',
      assignment_id: !toGroup
        ? String(at(members, g.assignee))
        : g.to === 2
          ? everyone
          : at(groups, g.assignee),
      project_role_id: at(roles, g.role),
      ...(g.expires
        ? { expires_at: new Date(server.clock.now().getTime() + 86_400_000).toISOString() }
        : {}),
    };
    const res = await api.put(`/api/projects/${at(projects, g.project)}/project_grants`, {
      project_grants: [item],
    });
    // The same role twice on one project for one assignee is refused: fine, nothing changes.
    expect(res.status).toBeLessThan(500);
  }
  return { api, members, projects, customRoles };
}

/**
 * Labels and privilege lists in a fixed order (the union's order depends on grant times), and
 * without projects where nothing is allowed: migrating a custom role whose privileges are all
 * environment ones grants a project role that allows nothing, listed as `{}`.
 */
function normalized(data: { projects: Record<string, Record<string, string[]>> }[]) {
  const projects: Record<string, Record<string, string[]>> = {};
  for (const entry of data)
    for (const [id, privileges] of Object.entries(entry.projects))
      if (Object.keys(privileges).length > 0)
        projects[id] = Object.fromEntries(
          Object.entries(privileges)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([label, list]) => [label, [...list].sort()]),
        );
  return projects;
}

/** Each member's effective project privileges, listed and checked one by one. */
async function snapshot(world: World): Promise<Map<number, unknown>> {
  const result = new Map<number, unknown>();
  for (const member of world.members) {
    const listed = await world.api.get(`/api/members/${member}/projects_privileges`);
    expect(listed.status).toBe(200);
    const checks = world.projects.flatMap((project_id) =>
      PROJECT_CHECKS.map((c) => ({ subject: { member_id: member }, project_id, ...c })),
    );
    const checked = await world.api.post('/api/access/check_batch', { checks });
    expect(checked.status).toBe(200);
    result.set(member, {
      listed: normalized(listed.body.data),
      checked: (checked.body.data as { allowed: boolean }[]).map((d) => d.allowed),
    });
  }
  return result;
}

describe('migrating legacy system roles', () => {
  it('keeps every collaborator’s project privileges, except the moderators it reports', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, async (setup) => {
        const world = await build(setup);
        const before = await snapshot(world);

        const dryRun = await world.api.post('/api/roles_migration/system_roles?dry_run=true');
        expect(dryRun.status).toBe(200);
        const applied = await world.api.post('/api/roles_migration/system_roles');
        expect(applied.status).toBe(200);
        expect(applied.body).toEqual(dryRun.body);

        const after = await snapshot(world);
        const reported = new Set(
          (dryRun.body.data.moderators as { user_id: number }[]).map((m) => m.user_id),
        );
        const changed = world.members.filter(
          (m) => JSON.stringify(before.get(m)) !== JSON.stringify(after.get(m)),
        );
        expect(changed.filter((m) => !reported.has(m))).toEqual([]);
        // And the plan reports only moderators: the others' answers must be identical.
        for (const m of world.members.filter((id) => !reported.has(id)))
          expect(after.get(m)).toEqual(before.get(m));

        // Custom roles (some selecting projects) migrate one by one, changing no one's access.
        let current = after;
        for (const [i, id] of world.customRoles.entries()) {
          const migrated = await world.api.post('/api/roles_migration/custom_role', {
            privilege_group_id: id,
            environment_role: { name: `Custom environment ${i}` },
            project_role: { name: `Custom project ${i}` },
          });
          expect(migrated.status).toBe(200);
          const next = await snapshot(world);
          expect(next).toEqual(current);
          current = next;
        }
      }),
      { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: Number(SEED) }) },
    );
  }, 300_000);
});
