/**
 * SQLite with its writes on a worker thread. better-sqlite3 is synchronous: a write that waits —
 * a COMMIT whose write() the kernel throttles, a WAL checkpoint's fsync, another process's write
 * lock (busy_timeout, up to 5 s) — stops the main thread, and with it every access check. Under
 * the mixed load (bench/mixed.mjs) commits took 0.34–0.44 ms on average and single ones tens of
 * milliseconds, on the thread that answers checks.
 *
 * So a file database has two connections (WAL lets them work side by side):
 * - the **writer**, owned by a worker thread: every transaction runs there, from BEGIN to COMMIT,
 *   its reads included (they see the transaction's own writes), and so does every statement that
 *   writes outside a transaction; one at a time, in arrival order (the write lock below);
 * - the **reader**, on the main thread: statements outside a transaction that only read run there,
 *   in the main thread's slices (lib/main-thread-slices.ts). A read after a write's reply sees it
 *   (WAL: a new read sees every commit).
 *
 * Checks never touch SQLite (the in-memory index answers them), so while a write is in flight,
 * even one stuck behind another process's lock, they keep being answered. `:memory:` databases
 * (tests) cannot be shared by two connections and keep the single main-thread connection.
 *
 * A writer thread that stops (out of its heap, ROSTER_STORE_THREAD_HEAP_MB, on a transaction
 * reading a huge result) fails the statements in flight, and the rest of their transactions, with
 * `ROSTER_SQLITE_WRITER_LOST` (a 503); a new thread opens the file on the next write. SQLite
 * itself rolls back what the lost thread had not committed.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { mainThreadSlices } from '../lib/main-thread-slices.js';
import { Slots } from '../lib/slots.js';
import { SQLITE_WRITER_LOST } from './errors.js';
import type { PipeliningConnection } from './pipeline.js';
import {
  Checkpointer,
  SQLITE_AUTOCHECKPOINT_PAGES,
  STARTS_AFTER_WRITES,
  type CheckpointTotals,
} from './sqlite-checkpointer.js';
import {
  defaultStoreThreads,
  LOWER_OWN_PRIORITY,
  storeWorkerOptions,
  threadErrorText,
  type StoreThreadOptions,
} from './store-threads.js';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';

/** The pragmas both connections of a file database run (connect.ts explains the values). */
export const SQLITE_PRAGMAS = [
  'journal_mode = WAL',
  'foreign_keys = ON',
  'busy_timeout = 5000',
  'synchronous = NORMAL',
  'cache_size = -8000',
] as const;

/** How many prepared statements a connection keeps (distinct SQL texts, oldest dropped first). */
export const SQLITE_STATEMENT_CACHE_SIZE = 1_000;

/**
 * Kysely's SQLite driver prepares every query it runs, and SQLite's prepare (parse, plan) cost
 * more than most of Roster's queries themselves (12% of the server's CPU under the mixed load).
 * The texts are few (Kysely compiles the same shapes with parameters), so each is prepared once
 * and reused. A statement still being iterated (a streamed query) is busy: that query gets a fresh one.
 */
export function statementCache(database: SQLite.Database): (text: string) => SQLite.Statement {
  const statements = new Map<string, SQLite.Statement>();
  return (text) => {
    const cached = statements.get(text);
    if (cached !== undefined && !cached.busy) return cached;
    const statement = database.prepare(text);
    if (cached !== undefined) return statement;
    if (statements.size >= SQLITE_STATEMENT_CACHE_SIZE) {
      const oldest = statements.keys().next().value;
      if (oldest !== undefined) statements.delete(oldest);
    }
    statements.set(text, statement);
    return statement;
  };
}

/**
 * The worker's code, run with `eval` so that it is the same plain JavaScript whether the server
 * runs from dist/ or from the TypeScript sources (tests): it opens the writer connection and runs
 * what it is sent, one message at a time, answering each with its rows or its error's code.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driverPath);
${LOWER_OWN_PRIORITY}
let db;
const statements = new Map();
function prepare(text) {
  const cached = statements.get(text);
  if (cached !== undefined && !cached.busy) return cached;
  const statement = db.prepare(text);
  if (cached !== undefined) return statement;
  if (statements.size >= workerData.cacheSize) statements.delete(statements.keys().next().value);
  statements.set(text, statement);
  return statement;
}
function open() {
  db = new SQLite(workerData.file);
  for (const pragma of workerData.pragmas) db.pragma(pragma);
  db.pragma('wal_autocheckpoint = ' + workerData.autocheckpoint);
}
parentPort.on('message', (message) => {
  const { id } = message;
  try {
    if (message.kind === 'open') {
      open();
      parentPort.postMessage({ id, rows: [] });
      return;
    }
    // A thread started after another stopped opens the file on its first statement.
    if (db === undefined && message.kind !== 'close') open();
    if (message.kind === 'close') {
      db?.close();
      parentPort.postMessage({ id, rows: [] });
      return;
    }
    if (message.kind === 'autocheckpoint') {
      // The writer's automatic checkpoint (sqlite-checkpointer.ts); it takes effect at the next
      // COMMIT, whichever transaction is open now.
      workerData.autocheckpoint = Number(message.pages);
      db.pragma('wal_autocheckpoint = ' + workerData.autocheckpoint);
      parentPort.postMessage({ id, rows: [] });
      return;
    }
    if (message.kind === 'commit') {
      // The main thread let the write lock go when it sent this (SqliteSplitDriver's
      // commitTransaction): the next transaction's statements may be queued right behind it. A COMMIT that fails
      // (SQLITE_FULL, SQLITE_IOERR, a deferred constraint) may leave the transaction open, so it
      // is rolled back here, before them: they begin on a clean connection, and nothing of the
      // failed one is stored. Its caller gets the COMMIT's error.
      try {
        prepare('commit').run();
      } catch (error) {
        try {
          if (db.inTransaction) prepare('rollback').run();
        } catch {
          // The COMMIT's error is the one to report; SQLite may have rolled back already.
        }
        throw error;
      }
      parentPort.postMessage({ id, rows: [] });
      return;
    }
    if (message.kind === 'rollback') {
      // After SQLITE_FULL or SQLITE_IOERR SQLite may have rolled back already: then there is
      // nothing to do, and the caller must see the cause, not "no transaction is active".
      try {
        if (db.inTransaction) prepare('rollback').run();
      } catch (error) {
        if (db.inTransaction) throw error;
      }
      parentPort.postMessage({ id, rows: [] });
      return;
    }
    // A transaction's BEGIN travels with its first statement (one round trip fewer). IMMEDIATE:
    // every transaction here writes, and a deferred one that read first and then meets another
    // process's write lock (the CLI, a backup, a second server) fails at once with SQLITE_BUSY —
    // SQLite cannot wait there without risking a deadlock — where IMMEDIATE waits (busy_timeout)
    // and then reads what the other committed.
    if (message.begin === true) prepare('begin immediate').run();
    else if (message.transaction === true && !db.inTransaction) {
      // SQLite rolled the transaction back when an earlier statement failed (SQLITE_FULL,
      // SQLITE_IOERR, a failed BEGIN): one sent together with it (storage/pipeline.ts) must not
      // run on its own, committed outside any transaction. The earlier failure is the one reported.
      const error = new Error(
        'The transaction was rolled back by an earlier failure; this statement did not run.',
      );
      error.code = 'SQLITE_ABORT';
      throw error;
    }
    const statement = prepare(message.sql);
    if (statement.reader) {
      parentPort.postMessage({ id, rows: statement.all(message.parameters) });
    } else {
      const { changes, lastInsertRowid } = statement.run(message.parameters);
      parentPort.postMessage({ id, rows: [], changes, lastInsertRowid });
    }
  } catch (error) {
    parentPort.postMessage({
      id,
      error: { name: error.name, message: error.message, code: error.code },
    });
  }
});
`;

interface Reply {
  id: number;
  rows: unknown[];
  changes?: number | bigint;
  lastInsertRowid?: number | bigint;
  error?: { name: string; message: string; code?: string };
}

/** A driver error rebuilt on the main thread with its `code`, which storage/errors.ts classifies. */
class SqliteWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

/**
 * What the write lock did since start (/metrics, `roster_sqlite_write_lock_*`): the writes are
 * one at a time, so the lock's busy share is the share of the store's write capacity in use.
 */
export interface WriteLockTotals {
  /** Transactions and lone writes that took the lock. */
  acquisitions: number;
  /**
   * Seconds it was held: a transaction's from its BEGIN to its COMMIT sent, a lone write's to
   * its answer.
   */
  heldSeconds: number;
  /** Seconds writes spent waiting for it, summed over the writes. */
  waitSeconds: number;
  /** Writes waiting for it now. */
  waiting: number;
}

/** First come, first served: each waiter is woken alone, in order. */
class WriteLock {
  private held = false;
  private readonly waiters: { wake: () => void; since: number }[] = [];
  private heldSince = 0;
  private acquisitions = 0;
  private heldMs = 0;
  private waitMs = 0;
  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      this.acquired(performance.now());
      return Promise.resolve();
    }
    return new Promise((wake) => this.waiters.push({ wake, since: performance.now() }));
  }
  unlock(): void {
    const now = performance.now();
    this.heldMs += now - this.heldSince;
    const next = this.waiters.shift();
    if (next === undefined) {
      this.held = false;
      return;
    }
    this.waitMs += now - next.since;
    this.acquired(now);
    next.wake();
  }
  /** Transactions and lone writes so far. */
  get count(): number {
    return this.acquisitions;
  }
  private acquired(now: number): void {
    this.heldSince = now;
    this.acquisitions += 1;
  }
  /** Monotonic: a hold or a wait in progress counts up to now, and in full once it ends. */
  totals(): WriteLockTotals {
    const now = performance.now();
    const holding = this.held ? now - this.heldSince : 0;
    const waiting = this.waiters.reduce((sum, waiter) => sum + (now - waiter.since), 0);
    return {
      acquisitions: this.acquisitions,
      heldSeconds: (this.heldMs + holding) / 1000,
      waitSeconds: (this.waitMs + waiting) / 1000,
      waiting: this.waiters.length,
    };
  }
}

class WriterThread {
  private worker: Worker | undefined;
  /** Which thread a transaction began on: a new thread has none of the old one's. */
  generation = 0;
  private readonly pending = new Slots<{
    resolve: (reply: Reply) => void;
    reject: (error: Error) => void;
  }>();
  private closed = false;
  readonly driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  /** The writer connection's automatic checkpoint, in pages (sqlite-checkpointer.ts). */
  private autocheckpointPages = SQLITE_AUTOCHECKPOINT_PAGES;

  constructor(
    private readonly file: string,
    private readonly threads: StoreThreadOptions,
  ) {}

  /** The current thread's generation, starting a thread if there is none. */
  current(): number {
    if (this.worker === undefined && !this.closed) this.start();
    return this.generation;
  }

  private start(): void {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file: this.file,
        driverPath: this.driverPath,
        pragmas: SQLITE_PRAGMAS,
        autocheckpoint: this.autocheckpointPages,
        cacheSize: SQLITE_STATEMENT_CACHE_SIZE,
        nice: this.threads.nice,
      },
      ...storeWorkerOptions(this.threads),
    });
    // The worker keeps the process alive only while it has work (see send).
    worker.unref();
    worker.on('message', (reply: Reply) => {
      // Statement ids are reused (lib/slots.ts): a late reply from a thread already given up for
      // lost must not answer the new thread's statement that now holds its id.
      if (this.worker !== worker) return;
      const waiter = this.pending.take(reply.id);
      if (waiter === undefined) return;
      if (this.pending.size === 0) worker.unref();
      if (reply.error !== undefined)
        waiter.reject(new SqliteWorkerError(reply.error.message, reply.error.code));
      else waiter.resolve(reply);
    });
    worker.on('error', (error) => {
      this.lost(worker, threadErrorText(error));
    });
    worker.on('exit', (code) => {
      this.lost(worker, `exit code ${code}`);
    });
    this.worker = worker;
    this.generation += 1;
  }

  private lost(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.closed) return;
    const error = new SqliteWorkerError(
      `The SQLite writer thread stopped (${why}); the statements in flight did not complete.`,
      SQLITE_WRITER_LOST,
    );
    for (const waiter of this.pending.drain()) waiter.reject(error);
    process.emitWarning(`${error.message} A new one starts on the next write.`);
  }

  /**
   * Sends a statement to the writer thread. `generation`: the thread its transaction began on;
   * if that one stopped, the transaction is gone and so is this statement.
   */
  send(message: Record<string, unknown>, generation?: number): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('the SQLite store is closed'));
    const current = this.current();
    const worker = this.worker;
    if (worker === undefined || (generation !== undefined && generation !== current))
      return Promise.reject(
        new SqliteWorkerError(
          'The transaction was lost with the SQLite writer thread that ran it.',
          SQLITE_WRITER_LOST,
        ),
      );
    if (this.pending.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      const id = this.pending.add({ resolve, reject });
      worker.postMessage({ id, ...message });
    });
  }

  /** Sets the writer's automatic checkpoint, now and for a thread started after a loss. */
  setAutocheckpoint(pages: number): void {
    this.autocheckpointPages = pages;
    // A lost thread's replacement reads it when it opens the file; nothing to wait for here.
    if (this.worker !== undefined) this.send({ kind: 'autocheckpoint', pages }).catch(() => {});
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (worker !== undefined) await this.send({ kind: 'close' });
    this.closed = true;
    await worker?.terminate();
  }
}

function toResult(reply: Reply): QueryResult<unknown> {
  if (reply.changes === undefined) return { rows: reply.rows };
  return {
    rows: [],
    numAffectedRows: BigInt(reply.changes),
    ...(reply.lastInsertRowid === undefined ? {} : { insertId: BigInt(reply.lastInsertRowid) }),
  };
}

/** Runs a read in the main thread's next slice (lib/main-thread-slices.ts). */
function readInSlice<R>(statement: SQLite.Statement, parameters: readonly unknown[]): Promise<R[]> {
  return new Promise((resolve, reject) => {
    mainThreadSlices.resume(() => {
      try {
        // Kysely types rows as R; better-sqlite3 returns unknown[].
        resolve(statement.all(...parameters) as R[]);
      } catch (error) {
        // better-sqlite3 throws its SqliteError (storage/errors.ts classifies it by its code).
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

class SplitConnection implements PipeliningConnection {
  /** A transaction's statements sent together run in order on the writer (storage/pipeline.ts). */
  readonly pipelines = true;
  /** Set between BEGIN and COMMIT/ROLLBACK: every statement goes to the writer. */
  inTransaction = false;
  /** BEGIN not sent yet: it goes with the transaction's first statement. */
  beginPending = false;
  /** The writer thread the transaction runs on (WriterThread.generation). */
  generation = 0;
  /** COMMIT sent: the transaction is over on the thread, whatever its answer (commitTransaction). */
  commitSent = false;
  constructor(private readonly driver: SqliteSplitDriver) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiled;
    if (this.inTransaction) {
      const begin = this.beginPending;
      this.beginPending = false;
      return toResult(
        await this.driver.writer.send(
          { sql, parameters, begin, transaction: true },
          this.generation,
        ),
      ) as QueryResult<R>;
    }
    const statement = this.driver.readerStatement(sql);
    if (statement.readonly) {
      // Reads run in the main thread's slices (lib/main-thread-slices.ts), not in the caller's
      // turn: a request's reads otherwise ran back to back in one synchronous turn with its row
      // mapping and serialization (a collaborators page: its page and count, then five lookups
      // that present it, ~1.5 ms on the main thread), and an access check arriving meanwhile
      // waited for all of it; and the reads of requests that arrived together ran back to back
      // in one check phase. Now a slice runs reads and what their requests do with the rows for
      // about a millisecond, then the loop reads its sockets and answers the checks there.
      // Reads in a transaction go to the writer.
      return { rows: await readInSlice<R>(statement, parameters) };
    }
    await this.driver.lock.lock();
    try {
      return toResult(await this.driver.writer.send({ sql, parameters })) as QueryResult<R>;
    } finally {
      this.driver.lock.unlock();
    }
  }

  // Kysely's interface is an async iterator; better-sqlite3 iterates synchronously.
  // eslint-disable-next-line @typescript-eslint/require-await
  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.driver.readerStatement(compiled.sql);
    if (!statement.readonly || this.inTransaction)
      throw new Error('the SQLite store streams reads outside transactions only');
    for (const row of statement.iterate(...compiled.parameters)) yield { rows: [row as R] };
  }
}

/** The connection Kysely hands back to the driver is always one of ours. */
function split(connection: DatabaseConnection): SplitConnection {
  if (!(connection instanceof SplitConnection))
    throw new Error('the SQLite driver was handed a connection it did not make');
  return connection;
}

class SqliteSplitDriver implements Driver {
  readonly lock = new WriteLock();
  /** The thread starts on init's first message (WriterThread.current). */
  readonly writer: WriterThread;
  /** Started after STARTS_AFTER_WRITES writes (beginTransaction). */
  readonly checkpointer: Checkpointer;
  private reader!: SQLite.Database;
  private prepare!: (text: string) => SQLite.Statement;

  constructor(
    private readonly file: string,
    threads: StoreThreadOptions,
  ) {
    this.writer = new WriterThread(file, threads);
    this.checkpointer = new Checkpointer(file, this.writer.driverPath, threads, (pages) => {
      this.writer.setAutocheckpoint(pages);
    });
  }

  async init(): Promise<void> {
    // The reader opens the file first: it creates it and sets WAL (a property of the file).
    this.reader = new SQLite(this.file);
    for (const pragma of SQLITE_PRAGMAS) this.reader.pragma(pragma);
    this.prepare = statementCache(this.reader);
    await this.writer.send({ kind: 'open' });
  }

  readerStatement(sql: string): SQLite.Statement {
    return this.prepare(sql);
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(new SplitConnection(this));
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await this.lock.lock();
    if (this.lock.count >= STARTS_AFTER_WRITES && !this.checkpointer.running)
      this.checkpointer.start();
    const opened = split(connection);
    opened.inTransaction = true;
    opened.beginPending = true;
    opened.commitSent = false;
    opened.generation = this.writer.current();
  }

  /**
   * Sends COMMIT and lets the write lock go at once, before the answer: the thread runs its
   * messages in order, so the next transaction's first statement, sent as soon as it holds the
   * lock, waits behind this COMMIT on the thread and not behind a trip through the event loop.
   * A transaction held the lock for its statements and the wait for each answer to be picked up
   * by a busy main thread; the last of those waits is no longer in it. If the COMMIT fails, the
   * thread rolls it back before running anything else (WORKER_SOURCE, kind 'commit') and the
   * caller gets the error; Kysely's ROLLBACK that follows has nothing left to do. A transaction
   * that ran no statement never began.
   */
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const ending = split(connection);
    if (ending.beginPending) {
      this.endTransaction(connection);
      return;
    }
    const committed = this.writer.send({ kind: 'commit' }, ending.generation);
    ending.commitSent = true;
    this.endTransaction(connection);
    await committed;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const ending = split(connection);
    // After a COMMIT was sent, the thread has ended the transaction either way (see above), and
    // the connection may already run the next one: a ROLLBACK now would be that one's.
    if (ending.commitSent) return;
    try {
      // A transaction lost with its thread has nothing to roll back: SQLite dropped it.
      if (!ending.beginPending && ending.generation === this.writer.generation)
        await this.writer.send({ kind: 'rollback' }, ending.generation);
    } finally {
      this.endTransaction(connection);
    }
  }

  private endTransaction(connection: DatabaseConnection): void {
    const ended = split(connection);
    if (!ended.inTransaction) return;
    ended.inTransaction = false;
    ended.beginPending = false;
    this.lock.unlock();
  }

  releaseConnection(): Promise<void> {
    return Promise.resolve();
  }

  async destroy(): Promise<void> {
    await this.checkpointer.close();
    await this.writer.close();
    this.reader.close();
  }
}

const NO_WRITES: WriteLockTotals = { acquisitions: 0, heldSeconds: 0, waitSeconds: 0, waiting: 0 };
const NO_CHECKPOINTS: CheckpointTotals = {
  running: false,
  checkpoints: 0,
  pagesCopied: 0,
  walPages: 0,
};

/**
 * The Kysely dialect of a SQLite file whose writes run on a worker thread (see above), and what
 * its write lock and its checkpoints did since start (`writeLock`, `checkpoints`; zeros before
 * the driver is made).
 */
export function sqliteSplitDialect(
  file: string,
  threads: StoreThreadOptions = defaultStoreThreads('sqlite-writer'),
): Dialect & {
  readonly writeLock: () => WriteLockTotals;
  readonly checkpoints: () => CheckpointTotals;
} {
  let driver: SqliteSplitDriver | undefined;
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => (driver = new SqliteSplitDriver(file, threads)),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    writeLock: () => driver?.lock.totals() ?? NO_WRITES,
    checkpoints: () => driver?.checkpointer.report() ?? NO_CHECKPOINTS,
  };
}
