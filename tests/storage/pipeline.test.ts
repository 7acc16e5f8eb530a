/**
 * Statements of one transaction sent together (storage/pipeline.ts), on each store's driver with
 * real databases: they run in order, the error reported is the first in statement order, the
 * transaction then keeps nothing, and on a SQLite file a statement sent behind one that made
 * SQLite roll the transaction back is refused rather than committed on its own. Reads sent
 * together (readTogether) give each its own results and fail as the same reads run in turn would:
 * the first read's failure or refusal first.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mapRead,
  readAlone,
  readTogether,
  runTogether,
  type PlannedRead,
} from '../../packages/server/src/storage/pipeline.js';
import type { Store } from '../../packages/server/src/storage/connect.js';
import type { Executor } from '../../packages/server/src/storage/database.js';
import { testDialect } from '../helpers/database.js';
import { storeConfigurations, type ScratchDb } from '../helpers/store-configurations.js';

const stores = storeConfigurations();

describe.each(stores)('statements sent together on %s', (_name, open) => {
  let store: Store;
  let db: ScratchDb;
  beforeAll(async () => {
    store = await open();
    db = store.db as ScratchDb;
    await sql`drop table if exists piped`.execute(db);
    await sql`create table piped (id integer primary key, note text not null)`.execute(db);
  });
  afterAll(async () => {
    await store.close();
  });
  const insert = (trx: ScratchDb, id: number, note = 'row') =>
    trx.insertInto('piped').values({ id, note }).compile();
  const ids = async () =>
    (await db.selectFrom('piped').select('id').orderBy('id').execute()).map((row) => row.id);

  it('runs them in order: a read sent behind a write sees it', async () => {
    const results = await db
      .transaction()
      .execute((trx) =>
        runTogether(trx as unknown as Executor, [
          insert(trx, 1),
          insert(trx, 2),
          trx.selectFrom('piped').select('id').orderBy('id').compile(),
        ]),
      );
    expect(results[2]?.rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await ids()).toEqual([1, 2]);
  });

  it('reports the first failure in statement order, and the transaction keeps nothing', async () => {
    const failed = await db
      .transaction()
      .execute((trx) =>
        runTogether(trx as unknown as Executor, [insert(trx, 3), insert(trx, 1), insert(trx, 4)]),
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    // The duplicate key, not what PostgreSQL answers the statement after it ("current
    // transaction is aborted").
    expect(String(failed)).toMatch(/unique|duplicate/i);
    expect(await ids()).toEqual([1, 2]);
  });

  it('refuses to run outside a transaction, where each statement would commit alone', async () => {
    await expect(runTogether(db as unknown as Executor, [insert(db, 5)])).rejects.toThrow(
      'runTogether runs statements of one transaction',
    );
    expect(await ids()).toEqual([1, 2]);
  });

  /** A read of the rows with these IDs (no statement for none), mapped to their IDs. */
  const readIds = (trx: ScratchDb, wanted: number[]): PlannedRead<number[]> => ({
    statements:
      wanted.length === 0
        ? []
        : [trx.selectFrom('piped').select('id').where('id', 'in', wanted).orderBy('id').compile()],
    finish: ([result]) => ((result?.rows ?? []) as { id: number }[]).map((row) => row.id),
  });
  /** A read whose statement fails (no such table). */
  const broken = (trx: ScratchDb): PlannedRead<unknown> => ({
    statements: [sql`select * from no_such_table`.compile(trx)],
    finish: () => 'unreachable',
  });
  const refuse = (why: string) => () => {
    throw new Error(why);
  };
  const outcome = (run: (trx: ScratchDb) => Promise<unknown>) =>
    db
      .transaction()
      .execute(run)
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error: String(error) }),
      );

  it('reads together: each read gets its own results, in the order given', async () => {
    const got = await outcome((trx) =>
      readTogether(trx as unknown as Executor, [
        readIds(trx, [2]),
        readIds(trx, []),
        mapRead(readIds(trx, [1, 2, 99]), (found) => found.length),
        readIds(trx, [1]),
      ]),
    );
    expect(got).toEqual({ value: [[2], [], 2, [1]] });
    // The same read alone, outside a transaction.
    expect(await readAlone(db as unknown as Executor, readIds(db, [1, 2]))).toEqual([1, 2]);
  });

  it("reads together fail with the first read's failure or refusal, as in turn", async () => {
    // A refusal before a failing statement: the refusal.
    expect(
      await outcome((trx) =>
        readTogether(trx as unknown as Executor, [
          mapRead(readIds(trx, [1]), refuse('first refused')),
          broken(trx),
        ]),
      ),
    ).toEqual({ error: 'Error: first refused' });
    // A failing statement before a refusal: the statement's failure.
    const failed = await outcome((trx) =>
      readTogether(trx as unknown as Executor, [
        readIds(trx, [1]),
        broken(trx),
        mapRead(readIds(trx, [2]), refuse('third refused')),
      ]),
    );
    expect(failed.error).toMatch(/no_such_table|no such table/);
    // Two refusals: the first.
    expect(
      await outcome((trx) =>
        readTogether(trx as unknown as Executor, [
          readIds(trx, []),
          mapRead(readIds(trx, [2]), refuse('second refused')),
          mapRead(readIds(trx, [1]), refuse('third refused')),
        ]),
      ),
    ).toEqual({ error: 'Error: second refused' });
    await expect(readTogether(db as unknown as Executor, [readIds(db, [1])])).rejects.toThrow(
      'readTogether runs the reads of one transaction',
    );
  });

  it.skipIf(testDialect !== 'sqlite')(
    'commits nothing sent behind a statement that made SQLite roll the transaction back',
    async () => {
      // A database that cannot grow: the big insert fails with SQLITE_FULL, on which SQLite
      // rolls the whole transaction back itself. The limit is the writing connection's: set in a
      // transaction, which runs where writes do.
      const limit = (pages: (count: number) => number) =>
        db.transaction().execute(async (trx) => {
          const read = await sql<{ page_count: number }>`pragma page_count`.execute(trx);
          await sql
            .raw(`pragma max_page_count = ${pages(read.rows[0]?.page_count ?? 0)}`)
            .execute(trx);
        });
      await limit((count) => count + 2);
      try {
        const failed = await db
          .transaction()
          .execute(async (trx) => {
            await trx.insertInto('piped').values({ id: 10, note: 'first' }).execute();
            return runTogether(trx, [insert(trx, 11, 'x'.repeat(200_000)), insert(trx, 12)]);
          })
          .then(
            () => undefined,
            (error: unknown) => error as { code?: string },
          );
        expect(failed?.code).toBe('SQLITE_FULL');
        expect(await ids()).toEqual([1, 2]);
      } finally {
        await limit(() => 1073741823);
      }
    },
  );
});
