/**
 * A collaborator's `last_activity_log` (audit.repository.ts findLastActivities, on every
 * collaborators page and member answer) is one search of the actor index per member on its full
 * key (workspace_id, actor_type, actor_id), on a database whose tables have no statistics yet (a
 * test database, or a new one before autovacuum's first ANALYZE) as after, then the event by its
 * primary key. The earlier query (`group by actor_id` over `actor_id in (…)`) matched only
 * (workspace_id, actor_type) here and filtered every member-made event of the workspace, and
 * without statistics under the mixed load scanned another index of the workspace filtering
 * actor_type and actor_id (docs/performance.md, "Sixth round"). Checked with the
 * database's own plan on the schema the server migrates to (sequential scans disabled on
 * PostgreSQL, whose test tables are tiny).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';
import { createMember, type Roster } from '../helpers/roster.js';

/** The query findLastActivities sends for two members, literals inlined. */
const LAST_ACTIVITIES =
  "with latest as materialized (select wanted.actor_id, (select max(a.id) from audit_events as a where a.workspace_id = 1 and a.actor_type = 'member' and a.actor_id = wanted.actor_id) as id from (select '2' as actor_id union all select '3' as actor_id) as wanted) select latest.id, latest.actor_id, (select e.action from audit_events as e where e.id = latest.id) as action, (select e.created_at from audit_events as e where e.id = latest.id) as created_at from latest";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.close();
});

describe("a member's last activity", () => {
  it('is searched on the actor index by its full key, not filtered from the workspace', async () => {
    const plan = await planOf(cluster, LAST_ACTIVITIES, { filled: 'audit_events' });
    if (testDialect === 'sqlite') {
      expect(plan).toMatch(
        /SEARCH a USING COVERING INDEX audit_events_actor_idx \(workspace_id=\? AND actor_type=\? AND actor_id=\?\)/,
      );
    } else {
      expect(plan).toMatch(/audit_events_actor_idx/);
      expect(plan).toMatch(/Index Cond: [^\n]*actor_id = /);
      expect(plan).not.toMatch(/Filter: [^\n]*actor_id/);
      expect(plan).toMatch(/Index Scan using audit_events_pkey on audit_events e /);
    }
  });

  it('is still each member’s own latest event in the collaborators list', async () => {
    const roster = cluster.instances[0] as Roster;
    const ada = await createMember(roster, {
      email: 'ada@activity.example',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    const bob = await createMember(roster, {
      email: 'bob@activity.example',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    const listed = await roster.get('/api/members?page[size]=100');
    expect(listed.status).toBe(200);
    const byId = new Map(
      (listed.body.data as { id: number; last_activity_log: { event_type: string } | null }[]).map(
        (m) => [m.id, m.last_activity_log],
      ),
    );
    expect(byId.get(ada.id)?.event_type).toBe('member_joined');
    expect(byId.get(bob.id)?.event_type).toBe('member_joined');
    // The admin token's member-less events are nobody's activity.
    expect([...byId.values()].filter((a) => a !== null)).toHaveLength(2);
  });

  it('is each member’s own on a page longer than the lists once compiled by length', async () => {
    // A page of 40: past the 16 members whose lookups were once compiled per call; listed twice
    // so that the second answer comes from the query compiled by the first.
    const roster = cluster.instances[0] as Roster;
    const created: number[] = [];
    for (let i = 0; i < 40; i++) {
      const member = await createMember(roster, {
        email: `page${String(i)}@activity.example`,
        env_roles: [{ environment_type: 'dev', name: i % 2 === 0 ? 'No access' : 'Analyst' }],
      });
      created.push(member.id);
    }
    for (let round = 0; round < 2; round++) {
      const listed = await roster.get('/api/members?page[size]=100');
      expect(listed.status).toBe(200);
      const rows = listed.body.data as {
        id: number;
        email: string;
        last_activity_log: { event_type: string } | null;
        roles: { environment_type: string; role_name: string }[];
      }[];
      const byId = new Map(rows.map((m) => [m.id, m]));
      created.forEach((id, i) => {
        const member = byId.get(id);
        expect(member?.email).toBe(`page${String(i)}@activity.example`);
        expect(member?.last_activity_log?.event_type).toBe('member_joined');
        expect(member?.roles.find((r) => r.environment_type === 'dev')?.role_name).toBe(
          i % 2 === 0 ? 'No access' : 'Analyst',
        );
      });
    }
  });
});
