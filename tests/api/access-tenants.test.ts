/**
 * Many workspaces (issue 14): each workspace's index loads on first use and the least recently
 * used are evicted under ROSTER_INDEX_MEMORY_MB. With a budget that holds one small workspace,
 * every switch between workspaces evicts, and the answers must still be exactly those of the
 * store: right after a write on the instance that wrote it, within the staleness bound on another
 * instance (PostgreSQL) whether the workspace was warm, cold or evicted there in between, and the
 * same as a freshly started instance with everything warm. A workspace that cannot load answers
 * 503 alone and is retried.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { PLATFORM_TOKEN, createMember, type Roster } from '../helpers/roster.js';
import { PROPERTY_SETUP_TIMEOUT_MS, propertyRuns, propertyTimeout } from '../helpers/property.js';

/** The bound docs/decisions.md states for another instance's writes (access-cluster.test.ts). */
const STALENESS_BOUND_MS = 1_000;
const WORKSPACES = 4;
const PRIVILEGES = ['run', 'read'] as const;
/** Holds one of these small workspaces (~15 KB each): every switch evicts. */
const TINY_BUDGET = { ROSTER_INDEX_MEMORY_MB: '0.02', ROSTER_INDEX_WARM: 'false' };

interface Workspace {
  id: number;
  token: string;
  /** role ID → the privilege it allows on recipes */
  roles: Map<string, (typeof PRIVILEGES)[number]>;
  projects: number[];
  members: number[];
  groups: string[];
}

/** The instance's requests with another workspace's token as the default one. */
function as(instance: Roster, token: string): Roster {
  const pick = (t: string | null | undefined) => (t === undefined ? token : t);
  return {
    ...instance,
    get: (p, t) => instance.get(p, pick(t)),
    post: (p, body, t) => instance.post(p, body, pick(t)),
    put: (p, body, t) => instance.put(p, body, pick(t)),
    delete: (p, t) => instance.delete(p, pick(t)),
  };
}

function checksOf(ws: Workspace) {
  return ws.members.flatMap((member) =>
    ws.projects.flatMap((project) =>
      PRIVILEGES.map((privilege) => ({
        subject: { member_id: member },
        project_id: project,
        resource: 'recipe',
        privilege,
      })),
    ),
  );
}

/** The workspace's answers from one instance, in checksOf order; throws on anything but 200. */
async function answers(instance: Roster, ws: Workspace): Promise<boolean[]> {
  const res = await as(instance, ws.token).post('/api/access/check_batch', {
    checks: checksOf(ws),
  });
  if (res.status !== 200) throw new Error(`check_batch answered ${res.status} ${res.text}`);
  return (res.body.data as { allowed: boolean; error?: unknown }[]).map((d) => {
    if (d.error !== undefined) throw new Error(`a check failed: ${JSON.stringify(d.error)}`);
    return d.allowed;
  });
}

/** What the store says, from the rows: a grant of a role allowing the privilege, direct or via a group. */
async function expectedFromStore(cluster: Cluster, ws: Workspace): Promise<boolean[]> {
  const store = cluster.openDatabase();
  try {
    const grants = await store.db
      .selectFrom('project_grants')
      .select(['project_id', 'project_role_id', 'member_id', 'group_id'])
      .where('workspace_id', '=', ws.id)
      .execute();
    const memberships = await store.db
      .selectFrom('group_memberships')
      .select(['group_id', 'member_id'])
      .where('workspace_id', '=', ws.id)
      .execute();
    return checksOf(ws).map((check) =>
      grants.some(
        (g) =>
          g.project_id === check.project_id &&
          ws.roles.get(g.project_role_id) === check.privilege &&
          (g.member_id === check.subject.member_id ||
            memberships.some(
              (m) => m.group_id === g.group_id && m.member_id === check.subject.member_id,
            )),
      ),
    );
  } finally {
    await store.close();
  }
}

/** Asks until the answers are `expected`; fails when the staleness bound passes first. */
async function convergesTo(instance: Roster, ws: Workspace, expected: boolean[]): Promise<void> {
  const started = Date.now();
  for (;;) {
    const got = await answers(instance, ws);
    if (JSON.stringify(got) === JSON.stringify(expected)) return;
    if (Date.now() - started > STALENESS_BOUND_MS)
      expect(got, `workspace ${ws.id} after ${STALENESS_BOUND_MS} ms`).toEqual(expected);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function createWorkspace(a: Roster, n: number): Promise<Workspace> {
  const created = await a.post('/platform/workspaces', { name: `Tenant ${n}` }, PLATFORM_TOKEN);
  expect(created.status).toBe(201);
  const ws: Workspace = {
    id: created.body.data.id,
    token: created.body.data.admin_token,
    roles: new Map(),
    projects: [],
    members: [],
    groups: [],
  };
  const api = as(a, ws.token);
  for (const privilege of PRIVILEGES) {
    const role = await api.post('/api/project_roles', {
      project_role: { name: `Can ${privilege}`, config: { recipe: { privileges: [privilege] } } },
    });
    ws.roles.set(role.body.data.id, privilege);
  }
  for (let i = 0; i < 2; i++) {
    const project = await api.post('/api/projects', {
      name: `Project ${i}`,
      environment_type: 'dev',
    });
    ws.projects.push(project.body.data.id);
    const group = await api.post('/api/user_groups', { user_group: { name: `Group ${i}` } });
    ws.groups.push(group.body.data.id);
  }
  for (let i = 0; i < 3; i++) {
    // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
    const member = await createMember(api, {
      email: `t${n}.m${i}@example.com`,
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    ws.members.push(member.id);
  }
  return ws;
}

type Write =
  | { kind: 'grant'; toGroup: boolean; who: number; project: number; role: number }
  | { kind: 'revoke'; project: number; which: number }
  | { kind: 'join' | 'leave'; member: number; group: number };

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({
    kind: fc.constant('grant' as const),
    toGroup: fc.boolean(),
    who: fc.nat(2),
    project: fc.nat(1),
    role: fc.nat(1),
  }),
  fc.record({ kind: fc.constant('revoke' as const), project: fc.nat(1), which: fc.nat(5) }),
  fc.record({
    kind: fc.constantFrom('join' as const, 'leave' as const),
    member: fc.nat(2),
    group: fc.nat(1),
  }),
);

/** Where the workspace's index stands on the reading instance when the write lands. */
type Before = 'warm' | 'evicted' | 'untouched';

const stepArb = fc.record({
  workspace: fc.nat(WORKSPACES - 1),
  write: writeArb,
  before: fc.constantFrom<Before>('warm', 'evicted', 'untouched'),
});

async function applyWrite(api: Roster, ws: Workspace, write: Write): Promise<void> {
  let res;
  switch (write.kind) {
    case 'grant': {
      const project = ws.projects[write.project] as number;
      res = await api.put(`/api/projects/${project}/project_grants`, {
        project_grants: [
          {
            assignment_type: write.toGroup ? 'UserGroup' : 'User',
            assignment_id: write.toGroup
              ? ws.groups[write.who % ws.groups.length]
              : String(ws.members[write.who]),
            project_role_id: [...ws.roles.keys()][write.role],
          },
        ],
      });
      break;
    }
    case 'revoke': {
      const project = ws.projects[write.project] as number;
      const list = await api.get(`/api/projects/${project}/project_grants`);
      const grants = list.body.data as { id: string }[];
      if (grants.length === 0) return;
      res = await api.delete(
        `/api/project_grants/${(grants[write.which % grants.length] as { id: string }).id}`,
      );
      break;
    }
    case 'join':
      res = await api.post(`/api/user_groups/${ws.groups[write.group]}/members`, {
        user_ids: [ws.members[write.member]],
      });
      break;
    case 'leave':
      res = await api.delete(
        `/api/user_groups/${ws.groups[write.group]}/members?user_ids[]=${ws.members[write.member]}`,
      );
      break;
  }
  if (res.status >= 300) throw new Error(`${write.kind} answered ${res.status} ${res.text}`);
}

describe('workspaces loaded on first use and evicted under a tiny memory budget', () => {
  let cluster: Cluster;
  let writer: Roster;
  /** Where checks are read: another instance on PostgreSQL, the writer itself on SQLite. */
  let reader: Roster;
  const workspaces: Workspace[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      instances: testDialect === 'postgres' ? 2 : 1,
      env: TINY_BUDGET,
    });
    writer = cluster.instances[0] as Roster;
    reader = cluster.instances[testDialect === 'postgres' ? 1 : 0] as Roster;
    for (let n = 0; n < WORKSPACES; n++) workspaces.push(await createWorkspace(writer, n));
  }, PROPERTY_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await cluster.close();
  });

  const runs = propertyRuns(6);
  it(
    'answers exactly what the store holds after every write, on the writer at once and on another instance within the staleness bound, whether the workspace was warm, evicted or untouched there',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 3, maxLength: 6 }), async (steps) => {
          for (const step of steps) {
            const ws = workspaces[step.workspace] as Workspace;
            const other = workspaces[(step.workspace + 1) % WORKSPACES] as Workspace;
            // Bring the workspace on the reader to the state the step names.
            if (step.before !== 'untouched') await answers(reader, ws);
            if (step.before === 'evicted') await answers(reader, other);
            await applyWrite(as(writer, ws.token), ws, step.write);
            const expected = await expectedFromStore(cluster, ws);
            // The writer waits for its own index before answering the write: exact at once.
            expect(await answers(writer, ws)).toEqual(expected);
            await convergesTo(reader, ws, expected);
          }
          // A fresh instance with no budget and every workspace warm answers the same.
          const warm = await cluster.addInstance({
            ROSTER_INDEX_MEMORY_MB: '0',
            ROSTER_INDEX_WARM: 'true',
          });
          try {
            for (const ws of workspaces) {
              const expected = await answers(warm, ws);
              expect(await answers(writer, ws)).toEqual(expected);
              await convergesTo(reader, ws, expected);
            }
          } finally {
            await warm.stop();
          }
        }),
        { numRuns: runs },
      );
      // The budget did its work: workspaces were evicted and only about one is held.
      const ready = await writer.get('/readyz', null);
      expect(ready.status).toBe(200);
      expect(ready.body.index.evictions).toBeGreaterThan(0);
      expect(ready.body.index.workspaces_loaded).toBeLessThanOrEqual(2);
      expect(ready.body.index.budget_bytes).toBe(Math.floor(0.02 * 1024 * 1024));
    },
    propertyTimeout(runs, 60_000),
  );

  it('holds a small workspace in a few kilobytes, not ~100 KB of fixed arrays', async () => {
    const fresh = await cluster.addInstance({ ROSTER_INDEX_MEMORY_MB: '0' });
    try {
      for (const ws of workspaces) await answers(fresh, ws);
      const ready = await fresh.get('/readyz', null);
      const index = ready.body.index as { workspaces_loaded: number; estimated_bytes: number };
      // Warming is off in this cluster: exactly the workspaces asked about.
      expect(index.workspaces_loaded).toBe(WORKSPACES);
      // The grant columns, project filters and grant table of a workspace with a few grants.
      expect(index.estimated_bytes / index.workspaces_loaded).toBeLessThan(24_000);
    } finally {
      await fresh.stop();
    }
  });
});

describe('a workspace whose index cannot load', () => {
  let cluster: Cluster;
  let broken: Workspace;
  let healthy: Workspace;

  beforeAll(async () => {
    cluster = await startCluster();
    const a = cluster.instances[0] as Roster;
    broken = await createWorkspace(a, 10);
    healthy = await createWorkspace(a, 11);
  }, PROPERTY_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await cluster.close();
  });

  it('answers 503 with Retry-After for that workspace only, keeps serving the others, and loads it once the row is repaired', async () => {
    const store = cluster.openDatabase();
    const roleId = [...broken.roles.keys()][0] as string;
    const original = await store.db
      .selectFrom('project_roles')
      .select('config')
      .where('id', '=', roleId)
      .executeTakeFirstOrThrow();
    try {
      // A corrupt row: the role's privilege configuration is not JSON.
      await store.db
        .updateTable('project_roles')
        .set({ config: '{"recipe": ' })
        .where('id', '=', roleId)
        .execute();
      const fresh = await cluster.addInstance({ ROSTER_INDEX_WARM: 'false' });
      try {
        const check = { checks: checksOf(broken) };
        const failed = await as(fresh, broken.token).post('/api/access/check_batch', check);
        expect(failed.status).toBe(503);
        expect(failed.headers.get('retry-after')).toBe('1');
        expect(failed.body).toEqual({
          errors: [
            {
              code: 'service_unavailable',
              title: `The access index of workspace ${broken.id} could not be loaded; retry in a moment`,
            },
          ],
        });
        // Other workspaces keep serving, and the instance stays ready.
        expect(await answers(fresh, healthy)).toEqual(await expectedFromStore(cluster, healthy));
        const ready = await fresh.get('/readyz', null);
        expect(ready.status).toBe(200);
        expect(ready.body.index.workspaces_failed).toBe(1);

        await store.db
          .updateTable('project_roles')
          .set({ config: original.config })
          .where('id', '=', roleId)
          .execute();
        // Retried after the back-off: it loads and answers from the repaired rows.
        const started = Date.now();
        for (;;) {
          const res = await as(fresh, broken.token).post('/api/access/check_batch', check);
          if (res.status === 200) break;
          expect(res.status).toBe(503);
          expect(Date.now() - started).toBeLessThan(5_000);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(await answers(fresh, broken)).toEqual(await expectedFromStore(cluster, broken));
        expect((await fresh.get('/readyz', null)).body.index.workspaces_failed).toBe(0);
      } finally {
        await fresh.stop();
      }
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(testDialect === 'sqlite')(
  'a first check that waits longer than ROSTER_INDEX_LOAD_WAIT_MS (PostgreSQL: a load is round trips; on SQLite it never yields to a timer)',
  () => {
    let cluster: Cluster;
    let ws: Workspace;

    beforeAll(async () => {
      cluster = await startCluster();
      ws = await createWorkspace(cluster.instances[0] as Roster, 20);
    }, PROPERTY_SETUP_TIMEOUT_MS);
    afterAll(async () => {
      await cluster.close();
    });

    it('answers 503 with Retry-After while the load goes on, and the retry answers from the loaded index', async () => {
      const fresh = await cluster.addInstance({
        ROSTER_INDEX_WARM: 'false',
        ROSTER_INDEX_LOAD_WAIT_MS: '1',
      });
      try {
        const first = await as(fresh, ws.token).post('/api/access/check_batch', {
          checks: checksOf(ws),
        });
        expect(first.status).toBe(503);
        expect(first.headers.get('retry-after')).toBe('1');
        expect(first.body).toEqual({
          errors: [
            {
              code: 'service_unavailable',
              title: `The access index of workspace ${ws.id} is still loading; retry in a moment`,
            },
          ],
        });
        const started = Date.now();
        for (;;) {
          const res = await as(fresh, ws.token).post('/api/access/check_batch', {
            checks: checksOf(ws),
          });
          if (res.status === 200) break;
          expect(Date.now() - started).toBeLessThan(5_000);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(await answers(fresh, ws)).toEqual(await expectedFromStore(cluster, ws));
      } finally {
        await fresh.stop();
      }
    });
  },
);
