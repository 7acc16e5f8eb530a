/**
 * The collaborators list's `total` (GET /api/members: the reference API's exact number of the
 * workspace's collaborators) is read from a count the database keeps in the same transaction as
 * every insert and delete of a member (migration 0034), not counted row by row next to each page:
 * the list's cost no longer grows with the workspace (issue 14). These tests hold the total to the
 * rows through every path that adds or removes a collaborator, concurrent ones included, and check
 * that a filtered list still counts its own matches.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type Instance } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';
import { createMember, invitationTokenFor } from '../helpers/roster.js';
import { createConnection, scimClient } from '../scim/helpers.js';

let cluster: Cluster;
let roster: Instance;
beforeAll(async () => {
  cluster = await startCluster();
  roster = cluster.instances[0]!;
});
afterAll(async () => {
  await cluster.close();
});

/** Every collaborator the list shows, page by page, and the total each page says. */
async function listAll(query = ''): Promise<{ ids: number[]; totals: number[] }> {
  const ids: number[] = [];
  const totals: number[] = [];
  for (let page = 1; ; page++) {
    const res = await roster.get(`/api/members?page[size]=7&page[number]=${page}${query}`);
    expect(res.status).toBe(200);
    totals.push(res.body.total);
    ids.push(...res.body.data.map((m: { id: number }) => m.id));
    if (res.body.data.length < 7) return { ids, totals };
  }
}

/** The total matches the rows the pages list, on every page, and the database's own count. */
async function expectTotal(expected: number): Promise<void> {
  const { ids, totals } = await listAll();
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toHaveLength(expected);
  expect(new Set(totals)).toEqual(new Set([expected]));
  const store = cluster.openDatabase();
  try {
    const counted = await sql<{ n: number | string }>`
      select count(*) as n from members
      where workspace_id = (select workspace_id from members where id = ${ids[0] ?? 0})`.execute(
      store.db,
    );
    if (ids.length > 0) expect(Number(counted.rows[0]?.n)).toBe(expected);
    // The count the list answers from, kept by the database with the rows (0034).
    const kept = await sql<{ n: number | string }>`
      select n from member_counts
      where workspace_id = (select workspace_id from members where id = ${ids[0] ?? 0})`.execute(
      store.db,
    );
    if (ids.length > 0) expect(Number(kept.rows[0]?.n)).toBe(expected);
  } finally {
    await store.close();
  }
}

async function invite(email: string) {
  const invited = await roster.post('/api/member_invitations', {
    name: email.split('@')[0],
    email,
    env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
  });
  expect(invited.status).toBe(200);
}

describe("the collaborators list's total", () => {
  let count = 0;

  it('counts the collaborators at the start, and each invitation only once accepted', async () => {
    count = (await roster.get('/api/members')).body.total;
    await expectTotal(count);
    await invite('pending@totals.example');
    await expectTotal(count);
    const token = await invitationTokenFor(roster, 'pending@totals.example');
    expect((await roster.post(`/invitations/${token}/accept`, {}, null)).status).toBe(201);
    count += 1;
    await expectTotal(count);
  });

  it('follows invitations accepted and collaborators removed, one at a time', async () => {
    const created = [];
    for (let i = 0; i < 5; i++)
      created.push(await createMember(roster, { email: `one${i}@totals.example` }));
    count += 5;
    await expectTotal(count);
    for (const member of created.slice(0, 2)) {
      expect((await roster.delete(`/api/members/${member.id}`)).status).toBe(204);
      count -= 1;
      await expectTotal(count);
    }
    // Removing one that is gone already changes nothing.
    expect((await roster.delete(`/api/members/${created[0]!.id}`)).status).toBe(404);
    await expectTotal(count);
  });

  it('stays exact under concurrent accepts and removals', async () => {
    const existing = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        createMember(roster, { email: `gone${i}@totals.example` }),
      ),
    );
    count += 6;
    const emails = Array.from({ length: 12 }, (_, i) => `together${i}@totals.example`);
    await Promise.all(emails.map((email) => invite(email)));
    const tokens = await Promise.all(emails.map((email) => invitationTokenFor(roster, email)));
    const results = await Promise.all([
      ...tokens.map((token) => roster.post(`/invitations/${token}/accept`, {}, null)),
      ...existing.map((member) => roster.delete(`/api/members/${member.id}`)),
      // The same collaborator removed twice at once: one removal counts.
      roster.delete(`/api/members/${existing[0]!.id}`),
    ]);
    expect(results.slice(0, 12).map((r) => r.status)).toEqual(Array(12).fill(201));
    expect(results.slice(12, 18).map((r) => r.status)).toEqual(Array(6).fill(204));
    expect([204, 404]).toContain(results[18]!.status);
    count += 12 - 6;
    await expectTotal(count);
  });

  it('counts collaborators a SCIM connection provisions and deletes', async () => {
    const connection = await createConnection(roster, 'dev', 'collaborators');
    const scim = scimClient(roster, connection);
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const created = await scim.request('POST', '/Users', { userName: `scim${i}@totals.example` });
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
    count += 3;
    await expectTotal(count);
    expect((await scim.request('DELETE', `/Users/${ids[0]}`)).status).toBe(204);
    count -= 1;
    await expectTotal(count);
  });

  it("a filtered list counts its own matches, not the workspace's", async () => {
    const { ids, totals } = await listAll('&email=together');
    expect(ids).toHaveLength(12);
    expect(new Set(totals)).toEqual(new Set([12]));
    const none = await roster.get('/api/members?email=nobody-matches-this');
    expect(none.body).toMatchObject({ data: [], total: 0 });
    // A wildcard in the filter is a plain character: nothing has a "%" in its address.
    expect((await roster.get('/api/members?email=%25')).body.total).toBe(0);
  });

  it('a page past the end is empty and still says the total', async () => {
    const res = await roster.get('/api/members?page[size]=50&page[number]=1000');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], total: count, page: { number: 1000, size: 50 } });
  });
});

describe("the list's queries read the page, not the workspace", () => {
  it('reads a page through the (workspace_id, created_at, id) index, without sorting the rows', async () => {
    const plan = await planOf(
      cluster,
      'select * from members where workspace_id = 1 order by created_at, id limit 50 offset 100',
    );
    if (testDialect === 'sqlite') {
      expect(plan).toMatch(/SEARCH members USING INDEX members_created_idx \(workspace_id=\?\)/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    } else {
      expect(plan).toMatch(/Index Scan using members_created_idx/);
      expect(plan).not.toMatch(/Sort/);
    }
  });

  it('reads the total as one row of the kept counts', async () => {
    const plan = await planOf(cluster, 'select n from member_counts where workspace_id = 1');
    if (testDialect === 'sqlite')
      expect(plan).toMatch(
        /SEARCH member_counts USING (INTEGER PRIMARY KEY \(rowid=\?\)|\S+ \(workspace_id=\?\))/,
      );
    else expect(plan).toMatch(/Index Scan using member_counts_pkey/);
    expect(plan).not.toMatch(/members /);
  });
});

describe("a project's grant list", () => {
  const roles: string[] = [];
  const people: { id: number }[] = [];
  const groups: string[] = [];
  let project: number;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const role = await roster.post('/api/project_roles', {
        project_role: { name: `Totals role ${i}`, config: { folder: { privileges: ['view'] } } },
      });
      roles.push(role.body.data.id);
    }
    for (let i = 0; i < 6; i++)
      people.push(await createMember(roster, { email: `grantee${i}@totals.example` }));
    for (let i = 0; i < 2; i++)
      groups.push(
        (await roster.post('/api/user_groups', { user_group: { name: `Totals group ${i}` } })).body
          .data.id,
      );
    const created = await roster.post('/api/projects', {
      name: 'Totals project',
      environment_type: 'dev',
    });
    project = created.body.data.id;
  });

  const user = (i: number, role: number) => ({
    assignment_type: 'User',
    assignment_id: String(people[i]!.id),
    project_role_id: roles[role],
  });
  const group = (i: number, role: number) => ({
    assignment_type: 'UserGroup',
    assignment_id: groups[i],
    project_role_id: roles[role],
  });
  async function put(grants: unknown[]) {
    const res = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: grants,
    });
    expect(res.status).toBe(200);
    // The next write a second later: pages then cross rows of different `created_at`.
    roster.clock.advance(1000);
  }

  /** Pages of every size list the grants in the one page's order, each with the exact total. */
  async function expectGrants(expected: number): Promise<string[]> {
    const whole = await roster.get(`/api/projects/${project}/project_grants?page[size]=100`);
    expect(whole.status).toBe(200);
    const ids: string[] = whole.body.data.map((g: { id: string }) => g.id);
    expect(ids).toHaveLength(expected);
    expect(whole.body.total).toBe(expected);
    for (const size of [1, 2, 3, 5]) {
      const paged: string[] = [];
      for (let number = 1; number <= Math.ceil(expected / size) + 1; number++) {
        const res = await roster.get(
          `/api/projects/${project}/project_grants?page[size]=${size}&page[number]=${number}`,
        );
        expect(res.body.total).toBe(expected);
        paged.push(...res.body.data.map((g: { id: string }) => g.id));
      }
      expect(paged).toEqual(ids);
    }
    const store = cluster.openDatabase();
    try {
      const kept = await sql<{ n: number | string }>`
        select n from project_grant_counts where project_id = ${project}`.execute(store.db);
      expect(Number(kept.rows[0]?.n ?? 0)).toBe(expected);
    } finally {
      await store.close();
    }
    return ids;
  }

  it('pages in the order of one page, with the exact total, as grants come and go', async () => {
    await expectGrants(0);
    await put([user(0, 0), user(0, 1), user(1, 0), group(0, 2)]);
    await put([user(2, 0), group(1, 0), user(1, 2)]);
    await put([user(3, 0), user(3, 1), user(3, 2), user(4, 0)]);
    const ids = await expectGrants(11);
    // The same grant again refreshes it: no new row.
    await put([user(0, 0)]);
    await expectGrants(11);
    expect((await roster.delete(`/api/project_grants/${ids[5]}`)).status).toBe(204);
    await expectGrants(10);
    // A collaborator's and a group's removal take their grants with them (cascades).
    expect((await roster.delete(`/api/members/${people[3]!.id}`)).status).toBe(204);
    await expectGrants(7);
    expect((await roster.delete(`/api/user_groups/${groups[0]}`)).status).toBe(204);
    await expectGrants(6);
  });

  it('stays exact under concurrent grant writes and removals', async () => {
    const before = await expectGrants(6);
    const results = await Promise.all([
      roster.put(`/api/projects/${project}/project_grants`, {
        project_grants: [user(5, 0), user(5, 1)],
      }),
      roster.put(`/api/projects/${project}/project_grants`, {
        project_grants: [user(4, 1), user(4, 2)],
      }),
      roster.put(`/api/projects/${project}/project_grants`, {
        project_grants: [user(2, 1), group(1, 1)],
      }),
      roster.delete(`/api/project_grants/${before[0]}`),
      roster.delete(`/api/project_grants/${before[1]}`),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 204, 204]);
    await expectGrants(6 + 6 - 2);
  });

  it("reads a page through the project's created_at index, up to the page's last row", async () => {
    const plan = await planOf(
      cluster,
      `select g.id from project_grants as g
        inner join projects as p on p.id = g.project_id
        inner join environments as e on e.id = p.environment_id
        inner join project_roles as r on r.id = g.project_role_id
        left join collaborator_groups as cg on cg.id = g.group_id
        where g.workspace_id = 1 and e.type in ('dev', '') and g.project_id = ${project}
        and g.created_at <= coalesce((select created_at from project_grants
          where workspace_id = 1 and project_id = ${project}
          order by created_at limit 1 offset 99), '9999-12-31T23:59:59.999Z')
        order by g.created_at, case when g.member_id is null then 1 else 0 end, g.member_id,
          cg.name, r.name, g.id
        limit 50 offset 50`,
    );
    if (testDialect === 'sqlite')
      expect(plan).toMatch(
        /SEARCH g USING INDEX project_grants_project_created_idx \(workspace_id=\? AND project_id=\? AND created_at<\?\)/,
      );
    else expect(plan).toMatch(/project_grants_project_created_idx[\s\S]*created_at <= /);
  });
});
