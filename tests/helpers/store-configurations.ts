/**
 * Every way the server can open this run's dialect, for tests of the storage layer itself: SQLite
 * in memory, a SQLite file with its writer thread and with its writes on the main thread; or
 * PostgreSQL with its driver thread and with the driver on the main thread. Call it at a test
 * file's top level: it registers the hooks that make the file's directory and database.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import { openStore, type Store } from '../../packages/server/src/storage/connect.js';
import { createTestDatabase, testDialect, type TestDatabase } from './database.js';

/**
 * A database with the test's own scratch tables, outside Roster's schema (no migration makes
 * them): `any` for that reason.
 */
export type ScratchDb = Kysely<any>;

/** [name, open] for each configuration, for `describe.each`. */
export function storeConfigurations(): [string, () => Promise<Store>][] {
  let dir: string;
  let database: TestDatabase;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roster-stores-'));
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });
  return testDialect === 'postgres'
    ? [
        ['PostgreSQL, driver thread', () => openStore({ url: database.url })],
        [
          'PostgreSQL, driver on the main thread',
          () => openStore({ url: database.url, postgresDriver: 'main' }),
        ],
      ]
    : [
        ['SQLite in memory', () => openStore({ url: ':memory:' })],
        [
          'SQLite file, writer thread',
          () => openStore({ url: path.join(dir, 'thread.sqlite'), sqliteWriter: 'thread' }),
        ],
        [
          'SQLite file, writes on the main thread',
          () => openStore({ url: path.join(dir, 'main.sqlite'), sqliteWriter: 'main' }),
        ],
      ];
}
