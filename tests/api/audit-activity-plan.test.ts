/**
 * The audit log's time ranges read through indexes, checked with the database's own plan on the
 * schema the server migrates to (sequential scans disabled on PostgreSQL, whose test tables are
 * tiny):
 * - the dashboard's activity counts (GET /api/audit_events/activity) read the range of days they
 *   count through the (workspace_id, action, created_at) index (migration 0033), not every event
 *   of those actions the workspace ever had;
 * - a list's time window (`since`, `until`) is counted, and when small read, through the
 *   (workspace_id, created_at, id) index (migration 0038), not by walking the workspace's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';

/** The query countAuditEventsByBucket sends for a full-scope credential, literals inlined. */
const ACTIVITY =
  "select substr(created_at, 1, 10) as bucket, action, count(*) as n from audit_events where workspace_id = 1 and action in ('console.signed_in', 'end_user.decision', 'agent.tool_call') and created_at >= '2026-11-22T00:00:00.000Z' and created_at < '2026-12-06T00:00:00.000Z' group by substr(created_at, 1, 10), action order by substr(created_at, 1, 10), action";

/** audit.repository.ts windowRead: how many events the window has, up to SMALL_WINDOW_EVENTS. */
const WINDOW_COUNT =
  "select cast(count(*) as integer) as n from (select 1 as one from audit_events as w where w.workspace_id = 1 and w.created_at >= '2026-11-22T00:00:00.000Z' and w.created_at < '2026-11-23T00:00:00.000Z' limit 10000) as window_events";

/** listAuditEvents' page of a small window with an action filter, as `filtered` builds it. */
const WINDOW_PAGE = `select * from audit_events where workspace_id = 1 and action = 'console.signed_in' and ${
  testDialect === 'postgres' ? 'audit_events.id = any(array(' : 'audit_events.id in ('
}(select w.id from audit_events as w where w.workspace_id = 1 and w.created_at >= '2026-11-22T00:00:00.000Z'))${
  testDialect === 'postgres' ? ')' : ''
} order by id desc limit 100 offset 0`;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.close();
});

describe('the activity counts', () => {
  it('search the days they count through the (workspace_id, action, created_at) index', async () => {
    // On PostgreSQL with statistics: before a filled table's first ANALYZE (autovacuum's, within
    // a minute of its growth) PostgreSQL costs migration 0038's time index the same for this
    // query and may read the days' events of every action through it (docs/performance.md,
    // "Twenty-second round").
    const plan = await planOf(cluster, ACTIVITY, { filled: 'audit_events', analyzed: true });
    if (testDialect === 'sqlite')
      expect(plan).toMatch(
        /SEARCH audit_events USING COVERING INDEX audit_events_workspace_action_created \(workspace_id=\? AND action=\? AND created_at>\? AND created_at<\?\)/,
      );
    else {
      expect(plan).toMatch(/audit_events_workspace_action_created/);
      expect(plan).toMatch(/Index Cond: [^\n]*created_at >= /);
    }
  });
});

describe("a list's time window", () => {
  it('is counted through the (workspace_id, created_at, id) index', async () => {
    const plan = await planOf(cluster, WINDOW_COUNT, { filled: 'audit_events' });
    if (testDialect === 'sqlite')
      expect(plan).toMatch(
        /SEARCH w USING COVERING INDEX audit_events_workspace_created_id \(workspace_id=\? AND created_at>\? AND created_at<\?\)/,
      );
    else {
      expect(plan).toMatch(/audit_events_workspace_created_id/);
      expect(plan).toMatch(/Index Cond: [^\n]*created_at >= /);
    }
  });

  it("when small, has its page read from the window's events, not from a walk of the log", async () => {
    const plan = await planOf(cluster, WINDOW_PAGE, { filled: 'audit_events', analyzed: true });
    if (testDialect === 'sqlite') {
      expect(plan).toMatch(
        /SEARCH w USING COVERING INDEX audit_events_workspace_created_id \(workspace_id=\? AND created_at>\?\)/,
      );
      // Each of the window's events looked up by its ID, in ID order (no sort, no scan).
      expect(plan).toMatch(/SEARCH audit_events USING (COVERING )?INDEX \S+ \([^)\n]*id=\?\)/);
      expect(plan).not.toMatch(/SCAN audit_events|TEMP B-TREE/);
    } else {
      // The window's IDs first (an InitPlan), through the time index; then each event by its ID.
      expect(plan).toMatch(/InitPlan[\s\S]*audit_events_workspace_created_id/);
      expect(plan).toMatch(/Index Cond: [^\n]*created_at >= /);
      expect(plan).toMatch(/Index Cond: \(id = ANY/);
      expect(plan).not.toMatch(/Seq Scan/);
    }
  });
});
