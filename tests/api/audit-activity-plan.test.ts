/**
 * The dashboard's activity counts (GET /api/audit_events/activity) read the range of days they
 * count through an index on (workspace_id, action, created_at) (migration 0033), not every event
 * of those actions the workspace ever had: checked with the database's own plan on the schema the
 * server migrates to (sequential scans disabled on PostgreSQL, whose test tables are tiny).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { planOf } from '../helpers/query-plan.js';

/** The query countAuditEventsByBucket sends for a full-scope credential, literals inlined. */
const ACTIVITY =
  "select substr(created_at, 1, 10) as bucket, action, count(*) as n from audit_events where workspace_id = 1 and action in ('console.signed_in', 'end_user.decision', 'agent.tool_call') and created_at >= '2026-11-22T00:00:00.000Z' and created_at < '2026-12-06T00:00:00.000Z' group by substr(created_at, 1, 10), action order by substr(created_at, 1, 10), action";

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(async () => {
  await cluster.close();
});

describe('the activity counts', () => {
  it('search the days they count through the (workspace_id, action, created_at) index', async () => {
    const plan = await planOf(cluster, ACTIVITY, { filled: 'audit_events' });
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
