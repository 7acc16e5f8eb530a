import { sql } from 'kysely';
import type { Cluster } from './cluster.js';
import { testDialect } from './database.js';

/**
 * The database's plan for a query, as text: SQLite's EXPLAIN QUERY PLAN details, or PostgreSQL's
 * EXPLAIN with sequential scans discouraged (on a test database's few rows PostgreSQL would
 * otherwise scan whatever indexes exist), so a plan naming an index shows the index can serve it.
 */
export async function planOf(cluster: Cluster, query: string): Promise<string> {
  const store = cluster.openDatabase();
  try {
    if (testDialect === 'sqlite') {
      const rows = await sql<{ detail: string }>`explain query plan ${sql.raw(query)}`.execute(
        store.db,
      );
      return rows.rows.map((row) => row.detail).join('\n');
    }
    return await store.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      const rows = await sql<Record<string, string>>`explain ${sql.raw(query)}`.execute(trx);
      return rows.rows.map((row) => Object.values(row).join(' ')).join('\n');
    });
  } finally {
    await store.close();
  }
}
