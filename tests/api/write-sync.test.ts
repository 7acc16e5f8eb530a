/**
 * The index sync after a write reloads what the write names: the members a group membership
 * change lists (not the whole group), the grants a project upsert made (not every grant of the
 * project). Checks right after each write must see it, on both stores, with small and large
 * changes (a change naming more than 50 reloads the group or project whole), and on PostgreSQL on
 * a second instance too. Also: the audit list's total is counted up to 10,000.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { createMember, type Roster } from '../helpers/roster.js';

const HOUR = 3_600_000;

let cluster: Cluster;
let roster: Roster;
let roleId: string;
let projectId: number;

beforeAll(async () => {
  cluster = await startCluster();
  roster = cluster.instances[0] as Roster;
  roleId = (
    await roster.post('/api/project_roles', {
      project_role: { name: 'Sync runners', config: { recipe: { privileges: ['run'] } } },
    })
  ).body.data.id;
  projectId = (await roster.post('/api/projects', { name: 'Sync', environment_type: 'dev' })).body
    .data.id;
}, 60_000);
afterAll(async () => {
  await cluster.close();
});

/** A collaborator with no legacy access in DEV (the default Analyst covers every DEV project). */
function person(instance: Roster, email: string) {
  return createMember(instance, {
    email,
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
}

async function allowed(instance: Roster, memberId: number, project = projectId): Promise<boolean> {
  const res = await instance.post('/api/access/check', {
    subject: { member_id: memberId },
    project_id: project,
    resource: 'recipe',
    privilege: 'run',
  });
  expect(res.status).toBe(200);
  return res.body.data.allowed as boolean;
}

async function groupWithGrant(instance: Roster, name: string): Promise<string> {
  const group = (await instance.post('/api/user_groups', { user_group: { name } })).body.data.id;
  const granted = await instance.put(`/api/projects/${projectId}/project_grants`, {
    project_grants: [
      { assignment_type: 'UserGroup', assignment_id: group, project_role_id: roleId },
    ],
  });
  expect(granted.status).toBe(200);
  return group;
}

describe('group membership changes', () => {
  it('a member added to a group holding a grant is allowed by the next check, and denied once removed', async () => {
    const group = await groupWithGrant(roster, 'Sync small');
    const ada = await person(roster, 'ada@sync.example');
    const bob = await person(roster, 'bob@sync.example');
    expect(await allowed(roster, ada.id)).toBe(false);

    const added = await roster.post(`/api/user_groups/${group}/members`, { user_ids: [ada.id] });
    expect(added.status).toBeLessThan(300);
    expect(await allowed(roster, ada.id)).toBe(true);
    expect(await allowed(roster, bob.id)).toBe(false);

    const removed = await roster.delete(`/api/user_groups/${group}/members?user_ids[]=${ada.id}`);
    expect(removed.status).toBeLessThan(300);
    expect(await allowed(roster, ada.id)).toBe(false);
  }, 60_000);

  it('a member in two groups keeps the access of the one they stay in', async () => {
    const first = await groupWithGrant(roster, 'Sync first');
    const second = await groupWithGrant(roster, 'Sync second');
    const cleo = await person(roster, 'cleo@sync.example');
    await roster.post(`/api/user_groups/${first}/members`, { user_ids: [cleo.id] });
    await roster.post(`/api/user_groups/${second}/members`, { user_ids: [cleo.id] });
    await roster.delete(`/api/user_groups/${first}/members?user_ids[]=${cleo.id}`);
    expect(await allowed(roster, cleo.id)).toBe(true);
    await roster.delete(`/api/user_groups/${second}/members?user_ids[]=${cleo.id}`);
    expect(await allowed(roster, cleo.id)).toBe(false);
  }, 60_000);

  it('a change naming more than 50 members (a whole-group reload) is seen the same way', async () => {
    const group = await groupWithGrant(roster, 'Sync large');
    const people = [];
    for (let i = 0; i < 60; i++) people.push(await person(roster, `many${i}@sync.example`));
    const ids = people.map((p) => p.id);
    expect(
      (await roster.post(`/api/user_groups/${group}/members`, { user_ids: ids })).status,
    ).toBeLessThan(300);
    for (const id of [ids[0], ids[30], ids[59]] as number[])
      expect(await allowed(roster, id)).toBe(true);
    const query = ids.slice(0, 55).map((id) => `user_ids[]=${id}`);
    expect(
      (await roster.delete(`/api/user_groups/${group}/members?${query.join('&')}`)).status,
    ).toBe(204);
    expect(await allowed(roster, ids[0] as number)).toBe(false);
    expect(await allowed(roster, ids[54] as number)).toBe(false);
    expect(await allowed(roster, ids[59] as number)).toBe(true);
  }, 120_000);
});

describe('concurrent writes', () => {
  /** A gauge of the instance's /metrics. */
  async function gauge(instance: Roster, metric: string): Promise<number> {
    const res = await instance.get('/metrics');
    const line = res.text.split('\n').find((l: string) => l.startsWith(`${metric} `));
    if (line === undefined) throw new Error(`no ${metric} in /metrics`);
    return Number(line.split(' ')[1]);
  }

  it('each of 40 writes sent at once is seen by the check right after its answer; on PostgreSQL they are applied together, in fewer runs than writes', async () => {
    const group = await groupWithGrant(roster, 'Sync together');
    const people = [];
    for (let i = 0; i < 40; i++) people.push(await person(roster, `together${i}@sync.example`));
    const writes = await gauge(roster, 'roster_change_feed_own_writes');
    const applies = await gauge(roster, 'roster_change_feed_own_applies');
    // Each write is answered once its own event is applied, whichever run applied it.
    const seen = await Promise.all(
      people.map(async ({ id }) => {
        const added = await roster.post(`/api/user_groups/${group}/members`, { user_ids: [id] });
        expect(added.status).toBeLessThan(300);
        return allowed(roster, id);
      }),
    );
    expect(seen).toEqual(people.map(() => true));
    const applied = (await gauge(roster, 'roster_change_feed_own_writes')) - writes;
    const runs = (await gauge(roster, 'roster_change_feed_own_applies')) - applies;
    // The 40 additions, and the metrics reads in between write nothing.
    expect(applied).toBe(40);
    expect(runs).toBeGreaterThan(0);
    // SQLite's reads answer without a turn of the event loop, so a run may end before the next
    // write's answer arrives; PostgreSQL's take a round trip, and the writes meanwhile wait together.
    if (testDialect === 'postgres') expect(runs).toBeLessThan(applied);
    else expect(runs).toBeLessThanOrEqual(applied);
  }, 60_000);
});

describe('end-user group membership changes', () => {
  it('an end user added to a group the feature is granted to is allowed at once, and denied once removed', async () => {
    const endUser = async (name: string) =>
      (
        await roster.post('/api/end_users', {
          name,
          email: `${name.toLowerCase()}@sync-eu.example`,
          environment_types: ['prod'],
        })
      ).body.data.id as number;
    const dana = await endUser('Dana');
    const eli = await endUser('Eli');
    const group = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'prod',
        name: 'Sync readers',
        end_user_ids: [eli],
      })
    ).body.data.id;
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Sync MCP',
      })
    ).body.data.id;
    await roster.post(`/api/features/${feature}/access`, { end_user_group_ids: [group] });
    const decision = async (id: number) =>
      (
        await roster.post('/api/end_users/decisions', {
          end_user_id: id,
          environment_type: 'prod',
          feature_id: feature,
        })
      ).body.data.decision;
    expect(await decision(dana)).toBe('deny');
    expect(
      (await roster.post(`/api/end_user_groups/${group}/members`, { end_user_ids: [dana] })).status,
    ).toBeLessThan(300);
    expect(await decision(dana)).toBe('allow');
    expect(
      (
        await roster.request('DELETE', `/api/end_user_groups/${group}/members`, {
          body: { end_user_ids: [dana] },
        })
      ).status,
    ).toBeLessThan(300);
    expect(await decision(dana)).toBe('deny');
    expect(await decision(eli)).toBe('allow');
  }, 60_000);
});

describe('project grant upserts', () => {
  it('a grant upserted is allowed by the next check; refreshed with an expiry, it ends then', async () => {
    const project = (
      await roster.post('/api/projects', { name: 'Sync upserts', environment_type: 'dev' })
    ).body.data.id;
    const fay = await person(roster, 'fay@sync.example');
    const grant = (expiresAt?: string) =>
      roster.put(`/api/projects/${project}/project_grants`, {
        project_grants: [
          {
            assignment_type: 'User',
            assignment_id: fay.id,
            project_role_id: roleId,
            ...(expiresAt === undefined ? {} : { expires_at: expiresAt }),
          },
        ],
      });
    expect((await grant()).status).toBe(200);
    expect(await allowed(roster, fay.id, project)).toBe(true);

    // The same assignee and role again: the existing grant is refreshed (its ID stays).
    const expiresAt = new Date(roster.clock.now().getTime() + HOUR).toISOString();
    expect((await grant(expiresAt)).status).toBe(200);
    const listed = (await roster.get(`/api/projects/${project}/project_grants`)).body.data;
    expect(listed).toHaveLength(1);
    const events = (
      await roster.get(`/api/audit_events?action=project_grants.upserted&target_id=${project}`)
    ).body.data;
    expect(events).toHaveLength(2);
    // The log names the grant each upsert made or refreshed.
    for (const event of events) expect(event.after[0].id).toBe(listed[0].id);
    expect(await allowed(roster, fay.id, project)).toBe(true);
    roster.clock.advance(2 * HOUR);
    expect(await allowed(roster, fay.id, project)).toBe(false);
  }, 60_000);

  it('an upsert of more than 50 grants (a whole-project reload) is seen the same way', async () => {
    const project = (
      await roster.post('/api/projects', { name: 'Sync many grants', environment_type: 'dev' })
    ).body.data.id;
    const people = [];
    for (let i = 0; i < 60; i++) people.push(await person(roster, `grantee${i}@sync.example`));
    const res = await roster.put(`/api/projects/${project}/project_grants`, {
      project_grants: people.map((p) => ({
        assignment_type: 'User',
        assignment_id: p.id,
        project_role_id: roleId,
      })),
    });
    expect(res.status).toBe(200);
    for (const p of [people[0], people[59]] as { id: number }[])
      expect(await allowed(roster, p.id, project)).toBe(true);
  }, 120_000);
});

describe('audit total', () => {
  it('counts matching events up to 10,000, and exactly below that', async () => {
    const before = await roster.get('/api/audit_events?page[size]=1');
    expect(before.status).toBe(200);
    expect(before.body.total).toBeLessThan(10_000);
    const store = cluster.openDatabase();
    try {
      const now = new Date().toISOString();
      const rows = Array.from({ length: 10_050 }, (_, i) => ({
        workspace_id: 1,
        actor_type: 'system',
        actor_id: null,
        actor_name: 'Sync test',
        action: i < 10 ? 'sync_test.rare' : 'sync_test.common',
        // Not index data: the change feed reads these events and reloads nothing.
        target_type: 'api_client',
        target_id: '0',
        target_name: null,
        before_json: null,
        after_json: null,
        created_at: now,
      }));
      for (let at = 0; at < rows.length; at += 500)
        await store.db
          .insertInto('audit_events')
          .values(rows.slice(at, at + 500))
          .execute();
      const exact = await sql<{
        n: number;
      }>`select cast(count(*) as integer) as n from audit_events where action = 'sync_test.common'`.execute(
        store.db,
      );
      expect(Number(exact.rows[0]?.n)).toBe(10_040);
    } finally {
      await store.close();
    }
    const capped = await roster.get('/api/audit_events?action=sync_test.common&page[size]=5');
    expect(capped.status).toBe(200);
    expect(capped.body.total).toBe(10_000);
    expect(capped.body.data).toHaveLength(5);
    const rare = await roster.get('/api/audit_events?action=sync_test.rare');
    expect(rare.body.total).toBe(10);
    // Pages past the cap still answer.
    const far = await roster.get(
      '/api/audit_events?action=sync_test.common&page[size]=100&page[number]=101',
    );
    expect(far.status).toBe(200);
    expect(far.body.data).toHaveLength(40);
    // The whole log: at the cap, and still there after one more event (the cap, once reached, is
    // remembered: the log is append-only).
    const whole = await roster.get('/api/audit_events?page[size]=1');
    expect(whole.body.total).toBe(10_000);
    expect(whole.body.data[0].action).toBe('sync_test.common');
    await roster.post('/api/user_groups', { user_group: { name: 'One more event' } });
    const after = await roster.get('/api/audit_events?page[size]=1');
    expect(after.body.total).toBe(10_000);
    expect(after.body.data[0].action).toBe('user_group.created');
    // A count at the cap is kept under its filter and the credential's visibility: a credential
    // that sees only PROD sees none of these events (they name no environment), nor their count.
    const prodClient = await roster.post('/api/api_clients', {
      name: 'Prod audit reader',
      environment_types: ['prod'],
    });
    expect(prodClient.status).toBe(201);
    const prodToken = prodClient.body.data.token as string;
    for (const path of [
      '/api/audit_events?action=sync_test.common&page[size]=1',
      '/api/audit_events?page[size]=1',
    ]) {
      const seen = await roster.get(path, prodToken);
      expect(seen.status).toBe(200);
      expect(seen.body.total).toBeLessThan(10_000);
      expect(seen.body.data.every((e: { action: string }) => !e.action.startsWith('sync_test')));
    }
    expect((await roster.get('/api/audit_events?action=sync_test.common')).body.total).toBe(10_000);
    // Below the cap a count is never kept: one more rare event is counted at once.
    const again = cluster.openDatabase();
    try {
      await again.db
        .insertInto('audit_events')
        .values({
          workspace_id: 1,
          actor_type: 'system',
          actor_id: null,
          actor_name: 'Sync test',
          action: 'sync_test.rare',
          target_type: 'api_client',
          target_id: '0',
          target_name: null,
          before_json: null,
          after_json: null,
          created_at: new Date().toISOString(),
        })
        .execute();
    } finally {
      await again.close();
    }
    expect((await roster.get('/api/audit_events?action=sync_test.rare')).body.total).toBe(11);
    // What is remembered is this database's workspace 1, not any workspace 1 in the process.
    const other = await startCluster();
    try {
      const fresh = await other.instances[0]!.get('/api/audit_events?page[size]=1');
      expect(fresh.status).toBe(200);
      expect(fresh.body.total).toBeGreaterThan(0);
      expect(fresh.body.total).toBeLessThan(10_000);
    } finally {
      await other.close();
    }
  }, 120_000);
});

describe.skipIf(testDialect !== 'sqlite')(
  'a SQLite write waiting for the write lock (SQLite runs only)',
  () => {
    it('does not hold the checks: they answer while the write waits, and the write completes once the lock is let go', async () => {
      const ivy = await person(roster, 'ivy@sync.example');
      const store = cluster.openDatabase();
      let file: string;
      try {
        const listed = await sql<{
          file: string;
        }>`select file from pragma_database_list where name = 'main'`.execute(store.db);
        file = listed.rows[0]?.file ?? '';
      } finally {
        await store.close();
      }
      // Another process's write transaction (a script, a sqlite3 shell) holds the write lock.
      const other = new SQLite(file);
      let writeSettled = false;
      try {
        other.prepare('BEGIN IMMEDIATE').run();
        const write = roster
          .post('/api/projects', { name: 'Behind a lock', environment_type: 'dev' })
          .finally(() => {
            writeSettled = true;
          });
        // Let the write reach SQLite and start waiting (up to the 5 s busy timeout).
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await allowed(roster, ivy.id)).toBe(false);
        expect(writeSettled).toBe(false);
        other.prepare('COMMIT').run();
        expect((await write).status).toBe(201);
      } finally {
        other.close();
      }
    }, 60_000);
  },
);

describe.skipIf(testDialect === 'sqlite')(
  'a second instance on PostgreSQL (SQLite runs a single instance: skipped there)',
  () => {
    let b: Roster & { stop(): Promise<void> };
    beforeAll(async () => {
      b = await cluster.addInstance();
    }, 60_000);
    afterAll(async () => {
      await b.stop();
    });

    /** Asks B until it answers `expected` (a 404 meanwhile: B has not seen the member yet). */
    async function eventually(memberId: number, expected: boolean, project = projectId) {
      const ask = () =>
        b.post('/api/access/check', {
          subject: { member_id: memberId },
          project_id: project,
          resource: 'recipe',
          privilege: 'run',
        });
      const started = Date.now();
      while (Date.now() - started < 1_000) {
        const res = await ask();
        if (res.status === 200 && res.body.data.allowed === expected) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const res = await ask();
      expect(res.status).toBe(200);
      expect(res.body.data.allowed).toBe(expected);
    }

    it('sees membership changes and grant upserts made on the first instance within one second', async () => {
      const group = await groupWithGrant(roster, 'Sync cluster');
      const gus = await person(roster, 'gus@sync.example');
      await eventually(gus.id, false);
      await roster.post(`/api/user_groups/${group}/members`, { user_ids: [gus.id] });
      await eventually(gus.id, true);
      await roster.delete(`/api/user_groups/${group}/members?user_ids[]=${gus.id}`);
      await eventually(gus.id, false);

      const project = (
        await roster.post('/api/projects', { name: 'Sync cluster grants', environment_type: 'dev' })
      ).body.data.id;
      await eventually(gus.id, false, project);
      await roster.put(`/api/projects/${project}/project_grants`, {
        project_grants: [
          { assignment_type: 'User', assignment_id: gus.id, project_role_id: roleId },
        ],
      });
      await eventually(gus.id, true, project);
    }, 60_000);
  },
);
