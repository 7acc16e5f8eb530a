/**
 * On PostgreSQL a transaction can commit after a later one: the change feed reads past an ID that
 * is not committed yet, watches it (with every ID a rolled-back transaction took) for a minute,
 * and reads it when it appears (modules/audit/change-feed.ts, `missing`). The watched IDs go to
 * the database as one JSON array (audit.repository.ts, changeEventsAfterOrMissing); here more than
 * a hundred of them, the length past which they were compiled into a new statement on every read.
 * SQLite gives IDs in commit order (one writer), so there is nothing to watch there.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '../../packages/server/src/storage/connect.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { createMember, type Roster } from '../helpers/roster.js';

const onPostgres = testDialect === 'postgres';
let cluster: Cluster;
let store: Store;

beforeAll(async () => {
  if (!onPostgres) return;
  cluster = await startCluster({ instances: 1, env: { ROSTER_CHANGE_POLL_MS: '100' } });
  store = cluster.openDatabase();
}, 60_000);
afterAll(async () => {
  if (!onPostgres) return;
  await store.close();
  await cluster.close();
});

const auditRow = (action: string, targetType: string, targetId: string | null) => ({
  workspace_id: 1,
  actor_type: 'system',
  actor_id: null,
  actor_name: 'a slow writer',
  action,
  target_type: targetType,
  target_id: targetId,
  target_name: null,
  before_json: null,
  after_json: null,
  created_at: new Date().toISOString(),
});

/** Takes `count` event IDs in a transaction that rolls back: gaps that never fill. */
async function spendEventIds(count: number): Promise<void> {
  await store.db
    .transaction()
    .execute(async (trx) => {
      for (let i = 0; i < count; i++)
        await trx
          .insertInto('audit_events')
          .values(auditRow('project.updated', 'project', null))
          .execute();
      throw new Error('rolled back on purpose');
    })
    .catch((error: unknown) => {
      if (!(error instanceof Error) || error.message !== 'rolled back on purpose') throw error;
    });
}

it.skipIf(!onPostgres).each([500, 1_500])(
  'applies a change committed %i ms after a later one, among 150 IDs that never commit',
  async (lateMs) => {
    // Past a second the watched ID is read once a second, not at every read (change-feed.ts).
    const name = (base: string) => `${base} ${lateMs}`;
    const roster = cluster.instances[0] as Roster;
    const roleId = (
      await roster.post('/api/project_roles', {
        project_role: { name: name('Late runners'), config: { recipe: { privileges: ['run'] } } },
      })
    ).body.data.id as string;
    const projectId = (
      await roster.post('/api/projects', { name: name('Late'), environment_type: 'dev' })
    ).body.data.id as number;
    const group = (
      await roster.post('/api/user_groups', { user_group: { name: name('Late team') } })
    ).body.data.id as string;
    const granted = await roster.put(`/api/projects/${projectId}/project_grants`, {
      project_grants: [
        { assignment_type: 'UserGroup', assignment_id: group, project_role_id: roleId },
      ],
    });
    expect(granted.status).toBe(200);
    const ada = await createMember(roster, {
      email: `ada${lateMs}@late.example`,
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    expect(
      (await roster.post(`/api/user_groups/${group}/members`, { user_ids: [ada.id] })).status,
    ).toBeLessThan(300);
    const allowed = async (): Promise<boolean> => {
      const res = await roster.post('/api/access/check', {
        subject: { member_id: ada.id },
        project_id: projectId,
        resource: 'recipe',
        privilege: 'run',
      });
      expect(res.status).toBe(200);
      return res.body.data.allowed as boolean;
    };
    expect(await allowed()).toBe(true);

    // 150 IDs taken by a transaction that rolls back: they never appear.
    await spendEventIds(150);
    // A slow write: Ada leaves the group, and the event saying so takes the next ID now...
    let commit: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let idTaken: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => {
      idTaken = resolve;
    });
    const slow = store.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('group_memberships')
        .where('group_id', '=', group)
        .where('member_id', '=', ada.id)
        .execute();
      await trx
        .insertInto('audit_events')
        .values(auditRow('user_group.updated', 'user_group', group))
        .execute();
      idTaken();
      await gate;
    });
    await taken;
    // ... and a later write commits first, which the instance reads past the slow one's ID.
    expect(
      (
        await roster.post('/api/projects', {
          name: name('Committed first'),
          environment_type: 'dev',
        })
      ).status,
    ).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, lateMs));
    expect(await allowed()).toBe(true);

    commit();
    await slow;
    // The poll's read of the watched IDs finds it: Ada is out of the group, and so denied.
    const started = Date.now();
    while (await allowed()) {
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  },
);

/** A gauge of the instance's /metrics. */
async function gauge(roster: Roster, metric: string): Promise<number> {
  const res = await roster.get('/metrics');
  const line = res.text.split('\n').find((l) => l.startsWith(`${metric} `));
  if (line === undefined) throw new Error(`no ${metric} in /metrics`);
  return Number(line.split(' ')[1]);
}

it.skipIf(!onPostgres)(
  'reads a watched ID at every read for a second only, then once a second',
  async () => {
    const roster = cluster.instances[0] as Roster;
    await spendEventIds(200);
    // A later write, read past the 200 gaps: they are watched.
    expect(
      (await roster.post('/api/projects', { name: 'After the gaps', environment_type: 'dev' }))
        .status,
    ).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await gauge(roster, 'roster_change_feed_watched_ids')).toBeGreaterThanOrEqual(200);
    const reads = await gauge(roster, 'roster_change_feed_reads');
    const watchedReads = await gauge(roster, 'roster_change_feed_watched_id_reads');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const syncs = (await gauge(roster, 'roster_change_feed_reads')) - reads;
    const asked = (await gauge(roster, 'roster_change_feed_watched_id_reads')) - watchedReads;
    // The poll (every 100 ms here) read the log ~20 times; the gaps were asked for at most three
    // times each (once a second), not at each of those reads.
    expect(syncs).toBeGreaterThanOrEqual(10);
    const watched = await gauge(roster, 'roster_change_feed_watched_ids');
    expect(asked).toBeLessThanOrEqual(3 * watched);
    expect(asked).toBeGreaterThanOrEqual(watched);
  },
);
