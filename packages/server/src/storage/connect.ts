/**
 * Opens the store: a SQLite file (better-sqlite3, WAL) by default, PostgreSQL when the URL says so.
 * Runs the migration history before anything else touches the database.
 *
 * The store must outlive its database's faults (docs/operations.md#database-faults): a PostgreSQL
 * restart or an admin's pg_terminate_backend must fail the requests of the moment, never the
 * process, and a full disk must surface as itself rather than as the failed ROLLBACK after it.
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type DatabaseConnection,
  type Dialect as KyselyDialect,
  type Driver,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import {
  savepointRolledBack,
  savepointSet,
  transactionBegun,
  transactionCommitted,
  transactionEnded,
} from './commit-hooks.js';
import type { Database, Db, Dialect } from './database.js';
import { createPostgresPool, type PostgresPoolOptions } from './postgres-pool.js';
import { postgresThreadDialect } from './postgres-thread.js';
import { migrationProvider } from './migrations/history.js';
import {
  SQLITE_PRAGMAS,
  sqliteSplitDialect,
  statementCache,
  type WriteLockTotals,
} from './sqlite-writer.js';
import {
  defaultStoreThreads,
  type StoreThreadKind,
  type StoreThreadOptions,
} from './store-threads.js';
import type { CheckpointTotals } from './sqlite-checkpointer.js';
import { turnOffPretenuring } from '../lib/heap-tuning.js';

export interface Store {
  db: Db;
  dialect: Dialect;
  /**
   * SQLite with its writes on the writer thread (sqlite-writer.ts) and its reads on this one: the
   * store whose reads hold the event loop between a check and the next read of the sockets.
   */
  sqliteWriterThread: boolean;
  /** With the writer thread: what its write lock did since start (/metrics). */
  sqliteWriteLock?: () => WriteLockTotals;
  /** With the writer thread: what the checkpoint thread did (sqlite-checkpointer.ts, /metrics). */
  sqliteCheckpoints?: () => CheckpointTotals;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://…` selects PostgreSQL; otherwise a SQLite file path, or `:memory:`. */
  url: string;
  poolSize?: number;
  /**
   * ROSTER_SQLITE_WRITER (a SQLite file only): `thread` (the default) runs writes on a worker
   * thread that owns the write connection (sqlite-writer.ts); `main` runs them on this thread on
   * the one connection, as before that worker: less CPU per write (no message per statement), but
   * a write that waits for the disk or another process's lock holds the checks meanwhile.
   */
  sqliteWriter?: SqliteWriter;
  /**
   * ROSTER_POSTGRES_DRIVER (PostgreSQL only): `thread` (the default) runs the pg driver on a
   * worker thread (postgres-thread.ts), so the thread that answers checks does no database
   * socket I/O; `main` runs it on this thread, as before.
   */
  postgresDriver?: PostgresDriver;
  /**
   * ROSTER_STORE_THREAD_HEAP_MB: the old-generation heap of the driver thread and of the SQLite
   * writer thread, in MB (0 or unset: Node's default). A statement whose result outgrows it stops
   * that thread only: the statements in flight fail with a 503 and a new thread takes the next
   * (docs/operations.md), where the process's own heap would have crashed the whole server.
   */
  threadHeapMb?: number;
  /**
   * ROSTER_STORE_THREAD_NICE: how much lower the scheduling priority of those threads is than the
   * process's (0–19): the main thread, which answers the checks, gets a core first. Unset: 10 for
   * PostgreSQL's driver thread, 0 for SQLite's writer (store-threads.ts says why).
   */
  threadNice?: number;
}

export type SqliteWriter = 'thread' | 'main';
export type PostgresDriver = 'thread' | 'main';

/**
 * How long a request waits for a PostgreSQL connection before it fails (503): during an outage
 * requests fail within this bound instead of hanging until the client gives up.
 */
export const POSTGRES_CONNECT_TIMEOUT_MS = 5_000;
/**
 * The longest one statement may run. No query of Roster's comes near it; it bounds a statement
 * stuck behind a lock or a server in trouble, so its connection and request are given back.
 */
export const POSTGRES_STATEMENT_TIMEOUT_MS = 60_000;

/** A start-up fault of the store, with a message an operator can act on. */
export class StoreOpenError extends Error {
  override readonly name = 'StoreOpenError';
}

function storeThreads(options: StoreOptions, kind: StoreThreadKind): StoreThreadOptions {
  const defaults = defaultStoreThreads(kind);
  return {
    heapMb: options.threadHeapMb ?? defaults.heapMb,
    nice: options.threadNice ?? defaults.nice,
  };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function openStore(options: StoreOptions): Store {
  if (isPostgresUrl(options.url)) {
    const poolOptions: PostgresPoolOptions = {
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
      statementTimeoutMillis: POSTGRES_STATEMENT_TIMEOUT_MS,
      preparedStatements: POSTGRES_PREPARED_STATEMENTS,
    };
    // The pool on a worker thread (postgres-thread.ts), or on this one as before it. Either way
    // a connection lost mid-transaction dies with its transaction (Kysely discards it), so a
    // failed ROLLBACK never hides the cause.
    const onThread = (options.postgresDriver ?? 'thread') === 'thread';
    // node-postgres's results on this thread: V8's pretenuring would have them born old (see
    // lib/heap-tuning.ts); turned off before the first statement.
    if (!onThread) turnOffPretenuring();
    const dialect = onThread
      ? postgresThreadDialect(poolOptions, storeThreads(options, 'postgres-driver'))
      : new PostgresDialect({ pool: createPostgresPool(pg, poolOptions) });
    const db = new Kysely<Database>({ dialect: keepingTheCause(dialect, () => true) });
    return { db, dialect: 'postgres', sqliteWriterThread: false, close: () => db.destroy() };
  }
  if (options.url !== ':memory:') openableFile(options.url);
  if (options.url !== ':memory:' && (options.sqliteWriter ?? 'thread') === 'thread') {
    // Writes on a worker thread, reads on this one (sqlite-writer.ts): a write that waits for
    // the disk or another process's lock no longer stops the access checks. A failed ROLLBACK
    // is the worker's to judge (it knows whether SQLite still holds a transaction).
    const split = sqliteSplitDialect(options.url, storeThreads(options, 'sqlite-writer'));
    const db = new Kysely<Database>({ dialect: keepingTheCause(split, () => false) });
    return {
      db,
      dialect: 'sqlite',
      sqliteWriterThread: true,
      sqliteWriteLock: split.writeLock,
      sqliteCheckpoints: split.checkpoints,
      close: () => db.destroy(),
    };
  }
  // An in-memory database cannot be shared by two connections: one, on this thread (and so does
  // a file with ROSTER_SQLITE_WRITER=main).
  const database = new SQLite(options.url);
  // WAL, foreign keys, a 5 s busy timeout, NORMAL sync, and 8 MB of page cache (better-sqlite3
  // builds SQLite with 16 MB): decisions are answered from the in-memory index, so the cache
  // serves writes and API reads, and a full index build no longer leaves 16 MB of table pages
  // resident.
  for (const pragma of SQLITE_PRAGMAS) database.pragma(pragma);
  const prepare = statementCache(database);
  const db = new Kysely<Database>({
    // After a failed ROLLBACK the transaction is gone only if SQLite says so.
    dialect: keepingTheCause(
      new SqliteDialect({
        database: { close: () => database.close(), prepare: (text) => prepare(text) },
      }),
      () => !database.inTransaction,
    ),
  });
  return { db, dialect: 'sqlite', sqliteWriterThread: false, close: () => db.destroy() };
}

/** How many distinct statement texts get a prepared statement on each PostgreSQL connection. */
export const POSTGRES_PREPARED_STATEMENTS = 1_000;

/**
 * Creates the SQLite file's directory and checks that both can be written, so a read-only data
 * directory stops the start with its path and the setting to change, not SQLite's bare "unable
 * to open database file" or "attempt to write a readonly database" at the first write.
 */
function openableFile(file: string): void {
  const resolved = path.resolve(file);
  const directory = path.dirname(resolved);
  const advice = `Roster keeps its SQLite database there: make it writable by this user, or set ROSTER_DATA_DIR (or ROSTER_DATABASE_URL) to a writable place.`;
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new StoreOpenError(
      `Cannot create the data directory ${directory} (${describeFsError(error)}). ${advice}`,
    );
  }
  // WAL mode writes roster.sqlite-wal and -shm beside the file: the directory must be writable
  // even when the file itself is.
  for (const target of existsSync(resolved) ? [directory, resolved] : [directory]) {
    try {
      accessSync(target, fsConstants.R_OK | fsConstants.W_OK);
    } catch (error) {
      const what = target === directory ? 'The data directory' : 'The database file';
      throw new StoreOpenError(
        `${what} ${target} is read-only (${describeFsError(error)}). ${advice}`,
      );
    }
  }
}

function describeFsError(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : String(error);
}

/**
 * Kysely runs ROLLBACK when a transaction's callback throws, and if that ROLLBACK fails its error
 * replaces the one that caused it. After SQLITE_FULL or SQLITE_IOERR, SQLite has usually rolled
 * back already ("cannot rollback - no transaction is active"); after a lost PostgreSQL connection
 * the transaction died with it (Kysely discards that connection). The caller must see the cause
 * (a full disk → 507, a lost database → 503), not the failed clean-up.
 */
function keepingTheCause(dialect: KyselyDialect, transactionGone: () => boolean): KyselyDialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => new CauseKeepingDriver(dialect.createDriver(), transactionGone),
  };
}

export async function migrateToLatest(store: Store): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
}

/** The migrations of this version's history the database has not run (readiness). */
export async function pendingMigrations(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const migrations = await migrator.getMigrations();
  return migrations.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Asks the store a trivial question; fails when it has no answer within `timeoutMs`. */
export async function pingStore(store: Store, timeoutMs = 3_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`the database did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([sql`select 1`.execute(store.db), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Forwards everything to the dialect's driver (whose methods use private fields) but ROLLBACK,
 * and runs each transaction's commit hooks (storage/commit-hooks.ts) once its COMMIT succeeded.
 */
class CauseKeepingDriver implements Driver {
  constructor(
    private readonly driver: Driver,
    private readonly transactionGone: () => boolean,
  ) {}
  init = () => this.driver.init();
  acquireConnection = () => this.driver.acquireConnection();
  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    await this.driver.beginTransaction(connection, settings);
    transactionBegun(connection);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.driver.commitTransaction(connection);
    } catch (error) {
      transactionEnded(connection);
      throw error;
    }
    transactionCommitted(connection);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    transactionEnded(connection);
    try {
      await this.driver.rollbackTransaction(connection);
    } catch (rollbackError) {
      if (!this.transactionGone()) throw rollbackError;
    }
  }
  savepoint: Driver['savepoint'] = async (connection, name, compile) => {
    if (this.driver.savepoint === undefined) throw new Error('the driver has no savepoints');
    await this.driver.savepoint(connection, name, compile);
    savepointSet(connection, name);
  };
  rollbackToSavepoint: Driver['rollbackToSavepoint'] = async (connection, name, compile) => {
    if (this.driver.rollbackToSavepoint === undefined)
      throw new Error('the driver has no savepoints');
    savepointRolledBack(connection, name);
    await this.driver.rollbackToSavepoint(connection, name, compile);
  };
  releaseSavepoint: Driver['releaseSavepoint'] = (connection, name, compile) => {
    if (this.driver.releaseSavepoint === undefined) throw new Error('the driver has no savepoints');
    return this.driver.releaseSavepoint(connection, name, compile);
  };
  releaseConnection = (connection: DatabaseConnection) => this.driver.releaseConnection(connection);
  destroy = () => this.driver.destroy();
}
