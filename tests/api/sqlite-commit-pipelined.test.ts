/**
 * A SQLite file's transactions let the write lock go when their COMMIT is sent, not when it is
 * answered (storage/sqlite-writer.ts, commitTransaction): the next transaction's statements then
 * wait behind that COMMIT on the writer thread. A COMMIT that fails must leave nothing behind for
 * them: the thread rolls it back first. Provoked here with a deferred foreign key, which SQLite
 * checks at COMMIT and which leaves the transaction open when it fails. SQLite runs only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../packages/server/src/storage/database.js';
import { sqliteSplitDialect } from '../../packages/server/src/storage/sqlite-writer.js';
import { testDialect } from '../helpers/database.js';

describe.skipIf(testDialect !== 'sqlite')(
  'SQLite transactions after a failed COMMIT (SQLite runs only)',
  () => {
    let dir: string;
    let db: Kysely<Database>;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'roster-commit-'));
      db = new Kysely<Database>({ dialect: sqliteSplitDialect(path.join(dir, 'roster.sqlite')) });
      await sql`create table parents (id integer primary key)`.execute(db);
      await sql`create table children (id integer primary key, parent_id integer not null
      references parents (id) deferrable initially deferred)`.execute(db);
    });
    afterAll(async () => {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    });

    const count = async (table: 'parents' | 'children') =>
      (await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]
        ?.n;

    it('the failed one reports its error and stores nothing; the ones queued behind it commit', async () => {
      // Started together: the second and third wait for the lock while the first runs, so their
      // statements follow its COMMIT on the thread.
      const failing = db.transaction().execute(async (trx) => {
        await sql`insert into children (id, parent_id) values (1, 999)`.execute(trx);
      });
      const next = db.transaction().execute(async (trx) => {
        await sql`insert into parents (id) values (1)`.execute(trx);
        return (await sql<{ n: number }>`select count(*) as n from children`.execute(trx)).rows[0]
          ?.n;
      });
      const third = db.transaction().execute(async (trx) => {
        await sql`insert into children (id, parent_id) values (2, 1)`.execute(trx);
      });
      await expect(failing).rejects.toThrow(/FOREIGN KEY constraint failed/);
      // The next one ran in a transaction of its own: it did not see the failed one's row.
      expect(await next).toBe(0);
      await third;
      expect(await count('parents')).toBe(1);
      expect(await count('children')).toBe(1);
      const { rows } = await sql<{ id: number }>`select id from children`.execute(db);
      expect(rows).toEqual([{ id: 2 }]);
    });

    it('a write outside a transaction right after a failed COMMIT is its own', async () => {
      const failing = db.transaction().execute(async (trx) => {
        await sql`insert into children (id, parent_id) values (3, 998)`.execute(trx);
      });
      const single = sql`insert into parents (id) values (2)`.execute(db);
      await expect(failing).rejects.toThrow(/FOREIGN KEY constraint failed/);
      await single;
      expect(await count('parents')).toBe(2);
      expect(await count('children')).toBe(1);
    });
  },
);
