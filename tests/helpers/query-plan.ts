import { sql } from 'kysely';
import type { Cluster } from './cluster.js';
import { testDialect } from './database.js';

/**
 * The database's plan for a query, as text: SQLite's EXPLAIN QUERY PLAN details, or PostgreSQL's
 * EXPLAIN with sequential scans discouraged (on a test database's few rows PostgreSQL would
 * otherwise scan whatever indexes exist), so a plan naming an index shows the index can serve it.
 * `analyzed` (PostgreSQL, with `filled`): the plan once the table has statistics.
 */
export async function planOf(
  cluster: Cluster,
  query: string,
  options: { filled?: 'audit_events'; analyzed?: boolean } = {},
): Promise<string> {
  const store = cluster.openDatabase();
  try {
    if (testDialect === 'sqlite') {
      const rows = await sql<{ detail: string }>`explain query plan ${sql.raw(query)}`.execute(
        store.db,
      );
      return rows.rows.map((row) => row.detail).join('\n');
    }
    let plan = '';
    try {
      await store.db.transaction().execute(async (trx) => {
        await sql`set local enable_seqscan = off`.execute(trx);
        if (options.filled === 'audit_events') await sql.raw(FILL_AUDIT_EVENTS).execute(trx);
        // Statistics of the filled table, as autovacuum gathers them within a minute of a table's
        // growth (rolled back with the rest).
        if (options.analyzed === true) await sql`analyze audit_events`.execute(trx);
        const rows = await sql<Record<string, string>>`explain ${sql.raw(query)}`.execute(trx);
        plan = rows.rows.map((row) => Object.values(row).join(' ')).join('\n');
        throw ROLLED_BACK;
      });
    } catch (error) {
      if (error !== ROLLED_BACK) throw error;
    }
    return plan;
  } finally {
    await store.close();
  }
}

/** Thrown to roll the plan's transaction back (with what `filled` inserted). */
const ROLLED_BACK = new Error('plan read: rolled back');

/**
 * `filled: 'audit_events'` (PostgreSQL): 20,000 events of workspace 1 inserted in the plan's
 * transaction (rolled back after), not analyzed. On a test table of one page every index whose
 * first column is workspace_id costs the same, so which one PostgreSQL names is a tie (a new
 * index of fewer columns won it, with workspace_id as its only condition); with real pages and no
 * statistics — a new database before autovacuum's first ANALYZE — the plan is the one it makes.
 * Their IDs are negative, given: taken from the sequence, a rolled-back insert would leave 20,000
 * IDs missing that the running instances' change feeds would watch for a minute.
 */
const FILL_AUDIT_EVENTS = `insert into audit_events (id, workspace_id, actor_type, actor_id,
  actor_name, action, target_type, target_id, target_name, created_at)
  select -i, 1, case when i % 3 = 0 then 'api_client' else 'member' end, cast(i % 50 as text), 'Plan',
    case when i % 10 = 0 then 'console.signed_in' else 'member.roles_updated' end, 'member',
    cast(i % 2000 as text), 'Plan',
    to_char(timestamp '2026-11-01' + i * interval '100 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"')
  from generate_series(1, 20000) as n(i)`;
