/**
 * One empty database per test file, on the dialect this run is for.
 *
 * `scripts/test.mjs` runs the suite twice: ROSTER_TEST_DIALECT=sqlite (in-memory databases) and,
 * when ROSTER_TEST_DATABASE_URL names a PostgreSQL server, ROSTER_TEST_DIALECT=postgres
 * (a throwaway database created on that server for each caller).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type TestDialect = 'sqlite' | 'postgres';

function readDialect(): TestDialect {
  const value = process.env.ROSTER_TEST_DIALECT ?? 'sqlite';
  if (value === 'sqlite' || value === 'postgres') return value;
  throw new Error(`ROSTER_TEST_DIALECT must be 'sqlite' or 'postgres', not '${value}'`);
}

export const testDialect: TestDialect = readDialect();

export interface TestDatabase {
  /** What the server's openStore takes: ':memory:' or a postgres:// URL. */
  url: string;
  /** Removes the database (no-op for SQLite). Safe to call more than once. */
  drop(): Promise<void>;
}

/** A fresh, empty database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDialect === 'sqlite') {
    return { url: ':memory:', drop: async () => {} };
  }
  return createPostgresDatabase(adminUrl());
}

function adminUrl(): string {
  const url = process.env.ROSTER_TEST_DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'ROSTER_TEST_DIALECT=postgres needs ROSTER_TEST_DATABASE_URL, e.g. postgres://roster:roster@127.0.0.1:5432/postgres',
    );
  }
  return url;
}

async function withAdmin<T>(url: string, action: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await action(client);
  } finally {
    await client.end();
  }
}

async function createPostgresDatabase(admin: string): Promise<TestDatabase> {
  // A random name per call, so any number of test files (and concurrent runs) can share a server.
  const name = `roster_t_${randomBytes(8).toString('hex')}`;
  // template0: nobody can be connected to it, so concurrent CREATE DATABASEs never trip over
  // "source database is being accessed by other users" the way template1 can.
  await withAdmin(admin, (client) =>
    client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`),
  );

  const url = new URL(admin);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      // FORCE terminates whatever connections the test (or a leaked pool) still holds. It can
      // still be refused for a moment (e.g. a background worker of another role is attached):
      // retry, and in the end leave the throwaway database behind with a warning — cleaning up
      // after a test is not what the test asserts.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await withAdmin(admin, (client) =>
            client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
          );
          return;
        } catch (error) {
          if (attempt >= 5) {
            process.emitWarning(`could not drop test database ${name}: ${String(error)}`);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    },
  };
}
