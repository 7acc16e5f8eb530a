/**
 * The PostgreSQL pool of the store, built the same way whichever thread owns it: on the main
 * thread (ROSTER_POSTGRES_DRIVER=main) or on the driver thread (postgres-thread.ts, the default).
 *
 * `createPostgresPool` is self-contained on purpose: the driver thread runs it from its source
 * text (`createPostgresPool.toString()`), so the same code runs from dist/ and from the TypeScript
 * sources in tests. It may use only its parameters and the globals of any thread (no import, no
 * module-level name): a reference to one would fail in the driver thread, on its first statement.
 */
import type pg from 'pg';

export interface PostgresPoolOptions {
  connectionString: string;
  max: number;
  /** How long a request waits for a connection before it fails (503). */
  connectionTimeoutMillis: number;
  /** The longest one statement may run. */
  statementTimeoutMillis: number;
  /** How many distinct statement texts get a prepared statement on each connection. */
  preparedStatements: number;
  /**
   * pg's pipeline mode: a query is written as soon as it is queued, not when the one before it
   * is answered. The driver thread uses it to send a transaction's BEGIN in the same write as
   * its first statement (postgres-thread.ts); Kysely's own driver never queues two queries on
   * one client, so for it the mode would change nothing.
   */
  pipeline?: boolean;
}

export function createPostgresPool(pgModule: typeof pg, options: PostgresPoolOptions): pg.Pool {
  // The name each statement text is prepared under (see PreparingClient below). Any DDL (a
  // migration, in this process or another) may change what a prepared statement returns ("cached
  // plan must not change result type"): after one, or that error, statements are named afresh,
  // so each connection prepares them again.
  const statementNames = new Map<string, string>();
  let generation = 0;
  const forgetStatementNames = () => {
    statementNames.clear();
    generation += 1;
  };
  /**
   * The name a statement text is prepared under, or undefined for one that is not worth it (or
   * must not be): only reads and writes with parameters, Kysely's compiled shapes, whose texts are
   * few; never DDL.
   */
  const statementName = (text: string): string | undefined => {
    const cached = statementNames.get(text);
    if (cached !== undefined) return cached;
    if (!/^\s*(select|insert|update|delete|with)\b/i.test(text)) {
      if (/^\s*(create|alter|drop)\b/i.test(text)) forgetStatementNames();
      return undefined;
    }
    if (statementNames.size >= options.preparedStatements) return undefined;
    const name = `roster_${generation}_${statementNames.size}`;
    statementNames.set(text, name);
    return name;
  };

  /**
   * A pg client that runs Kysely's parameterised statements as named prepared statements:
   * PostgreSQL then parses and plans each text once per connection instead of on every call
   * (Kysely's driver sends every query unnamed, which PostgreSQL parses, plans and describes anew
   * each time; under the mixed load a write request sends ten to twenty of them). The plan is
   * PostgreSQL's generic or custom choice as for any prepared statement.
   */
  class PreparingClient extends pgModule.Client {
    // pg's query() has many overloads (callbacks, config objects, cursors); only the form Kysely
    // uses, (text, values) with no callback, is changed, and the rest passes through as it came.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
    override query(...args: any[]): any {
      const [text, values] = args as [unknown, unknown];
      if (
        typeof text === 'string' &&
        Array.isArray(values) &&
        values.length > 0 &&
        args.length === 2
      ) {
        const name = statementName(text);
        if (name !== undefined) {
          return new Promise<pg.QueryResult>((resolve, reject) => {
            // The query built here from the text, not from a config object: pg copies a config
            // object through its property descriptors (cloneQueryConfig), a slow path of V8's
            // that was 2% of the driver thread's time; the name is a plain field read when the
            // query is sent.
            const done = (error: Error | null, result: pg.QueryResult) => {
              if (error === null) {
                resolve(result);
                return;
              }
              if ((error as { code?: unknown }).code === '0A000') forgetStatementNames();
              // As pg's promise does: the stack leads back to the caller, not to the socket read.
              Error.captureStackTrace(error);
              reject(error);
            };
            // @types/pg leaves out the callback argument, and the name as a field.
            const query = new (
              pgModule.Query as unknown as new (
                text: string,
                values: unknown[],
                callback: typeof done,
              ) => pg.Query & { name?: string }
            )(text, values, done);
            query.name = name;
            super.query(query);
          });
        }
      }
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- passed on as received
      return super.query(...(args as [any]));
    }
  }

  // Timestamps and JSON are stored as text (see database.ts), and COUNT(*) is cast to integer
  // in queries, so no pg type parser needs changing.
  const pool = new pgModule.Pool({
    Client: PreparingClient,
    connectionString: options.connectionString,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
    statement_timeout: options.statementTimeoutMillis,
    pipeline: options.pipeline === true,
    // A peer that vanished without closing the socket (a failover, a dropped route) is noticed.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle connection the server ends (restart, failover, admin kill) must not crash the
  // process: the pool drops it and the next query opens a new one.
  pool.on('error', (error) => {
    process.emitWarning(`PostgreSQL connection lost: ${error.message}`);
  });
  // pg-pool takes its error listener off a connection while it is checked out, and a pg Client
  // emits 'error' when its server ends it between two queries (57P01 after pg_terminate_backend
  // or a shutdown, "Connection terminated unexpectedly"): with no listener, Node ends the
  // process (or the driver thread). This one stays for the connection's life; the failure itself
  // reaches the query that runs next (the client is no longer queryable), and the pool discards
  // the connection when it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}
