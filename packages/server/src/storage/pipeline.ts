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
 *
 * Reads at a transaction's start are often independent too (a role's name resolved, a member
 * looked up, a cooldown checked): `readTogether` sends their statements together and then
 * checks each read's result in the order given, so the request fails with the error it failed
 * with when the reads ran in turn.
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

/**
 * A read that can go with others (readTogether): the statements it needs (none when a cache
 * answers) and what it makes of their results, which may be a refusal (an AppError thrown).
 */
export interface PlannedRead<T> {
  readonly statements: readonly CompiledQuery[];
  finish(results: readonly QueryResult<unknown>[]): T | Promise<T>;
}

/**
 * Runs the reads' statements in the transaction `db`, sent together where the driver allows (else
 * in turn), then finishes each read in order: a read whose statement failed throws that failure,
 * and a read that refuses throws its refusal, before any read after it is finished. That is the
 * outcome of running the reads one after the other, each checked before the next. A write whose
 * result is only checked (an invitation's claim: did it update the row?) can go first among them;
 * the transaction rolls back whatever ran if any read refuses.
 */
export async function readTogether<const T extends readonly unknown[]>(
  db: Executor,
  reads: { readonly [K in keyof T]: PlannedRead<T[K]> },
): Promise<T> {
  if (!db.isTransaction) throw new Error('readTogether runs the reads of one transaction');
  const planned = reads as readonly PlannedRead<unknown>[];
  const queries = planned.flatMap((read) => read.statements);
  const settled = await db.getExecutor().provideConnection(async (connection) => {
    if (!pipelines(connection)) {
      // In turn, stopping at the first failure as the reads in turn would.
      const outcomes: PromiseSettledResult<QueryResult<unknown>>[] = [];
      for (const query of queries) {
        try {
          outcomes.push({ status: 'fulfilled', value: await connection.executeQuery(query) });
        } catch (error) {
          outcomes.push({ status: 'rejected', reason: error });
          break;
        }
      }
      return outcomes;
    }
    return Promise.allSettled(queries.map((query) => connection.executeQuery(query)));
  });
  const values: unknown[] = [];
  let next = 0;
  for (const read of planned) {
    const results: QueryResult<unknown>[] = [];
    for (let i = 0; i < read.statements.length; i++) {
      const outcome = settled[next++];
      // Missing: a statement before it failed with the reads in turn (thrown above, by its read).
      if (outcome === undefined) throw new Error('readTogether: a statement was not run');
      if (outcome.status === 'rejected')
        throw outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason));
      results.push(outcome.value);
    }
    values.push(await read.finish(results));
  }
  return values as unknown as T;
}

/** A planned read on its own, in or out of a transaction: its statements in turn, then finished. */
export async function readAlone<T>(db: Executor, read: PlannedRead<T>): Promise<T> {
  const results: QueryResult<unknown>[] = [];
  for (const query of read.statements) results.push(await db.executeQuery(query));
  return read.finish(results);
}

/** A planned read whose result goes through `then`: a check that refuses, or a mapping. */
export function mapRead<T, U>(
  read: PlannedRead<T>,
  then: (value: T) => U | Promise<U>,
): PlannedRead<U> {
  return {
    statements: read.statements,
    finish: async (results) => then(await read.finish(results)),
  };
}

/** The first row of one statement as a planned read (undefined when it returns none). */
export function firstRowRead<R>(statement: CompiledQuery): PlannedRead<R | undefined> {
  return {
    statements: [statement],
    finish: ([result]) => result?.rows[0] as R | undefined,
  };
}

/** The rows of one statement as a planned read (none: no statement, no rows). */
export function rowsRead<R>(statement?: CompiledQuery): PlannedRead<R[]> {
  return {
    statements: statement === undefined ? [] : [statement],
    finish: ([result]) => (result?.rows ?? []) as R[],
  };
}
