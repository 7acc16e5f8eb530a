/**
 * PostgreSQL with its driver on a worker thread (ROSTER_POSTGRES_DRIVER=thread, the default).
 *
 * With pg on the main thread, every statement's socket write (loopback TCP: the sender's writev
 * carries the TCP stack and the wakeup of the PostgreSQL backend) and the parsing of every result
 * ran on the thread that answers access checks: under the mixed load a third of that thread's
 * busy time was `writev` under pg's query submit (docs/performance.md, "Under mixed load"), and a
 * check that arrived meanwhile waited for it. Here a worker thread owns the pg.Pool (built by
 * postgres-pool.ts exactly as on the main thread) and the main thread only posts each statement
 * and receives its rows, over the worker's one message port:
 *
 *   main → driver thread  {requests: [{id, connection, sql, parameters, begin?}], release, discard}
 *   driver thread → main  [{id, rows, command, rowCount} or {id, error}, …]
 *
 * Each side sends what one turn of its event loop produced as one message: a message wakes the
 * other thread, and under load those wake-ups, not the copying, were the main thread's largest
 * cost (profiled). A Kysely connection here is a number. The driver thread checks a pooled
 * client out on that connection's first statement (acquiring costs no message of its own) and
 * keeps it until the connection is released, so a transaction's statements all go to one client,
 * in order. BEGIN travels with the transaction's first statement (and reaches the backend in
 * the same socket write: pg's pipeline mode, see `run`), and a release with the next statements
 * (fire and forget): a lone statement outside a transaction is one message each way, shared with
 * whatever else that turn sent.
 *
 * Errors cross as their name, message and every plain field (pg's `code`, `constraint`,
 * `detail`, `table`, `column`…; a socket error's `code`, `errno`, `syscall`) and are rebuilt on
 * the main thread, so storage/errors.ts classifies them as before. A driver thread that stops (it
 * should not) fails the statements in flight with `ROSTER_POSTGRES_THREAD_LOST` (a 503) and a new
 * one starts on the next statement.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker, type MessagePort } from 'node:worker_threads';
import {
  AbortedTransactionError,
  CompiledQuery,
  IdentifierNode,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  RawNode,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import { Slots } from '../lib/slots.js';
import { DRIVER_THREAD_LOST } from './errors.js';
import type { PipeliningConnection } from './pipeline.js';
import { createPostgresPool, type PostgresPoolOptions } from './postgres-pool.js';
import {
  defaultStoreThreads,
  LOWER_OWN_PRIORITY,
  storeWorkerOptions,
  threadErrorText,
  type StoreThreadOptions,
} from './store-threads.js';

/** A statement (or the end of the pool) the main thread asks for. */
interface Request {
  id: number;
  kind?: 'end';
  connection?: number;
  sql?: string;
  parameters?: readonly unknown[];
  /** BEGIN (or START TRANSACTION …), run on the connection just before `sql`. */
  begin?: string;
  /** The connection's last statement (a COMMIT): its client goes back to the pool once it ran. */
  last?: boolean;
}

/** One message from the main thread: what this turn of its event loop asked for. */
interface Batch {
  requests: Request[];
  /** Connections the main thread is done with: their clients go back to the pool. */
  release: number[];
  /** The same, for clients the pool must close rather than reuse (a failed ROLLBACK). */
  discard: number[];
}

/** A driver error as it crosses to the main thread. */
interface CrossingError {
  name: string;
  message: string;
  stack: string;
  /** The error's own plain fields: pg's code, constraint, detail, table, column, … */
  fields: Record<string, string | number | boolean | null>;
}

/**
 * A statement's answer, or a part of its rows ahead of it (`part`, a big result's rows in slices,
 * so the main thread decodes each in its own turn of the event loop and checks interleave).
 * Rows whose columns are all of types JSON carries unchanged cross as JSON text (`json`):
 * JSON.parse on the main thread costs about a third of decoding the same objects' structured
 * clone; others (a timestamptz's Date) cross as the clone (`rows`).
 */
interface Reply {
  id: number;
  part?: string | unknown[];
  json?: string;
  rows?: unknown[];
  /**
   * Set when a column is bytea: pg gives a Buffer, which the structured clone turns into a plain
   * Uint8Array, so the main thread makes each a Buffer again (as the driver on the main thread
   * returns it).
   */
  bytea?: true;
  command?: string;
  rowCount?: number | null;
  error?: CrossingError;
}

/**
 * The driver thread's loop, run from its source text (see WORKER_SOURCE): like
 * createPostgresPool it may use only its parameters and the globals of any thread.
 */
export function runDriverThread(port: MessagePort, pool: pg.Pool): void {
  /**
   * The column types (OIDs) whose values pg gives as JSON's own (text, numbers as integers or
   * strings, booleans, parsed JSON): bool, int8 (a string), int2, int4, text, oid, json, char,
   * name, bpchar, varchar, numeric (a string), uuid, jsonb. Not floats (NaN), dates, bytea.
   */
  const JSON_TYPES = new Set([16, 20, 21, 23, 25, 26, 114, 18, 19, 1042, 1043, 1700, 2950, 3802]);
  /** Rows per message of a big result (a workspace's index load reads up to 100,000s). */
  const ROWS_PER_PART = 1_000;
  interface Held {
    client: pg.PoolClient | undefined;
    acquiring: Promise<pg.PoolClient>;
  }
  const held = new Map<number, Held>();
  const hold = (connection: number): Held => {
    const existing = held.get(connection);
    if (existing !== undefined) return existing;
    const acquiring = pool.connect();
    const entry: Held = { client: undefined, acquiring };
    // Registered first, so the client is known before any statement waiting for it runs. A
    // failed acquisition fails those statements; the release that follows has nothing to give.
    acquiring.then(
      (client) => {
        entry.client = client;
      },
      () => undefined,
    );
    held.set(connection, entry);
    return entry;
  };
  const release = (connection: number, discard: boolean) => {
    const entry = held.get(connection);
    if (entry === undefined) return;
    held.delete(connection);
    if (entry.client !== undefined) entry.client.release(discard);
    else
      entry.acquiring.then(
        (client) => {
          client.release(discard);
        },
        () => undefined,
      );
  };
  const crossing = (error: unknown): CrossingError => {
    if (!(error instanceof Error))
      return { name: 'Error', message: String(error), stack: '', fields: {} };
    const fields: CrossingError['fields'] = {};
    for (const [key, value] of Object.entries(error) as [string, unknown][]) {
      if (
        value === null ||
        typeof value === 'string' ||
        typeof value === 'number' ||
        typeof value === 'boolean'
      )
        fields[key] = value;
    }
    return { name: error.name, message: error.message, stack: error.stack ?? '', fields };
  };
  // The replies of one turn of this thread's event loop go as one message (each message wakes
  // the main thread: one wake-up a turn, not one a statement).
  let replies: Reply[] = [];
  const flush = () => {
    const sending = replies;
    replies = [];
    port.postMessage(sending);
  };
  const reply = (answer: Reply) => {
    if (replies.push(answer) === 1) setImmediate(flush);
  };
  const run = async (id: number, connection: number, request: Request) => {
    let failed = false;
    try {
      const entry = hold(connection);
      const client = entry.client ?? (await entry.acquiring);
      // An array for a text of several statements (a migration): as with Kysely's own driver,
      // no rows then.
      let result: pg.QueryResult | pg.QueryResult[];
      if (request.begin === undefined)
        result = await client.query(request.sql ?? '', request.parameters as unknown[]);
      else {
        // BEGIN and the transaction's first statement in one write (pg's pipeline mode, see
        // postgres-pool.ts, queues neither behind the other's answer; the cork gathers both
        // writes into one): one round trip to the backend instead of two, and one wake-up of
        // this thread less. Each carries its own Sync, so a failing statement leaves the
        // transaction aborted exactly as after a BEGIN awaited alone.
        const stream = (client as unknown as { connection: { stream: NodeJS.WritableStream } })
          .connection.stream as NodeJS.WritableStream & { cork(): void; uncork(): void };
        let begun: Promise<unknown>;
        let statement: Promise<pg.QueryResult | pg.QueryResult[]>;
        stream.cork();
        try {
          begun = client.query(request.begin);
          statement = client.query(request.sql ?? '', request.parameters as unknown[]);
        } finally {
          stream.uncork();
        }
        // Both settle; a failed BEGIN (a lost connection: the statement fails with it) is the
        // error reported, as when it was awaited first.
        statement.catch(() => undefined);
        await begun;
        result = await statement;
      }
      if (Array.isArray(result)) {
        reply({ id, rows: [] });
        return;
      }
      const { command, rowCount, rows, fields } = result;
      const asJson = fields.every((field) => JSON_TYPES.has(field.dataTypeID));
      const bytea = !asJson && fields.some((field) => field.dataTypeID === 17) ? true : undefined;
      let from = 0;
      for (; rows.length - from > ROWS_PER_PART; from += ROWS_PER_PART) {
        const part = rows.slice(from, from + ROWS_PER_PART);
        // A part alone: the main thread decodes each in a turn of its own.
        port.postMessage([
          { id, part: asJson ? JSON.stringify(part) : part, bytea } satisfies Reply,
        ]);
      }
      const last = from === 0 ? rows : rows.slice(from);
      reply(
        asJson
          ? { id, json: JSON.stringify(last), command, rowCount }
          : { id, rows: last, bytea, command, rowCount },
      );
    } catch (error) {
      failed = true;
      reply({ id, error: crossing(error) });
    } finally {
      // A COMMIT ends the transaction on the backend whatever its outcome (a failed one rolls
      // back): the client is free now, not when the main thread's release would arrive. One
      // whose COMMIT failed is closed rather than reused (its connection may be what failed),
      // as a failed ROLLBACK's is.
      if (request.last === true) release(connection, failed);
    }
  };
  port.on('message', (batch: Batch) => {
    for (const connection of batch.release) release(connection, false);
    for (const connection of batch.discard) release(connection, true);
    for (const request of batch.requests) {
      const { id } = request;
      if (request.kind === 'end') {
        pool.end().then(
          () => {
            reply({ id, rows: [] });
          },
          (error: unknown) => {
            reply({ id, error: crossing(error) });
          },
        );
      } else if (request.connection !== undefined) void run(id, request.connection, request);
    }
  });
}

/**
 * The driver thread's code, run with `eval` so that it is the same plain JavaScript whether the
 * server runs from dist/ or from the TypeScript sources (tests): the two functions' compiled text.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const createPostgresPool = ${createPostgresPool.toString()};
${LOWER_OWN_PRIORITY}
// This thread's id in the process (Linux), so the main thread can read its CPU time
// (postgresThreadStats): the first message, before any reply.
if (tid !== undefined) parentPort.postMessage({ tid });
(${runDriverThread.toString()})(parentPort, createPostgresPool(pg, workerData.options));
`;

/** Makes the byte arrays of rows Buffers again, in place (see Reply's `bytea`). */
function buffersAgain(rows: unknown[]): void {
  for (const row of rows as Record<string, unknown>[])
    for (const key in row) {
      const value = row[key];
      if (value instanceof Uint8Array && !Buffer.isBuffer(value))
        row[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
}

class DriverThreadError extends Error {
  override readonly name = 'PostgresDriverThreadError';
  readonly code = DRIVER_THREAD_LOST;
}

/** A driver error rebuilt on the main thread with the fields the driver thread gave it. */
function rebuilt(crossed: CrossingError): Error {
  const error = new Error(crossed.message);
  Object.assign(error, crossed.fields);
  error.name = crossed.name;
  if (crossed.stack !== '') error.stack = crossed.stack;
  return error;
}

let statementsSent = 0;
/** The driver threads running now, with their thread ids (Linux) once they have said them. */
const running = new Map<Worker, number | undefined>();
/** CPU time (ms) of the driver threads that have stopped, so the total never goes back. */
let stoppedCpuMs = 0;

/** A thread's CPU time (user + system, ms) from /proc, or 0 where there is none. */
function threadCpuMs(tid: number | undefined): number {
  if (tid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ');
    if (fields === undefined) return 0;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * What this process's driver threads have done: the statements they were sent (BEGIN counted
 * apart), the time their event loops were busy (ms, wall time, the threads running now) and
 * their CPU time (ms, Linux; 0 elsewhere), which the mixed-load bench reports per request
 * (bench/mixed-server.mjs).
 */
export function postgresThreadStats(): { statements: number; busyMs: number; cpuMs: number } {
  let busyMs = 0;
  let cpuMs = stoppedCpuMs;
  for (const [worker, tid] of running) {
    busyMs += worker.performance.eventLoopUtilization().active;
    cpuMs += threadCpuMs(tid);
  }
  return { statements: statementsSent, busyMs, cpuMs };
}

function stopped(worker: Worker): void {
  if (!running.has(worker)) return;
  stoppedCpuMs += threadCpuMs(running.get(worker));
  running.delete(worker);
}

interface Waiter {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  parts?: unknown[];
}

class DriverThread {
  private worker: Worker | undefined;
  /** Which driver thread a connection's client lives on: a new thread has none of the old's. */
  generation = 0;
  private readonly pending = new Slots<Waiter>();
  /** What goes to the driver thread at the end of this turn of the event loop. */
  private outbox: Batch = { requests: [], release: [], discard: [] };
  private flushScheduled = false;
  private closed = false;
  private readonly pgPath = createRequire(import.meta.url).resolve('pg');

  constructor(
    private readonly options: PostgresPoolOptions,
    /** Its heap cap (a result that outgrows it stops the thread) and priority: store-threads.ts. */
    private readonly threads: StoreThreadOptions,
  ) {}

  /** The current thread's generation, starting a thread if there is none. */
  current(): number {
    if (this.closed) throw new Error('the PostgreSQL store is closed');
    if (this.worker === undefined) this.start();
    return this.generation;
  }

  private start(): void {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        pgPath: this.pgPath,
        options: { ...this.options, pipeline: true },
        nice: this.threads.nice,
      },
      ...storeWorkerOptions(this.threads),
    });
    // The thread keeps the process alive only while a statement is in flight (see send).
    worker.unref();
    worker.on('message', (replies: Reply[] | { tid: number }) => {
      if (!Array.isArray(replies)) {
        if (running.has(worker)) running.set(worker, replies.tid);
        return;
      }
      // Statement ids are reused (lib/slots.ts): a late reply from a thread already given up for lost
      // must not answer the new thread's statement that now holds its id.
      if (this.worker !== worker) return;
      for (const reply of replies) this.answer(reply);
    });
    worker.on('error', (error) => {
      this.lost(worker, threadErrorText(error));
    });
    worker.on('exit', (code) => {
      this.lost(worker, `exit code ${code}`);
    });
    this.worker = worker;
    running.set(worker, undefined);
    this.generation += 1;
    this.outbox = { requests: [], release: [], discard: [] };
  }

  private lost(worker: Worker, why: string): void {
    stopped(worker);
    if (this.worker !== worker) return;
    this.worker = undefined;
    const error = new DriverThreadError(
      `The PostgreSQL driver thread stopped (${why}); the statements in flight may or may not have run.`,
    );
    for (const waiter of this.pending.drain()) waiter.reject(error);
    process.emitWarning(`${error.message} A new one starts on the next statement.`);
  }

  private answer(reply: Reply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) return;
    if (reply.part !== undefined) {
      const rows =
        typeof reply.part === 'string' ? (JSON.parse(reply.part) as unknown[]) : reply.part;
      if (reply.bytea === true) buffersAgain(rows);
      if (waiter.parts === undefined) waiter.parts = rows;
      else for (const row of rows) waiter.parts.push(row);
      return;
    }
    this.pending.take(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.error !== undefined) {
      waiter.reject(rebuilt(reply.error));
      return;
    }
    let rows =
      reply.json === undefined ? (reply.rows ?? []) : (JSON.parse(reply.json) as unknown[]);
    if (reply.bytea === true) buffersAgain(rows);
    if (waiter.parts !== undefined) {
      for (const row of rows) waiter.parts.push(row);
      rows = waiter.parts;
    }
    // Only what executeQuery reads (a copy of the whole reply was 1/4 of this function's time).
    waiter.resolve({ id: reply.id, command: reply.command, rowCount: reply.rowCount, rows });
  }

  /**
   * Sends a request at the end of this turn of the event loop, with every other request and
   * release of the turn (one message: posting one wakes the driver thread, and under load the
   * wake-ups were the main thread's largest cost), and waits for its reply.
   */
  send(request: Omit<Request, 'id'>, generation: number): Promise<Reply> {
    const worker = this.worker;
    if (this.closed) return Promise.reject(new Error('the PostgreSQL store is closed'));
    if (worker === undefined || generation !== this.generation)
      return Promise.reject(
        new DriverThreadError(
          'The connection was lost with the PostgreSQL driver thread that held it.',
        ),
      );
    if (this.pending.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      const id = this.pending.add({ resolve, reject });
      this.outbox.requests.push({ ...request, id });
      this.scheduleFlush();
    });
  }

  /** Gives a connection's client back, with the turn's other requests. Fire and forget. */
  release(connection: number, generation: number, discard: boolean): void {
    if (generation !== this.generation || this.worker === undefined) return;
    (discard ? this.outbox.discard : this.outbox.release).push(connection);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = this.outbox;
      this.outbox = { requests: [], release: [], discard: [] };
      const worker = this.worker;
      if (worker === undefined) return;
      try {
        worker.postMessage(batch);
      } catch {
        // A parameter the structured clone cannot carry (a function): that statement fails with
        // the DataCloneError, not the turn's others (nor the process: this runs in setImmediate).
        worker.postMessage({ requests: [], release: batch.release, discard: batch.discard });
        for (const request of batch.requests) {
          try {
            worker.postMessage({ requests: [request], release: [], discard: [] });
          } catch (error) {
            const waiter = this.pending.take(request.id);
            waiter?.reject(error instanceof Error ? error : new Error(String(error)));
          }
        }
        if (this.pending.size === 0) worker.unref();
      }
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (this.closed) return;
    if (worker !== undefined) {
      try {
        await this.send({ kind: 'end' }, this.generation);
      } finally {
        this.closed = true;
        this.worker = undefined;
        stopped(worker);
        await worker.terminate();
      }
    }
    this.closed = true;
  }
}

class ThreadConnection implements PipeliningConnection {
  /**
   * Statements sent together go in one message, and the driver thread queues them on the
   * connection's client in that order (pg's pipeline mode): storage/pipeline.ts.
   */
  readonly pipelines = true;
  /** The driver thread holding this connection's client: set by its first statement. */
  generation: number | undefined;
  /** BEGIN not sent yet: it goes with the transaction's first statement. */
  beginPending: string | undefined;
  /** A failed ROLLBACK: the client must not be reused. */
  discard = false;
  /** Its client went back to the pool with its last statement so far (a COMMIT): none to release. */
  released = false;

  constructor(
    readonly id: number,
    private readonly thread: DriverThread,
  ) {}

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    return this.run<R>(compiled, false);
  }

  /**
   * Runs the transaction's COMMIT as the connection's last statement: the driver thread gives
   * the client back to the pool as soon as the backend answered, without waiting for this
   * thread's release, which came only after a turn of a busy event loop had read the answer.
   * Held that long, the 10 clients were taken by transactions already over while others waited.
   */
  commit<R>(): Promise<QueryResult<R>> {
    this.released = true;
    return this.run<R>(CompiledQuery.raw('commit'), true);
  }

  private async run<R>(compiled: CompiledQuery, last: boolean): Promise<QueryResult<R>> {
    // A connection used on after its COMMIT (Kysely's `connection()`, the migrator's): the
    // driver thread takes a client for it again, which its release then gives back.
    if (!last) this.released = false;
    this.generation ??= this.thread.current();
    const begin = this.beginPending;
    this.beginPending = undefined;
    statementsSent += begin === undefined ? 1 : 2;
    const { command, rowCount, rows } = await this.thread.send(
      {
        connection: this.id,
        sql: compiled.sql,
        parameters: compiled.parameters,
        begin,
        ...(last ? { last } : {}),
      },
      this.generation,
    );
    // As Kysely's PostgresConnection answers them (its commitTransaction reads the command).
    if (command === 'ROLLBACK' || command === 'COMMIT') return { rows: [{ command } as R] };
    return {
      numAffectedRows:
        command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
          ? BigInt(rowCount ?? 0)
          : undefined,
      rows: (rows ?? []) as R[],
    };
  }

  // Kysely's interface is an async generator; nothing in Roster streams from PostgreSQL.
  // eslint-disable-next-line require-yield, @typescript-eslint/require-await
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the PostgreSQL store does not stream query results');
  }

  release(): void {
    if (this.generation !== undefined && !this.released)
      this.thread.release(this.id, this.generation, this.discard);
  }
}

/** The connection Kysely hands back to the driver is always one of ours. */
function threaded(connection: DatabaseConnection): ThreadConnection {
  if (!(connection instanceof ThreadConnection))
    throw new Error('the PostgreSQL driver was handed a connection it did not make');
  return connection;
}

function savepointCommand(command: string, name: string) {
  return RawNode.createWithChildren([
    RawNode.createWithSql(`${command} `),
    IdentifierNode.create(name),
  ]);
}

class PostgresThreadDriver implements Driver {
  private readonly thread: DriverThread;
  private nextConnection = 1;

  constructor(options: PostgresPoolOptions, threads: StoreThreadOptions) {
    this.thread = new DriverThread(options, threads);
  }

  // The driver thread starts on the first statement.
  init(): Promise<void> {
    return Promise.resolve();
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(new ThreadConnection(this.nextConnection++, this.thread));
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let begin = 'begin';
    if (settings.isolationLevel !== undefined || settings.accessMode !== undefined) {
      begin = 'start transaction';
      if (settings.isolationLevel !== undefined)
        begin += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode !== undefined) begin += ` ${settings.accessMode}`;
    }
    threaded(connection).beginPending = begin;
    return Promise.resolve();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const opened = threaded(connection);
    // A transaction that ran no statement never began.
    if (opened.beginPending !== undefined) {
      opened.beginPending = undefined;
      return;
    }
    const { rows } = await opened.commit<{ command?: string }>();
    // PostgreSQL completes COMMIT with a ROLLBACK tag if an earlier statement's error left the
    // transaction aborted.
    if (rows[0]?.command === 'ROLLBACK') throw new AbortedTransactionError();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const opened = threaded(connection);
    // After a COMMIT, failed or not, PostgreSQL has ended the transaction, and its client is back
    // in the pool (commit): a ROLLBACK now would take another client for nothing.
    if (opened.released) return;
    if (opened.beginPending !== undefined) {
      opened.beginPending = undefined;
      return;
    }
    try {
      await opened.executeQuery(CompiledQuery.raw('rollback'));
    } catch (error) {
      opened.discard = true;
      throw error;
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('savepoint', name), createId()));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('rollback to', name), createId()));
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await connection.executeQuery(compile(savepointCommand('release', name), createId()));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    threaded(connection).release();
    return Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.thread.close();
  }
}

let queryIds = 0;
function createId(): { queryId: string } {
  queryIds += 1;
  return { queryId: `postgres-thread-${queryIds}` };
}

/** The Kysely dialect of PostgreSQL with its driver on a worker thread (see above). */
export function postgresThreadDialect(
  options: PostgresPoolOptions,
  threads: StoreThreadOptions = defaultStoreThreads('postgres-driver'),
): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PostgresThreadDriver(options, threads),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
