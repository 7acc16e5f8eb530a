/**
 * The storage test harness itself: every test file gets its own empty database, on whichever
 * dialect this run is for (see tests/helpers/database.ts and scripts/test.mjs).
 */
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from './helpers/database.js';

interface Schema {
  note: { id: number; body: string };
}

function connect(url: string): Kysely<Schema> {
  if (testDialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    // An idle pooled connection that the server ends (as DROP DATABASE ... WITH (FORCE) does)
    // emits 'error' on the pool; without a listener that is an uncaught exception.
    pool.on('error', () => {});
    return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  }
  return new Kysely<Schema>({ dialect: new SqliteDialect({ database: new SQLite(url) }) });
}

async function tableNames(db: Kysely<Schema>): Promise<string[]> {
  const query =
    testDialect === 'postgres'
      ? sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = 'public'`
      : sql<{ name: string }>`select name from sqlite_master where type = 'table'`;
  const { rows } = await query.execute(db);
  return rows.map((row) => row.name);
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: process.env.ROSTER_TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

const opened: { database: TestDatabase; db: Kysely<Schema> }[] = [];
async function open(): Promise<{ database: TestDatabase; db: Kysely<Schema> }> {
  const database = await createTestDatabase();
  const entry = { database, db: connect(database.url) };
  opened.push(entry);
  return entry;
}

afterAll(async () => {
  for (const { database, db } of opened) {
    await db.destroy();
    await database.drop();
  }
});

describe(`test databases (${testDialect})`, () => {
  it('hands out a URL for the dialect under test', async () => {
    const { database } = await open();
    if (testDialect === 'postgres')
      expect(database.url).toMatch(/^postgres:\/\/.+\/roster_t_[0-9a-f]{16}$/);
    else expect(database.url).toBe(':memory:');
  });

  it('starts empty, and stores and reads back rows', async () => {
    const { db } = await open();
    expect(await tableNames(db)).toEqual([]);

    await db.schema
      .createTable('note')
      .addColumn('id', 'integer', (column) => column.primaryKey())
      .addColumn('body', 'text', (column) => column.notNull())
      .execute();
    await db
      .insertInto('note')
      .values([
        { id: 1, body: 'first' },
        { id: 2, body: 'second — ünïcode' },
      ])
      .execute();

    expect(await db.selectFrom('note').selectAll().orderBy('id').execute()).toEqual([
      { id: 1, body: 'first' },
      { id: 2, body: 'second — ünïcode' },
    ]);
    expect(await tableNames(db)).toEqual(['note']);
  });

  it('keeps concurrently created databases apart', async () => {
    const entries = await Promise.all([open(), open(), open(), open()]);
    const [first, ...others] = entries;
    await first.db.schema
      .createTable('note')
      .addColumn('id', 'integer')
      .addColumn('body', 'text')
      .execute();

    expect(await tableNames(first.db)).toEqual(['note']);
    for (const other of others) expect(await tableNames(other.db)).toEqual([]);
    if (testDialect === 'postgres')
      expect(new Set(entries.map((entry) => entry.database.url)).size).toBe(4);
  });

  it('drops a database even while connections to it are open, and tolerates a second drop', async () => {
    const database = await createTestDatabase();
    const db = connect(database.url);
    await sql`select 1`.execute(db); // holds a pooled connection open across the drop

    await database.drop();
    await database.drop();

    if (testDialect === 'postgres') {
      expect(await databaseExists(new URL(database.url).pathname.slice(1))).toBe(false);
      await expect(sql`select 1`.execute(db)).rejects.toThrow();
    }
    await db.destroy().catch(() => {});
  });
});
