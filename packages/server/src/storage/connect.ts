/**
 * Opens the store: a SQLite file (better-sqlite3, WAL) by default, PostgreSQL when the URL says so.
 * Runs the migration history before anything else touches the database.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database, Db, Dialect } from './database.js';
import { migrationProvider } from './migrations/index.js';

export interface Store {
  db: Db;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://…` selects PostgreSQL; otherwise a SQLite file path, or `:memory:`. */
  url: string;
  poolSize?: number;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

export function openStore(options: StoreOptions): Store {
  if (isPostgresUrl(options.url)) {
    // Timestamps and JSON are stored as text (see database.ts), and COUNT(*) is cast to integer
    // in queries, so no pg type parser needs changing.
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // An idle connection the server ends (restart, failover, admin kill) must not crash the
    // process: the pool drops it and the next query opens a new one.
    pool.on('error', (error) => {
      process.emitWarning(`PostgreSQL connection lost: ${error.message}`);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  if (options.url !== ':memory:')
    mkdirSync(path.dirname(path.resolve(options.url)), { recursive: true });
  const database = new SQLite(options.url);
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  database.pragma('synchronous = NORMAL');
  // 8 MB of page cache (better-sqlite3 builds SQLite with 16 MB): decisions are answered from the
  // in-memory index, so the cache serves writes and API reads, and a full index build no longer
  // leaves 16 MB of table pages resident.
  database.pragma('cache_size = -8000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

export async function migrateToLatest(store: Store): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    throw new Error(`migration ${failed?.migrationName ?? ''} failed`, { cause: error });
  }
}

export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}
