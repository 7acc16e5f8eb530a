/**
 * Statements of one transaction that do not depend on each other's results, sent together.
 *
 * Kysely runs a transaction's statements one after the other: each waits for the answer to the
 * one before. With SQLite's writer thread (sqlite-writer.ts) and PostgreSQL's driver thread
 * (postgres-thread.ts) each wait is a round trip between threads, and on SQLite the transaction
 * holds the write lock all along: under the mixed load a write held it ~2.5 ms for 3.6 answers,
 * half of that the answers waiting for a busy main thread to pick them up (docs/performance.md,
 * "Eleventh round"). A write and the audit event that records it need nothing from each other:
 * sent together they cost one round trip. Both threads run a connection's statements in the
 * order sent, so the result is what running them in turn gives.
 *
 * If one fails, the error thrown is the first failure in statement order, after all have
 * settled, and the caller's transaction rolls back as with statements run in turn. The others may
 * have run (SQLite) or failed as the transaction was aborted (PostgreSQL); the rollback undoes
 * them either way. A SQLite statement that finds its transaction already rolled back by SQLite
 * itself (after SQLITE_FULL, SQLITE_IOERR) is refused by the writer thread rather than run on its
 * own, outside any transaction.
 */
import type { CompiledQuery, DatabaseConnection, QueryResult } from 'kysely';
import type { Executor } from './database.js';

/** A connection whose driver runs statements sent together in order (sqlite-writer.ts, postgres-thread.ts). */
export interface PipeliningConnection extends DatabaseConnection {
  readonly pipelines: true;
}

function pipelines(connection: DatabaseConnection): boolean {
  return (connection as Partial<PipeliningConnection>).pipelines === true;
}

/**
 * Runs `queries` in the transaction `db`, in order, sent together where the driver allows (else
 * one after the other); their results, in the same order.
 */
export async function runTogether(
  db: Executor,
  queries: readonly CompiledQuery[],
): Promise<QueryResult<unknown>[]> {
  // Outside a transaction each statement would commit on its own: a failure after the first
  // would leave a partial write.
  if (!db.isTransaction) throw new Error('runTogether runs statements of one transaction');
  return db.getExecutor().provideConnection(async (connection) => {
    if (!pipelines(connection)) {
      const results: QueryResult<unknown>[] = [];
      for (const query of queries) results.push(await connection.executeQuery(query));
      return results;
    }
    const settled = await Promise.allSettled(
      queries.map((query) => connection.executeQuery(query)),
    );
    const results: QueryResult<unknown>[] = [];
    for (const outcome of settled) {
      if (outcome.status === 'rejected')
        throw outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason));
      results.push(outcome.value);
    }
    return results;
  });
}
