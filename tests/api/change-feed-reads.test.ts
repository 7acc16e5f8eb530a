/**
 * After a write, the instance that made it applies the events the write recorded as it recorded
 * them, without reading the change log back (docs/performance.md, "Fifth round"); it read it
 * once per write before, and twice before that. On PostgreSQL the write's commit also sends a notification (migration
 * 0023's trigger); before migration 0031 it carried nothing, so the writer read the log a second
 * time on hearing its own write, finding nothing: one more statement per write on the database
 * and on the main thread, which held the checks under a mixed load (docs/performance.md, "Fourth
 * round"). The notification now names the events it announces, and an instance that has read
 * them skips it; another instance still applies them from it (the poll is off here, so the
 * notification is its only way to learn of them).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { createMember, type Roster } from '../helpers/roster.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    instances: testDialect === 'postgres' ? 2 : 1,
    env: { ROSTER_CHANGE_POLL_MS: '0' },
  });
}, 60_000);
afterAll(async () => {
  await cluster.close();
});

/** `roster_change_feed_reads` of an instance's /metrics. */
async function reads(instance: Roster): Promise<number> {
  const res = await instance.get('/metrics', null);
  expect(res.status).toBe(200);
  const line = res.text.split('\n').find((l) => l.startsWith('roster_change_feed_reads '));
  expect(line).toBeDefined();
  return Number(line?.split(' ')[1]);
}

async function allowed(instance: Roster, memberId: number, projectId: number): Promise<boolean> {
  const res = await instance.post('/api/access/check', {
    subject: { member_id: memberId },
    project_id: projectId,
    resource: 'recipe',
    privilege: 'run',
  });
  expect(res.status).toBe(200);
  return res.body.data.allowed as boolean;
}

it('a write does not read the change log back on the instance that made it, and reaches the others', async () => {
  const [writer, other] = cluster.instances as [Roster, Roster | undefined];
  const roleId = (
    await writer.post('/api/project_roles', {
      project_role: { name: 'Feed runners', config: { recipe: { privileges: ['run'] } } },
    })
  ).body.data.id as string;
  const projectId = (await writer.post('/api/projects', { name: 'Feed', environment_type: 'dev' }))
    .body.data.id as number;
  const group = (await writer.post('/api/user_groups', { user_group: { name: 'Feed team' } })).body
    .data.id as string;
  expect(
    (
      await writer.put(`/api/projects/${projectId}/project_grants`, {
        project_grants: [
          { assignment_type: 'UserGroup', assignment_id: group, project_role_id: roleId },
        ],
      })
    ).status,
  ).toBe(200);
  const ada = await createMember(writer, {
    email: 'ada@feed.example',
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
  // Let the notifications of the set-up arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 300));

  const before = await reads(writer);
  const WRITES = 20;
  for (let i = 0; i < WRITES; i++) {
    const res =
      i % 2 === 0
        ? await writer.post(`/api/user_groups/${group}/members`, { user_ids: [ada.id] })
        : await writer.delete(`/api/user_groups/${group}/members?user_ids[]=${ada.id}`);
    expect(res.status).toBeLessThan(300);
    // Applied before the answer, on the instance that wrote it.
    expect(await allowed(writer, ada.id, projectId)).toBe(i % 2 === 0);
  }
  // A last write: the other instance (PostgreSQL) learns of it by notification only.
  expect(
    (await writer.post(`/api/user_groups/${group}/members`, { user_ids: [ada.id] })).status,
  ).toBeLessThan(300);
  if (other !== undefined) {
    const started = Date.now();
    while (!(await allowed(other, ada.id, projectId))) {
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  // The writer's own notifications have had time to arrive (the other instance heard the last).
  await new Promise((resolve) => setTimeout(resolve, 300));
  // No read for its own writes, neither to apply them nor on hearing their notifications (it was
  // one per write, WRITES + 1, and 2 per write before that).
  expect((await reads(writer)) - before).toBe(0);
});
