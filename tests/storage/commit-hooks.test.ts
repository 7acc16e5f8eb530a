/**
 * Commit hooks (storage/commit-hooks.ts): what a write notes for its request's index sync runs
 * once its transaction commits, and never if it does not. tests/api/faults.test.ts shows the
 * defect this prevents end to end (a full disk, SQLite); this file drives each store's driver
 * with real databases: SQLite in memory, a SQLite file with its writer thread and with its
 * writes on the main thread, and PostgreSQL (its driver thread and its main-thread driver) when
 * the run is on PostgreSQL. A COMMIT is made to fail with a deferred foreign key, which both
 * stores check at COMMIT.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterCommit } from '../../packages/server/src/storage/commit-hooks.js';
import type { Store } from '../../packages/server/src/storage/connect.js';
import { storeConfigurations, type ScratchDb } from '../helpers/store-configurations.js';

const stores = storeConfigurations();

describe.each(stores)('commit hooks on %s', (_name, open) => {
  let store: Store;
  let db: ScratchDb;
  beforeAll(async () => {
    store = await open();
    db = store.db as ScratchDb;
    await sql`drop table if exists hook_child`.execute(db);
    await sql`drop table if exists hook_parent`.execute(db);
    await sql`create table hook_parent (id integer primary key)`.execute(db);
    await sql`create table hook_child (id integer primary key, parent_id integer references hook_parent (id) deferrable initially deferred)`.execute(
      db,
    );
  });
  afterAll(async () => {
    await store.close();
  });

  it('runs a hook after its transaction commits, not before', async () => {
    const ran: string[] = [];
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('hook_parent').values({ id: 1 }).execute();
      await afterCommit(trx, () => ran.push('committed'));
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(['committed']);
  });

  it('never runs the hooks of a transaction that rolls back', async () => {
    const ran: string[] = [];
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('hook_parent').values({ id: 2 }).execute();
        await afterCommit(trx, () => ran.push('rolled back'));
        throw new Error('the handler failed after the insert');
      }),
    ).rejects.toThrow('the handler failed after the insert');
    expect(ran).toEqual([]);
    // The next transaction on the same connection (SQLite has one) runs its own hooks only.
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('hook_parent').values({ id: 3 }).execute();
      await afterCommit(trx, () => ran.push('next'));
    });
    expect(ran).toEqual(['next']);
  });

  it('never runs the hooks of a transaction whose COMMIT fails', async () => {
    const ran: string[] = [];
    const failed = await db
      .transaction()
      .execute(async (trx) => {
        // A child of no parent: allowed until COMMIT (the key is deferred), refused there.
        await trx.insertInto('hook_child').values({ id: 1, parent_id: 999 }).execute();
        await afterCommit(trx, () => ran.push('refused'));
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(String(failed)).toMatch(/foreign key/i);
    expect(ran).toEqual([]);
    const children = await db.selectFrom('hook_child').selectAll().execute();
    expect(children).toEqual([]);
  });

  it('runs a hook at once outside a transaction (each statement commits on its own)', async () => {
    const ran: string[] = [];
    await db.insertInto('hook_parent').values({ id: 4 }).execute();
    await afterCommit(db, () => ran.push('now'));
    expect(ran).toEqual(['now']);
  });
});
