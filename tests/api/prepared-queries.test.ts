/**
 * storage/prepared.ts on the store this run is for: a query built once and run with each call's
 * values must send what Kysely's builder would have sent for those values (the same SQL text,
 * the dialect's own placeholders, the same values in the same places) and answer the same rows.
 * The edge cases a position-filling helper can get wrong: NULL values, constants the builder
 * wrote between parameters, `in (…)` lists of several lengths (and longer than the cached
 * variants), a transaction rolled back, and a query prepared on one connection of the database
 * and run after the store is closed and opened again (a restart of the server's process) or, on
 * PostgreSQL, after its connections were terminated.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrateToLatest,
  openStore,
  type Store,
} from '../../packages/server/src/storage/connect.js';
import type { Database } from '../../packages/server/src/storage/database.js';
import { MAX_LIST_VARIANTS, prepared } from '../../packages/server/src/storage/prepared.js';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';

const findMember = prepared((db, p: { workspaceId: number; emailKey: string }) =>
  db
    .selectFrom('members')
    .select(['id', 'name', 'external_id', 'avatar_url'])
    .where('workspace_id', '=', p.workspaceId)
    // A constant between two parameters: its value stays where the builder put it.
    .where('grant_type', '=', 'direct')
    .where('email_key', '=', p.emailKey),
);

const membersIn = prepared(
  (db, p: { workspaceId: number; ids: number[]; limit: number }) =>
    db
      .selectFrom('members')
      .select('id')
      .where('workspace_id', '=', p.workspaceId)
      .where('id', 'in', p.ids)
      .orderBy('id')
      .limit(p.limit),
  { lists: ['ids'] },
);

const insertMember = prepared(
  (
    db,
    p: { workspaceId: number; name: string; externalId: string | null; avatarUrl: string | null },
  ) =>
    db
      .insertInto('members')
      .values({
        workspace_id: p.workspaceId,
        name: p.name,
        email: p.name,
        email_key: p.name,
        external_id: p.externalId,
        time_zone: 'UTC',
        grant_type: 'direct',
        avatar_url: p.avatarUrl,
        created_at: '2026-12-06T00:00:00.000Z',
        updated_at: '2026-12-06T00:00:00.000Z',
      })
      .returning('id'),
);

const renameMember = prepared((db, p: { id: number; name: string }) =>
  db.updateTable('members').set({ name: p.name }).where('id', '=', p.id),
);

describe(`queries compiled once (storage/prepared.ts, ${testDialect})`, () => {
  let database: TestDatabase | undefined;
  let dataDir: string;
  let url: string;
  let store: Store;
  let db: Kysely<Database>;
  let workspaceId: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'roster-prepared-'));
    // SQLite in a file: its default store (reads here, writes on the writer thread), and one that
    // can be opened again.
    if (testDialect === 'postgres') {
      database = await createTestDatabase();
      url = database.url;
    } else url = path.join(dataDir, 'roster.sqlite');
    store = openStore({ url });
    await migrateToLatest(store);
    db = store.db;
    const workspace = await db
      .insertInto('workspaces')
      .values({ name: 'prepared', environments_enabled: 1, created_at: '2026-12-06T00:00:00.000Z' })
      .returning('id')
      .executeTakeFirstOrThrow();
    workspaceId = workspace.id;
  });

  afterAll(async () => {
    await store.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("sends the builder's SQL text with the dialect's placeholders and each call's values in their places", () => {
    for (const emailKey of ['a@example.com', 'b@example.com']) {
      const built = db
        .selectFrom('members')
        .select(['id', 'name', 'external_id', 'avatar_url'])
        .where('workspace_id', '=', workspaceId)
        .where('grant_type', '=', 'direct')
        .where('email_key', '=', emailKey)
        .compile();
      const once = findMember.compile(db, { workspaceId, emailKey });
      expect(once.sql).toBe(built.sql);
      expect(once.parameters).toEqual(built.parameters);
      expect(once.parameters).toEqual([workspaceId, 'direct', emailKey]);
      expect(once.sql).toContain(testDialect === 'postgres' ? '$3' : '?');
      expect(once.sql).not.toContain(testDialect === 'postgres' ? '?' : '$1');
    }
  });

  it('refuses a parameter used where Kysely does not bind it, naming it', async () => {
    const misused = prepared((db, p: { workspaceId: number; column: string }) =>
      db
        .selectFrom('members')
        .select('id')
        .where('workspace_id', '=', p.workspaceId)
        .where(sql.raw<boolean>(`${p.column} is null`)),
    );
    await expect(misused.execute(db, { workspaceId, column: 'external_id' })).rejects.toThrow(
      'prepared query: column must be used as bound values only',
    );
  });

  it('stores and reads NULL and non-NULL values through the same statement', async () => {
    const plain = await insertMember.takeFirst(db, {
      workspaceId,
      name: 'plain@example.com',
      externalId: null,
      avatarUrl: null,
    });
    const full = await insertMember.takeFirst(db, {
      workspaceId,
      name: 'full@example.com',
      externalId: 'ext-1',
      avatarUrl: 'https://example.com/a.png',
    });
    expect(plain?.id).toBeTypeOf('number');
    expect(full?.id).not.toBe(plain?.id);
    expect(await findMember.takeFirst(db, { workspaceId, emailKey: 'plain@example.com' })).toEqual({
      id: plain?.id,
      name: 'plain@example.com',
      external_id: null,
      avatar_url: null,
    });
    expect(await findMember.takeFirst(db, { workspaceId, emailKey: 'full@example.com' })).toEqual({
      id: full?.id,
      name: 'full@example.com',
      external_id: 'ext-1',
      avatar_url: 'https://example.com/a.png',
    });
    expect(
      await findMember.takeFirst(db, { workspaceId, emailKey: 'nobody@example.com' }),
    ).toBeUndefined();
    expect(
      await findMember.execute(db, { workspaceId: workspaceId + 1, emailKey: 'full@example.com' }),
    ).toEqual([]);
  });

  it('answers `in (…)` lists of any length, each with its own placeholders', async () => {
    const ids: number[] = [];
    for (let i = 0; i < MAX_LIST_VARIANTS + 4; i++) {
      const row = await insertMember.takeFirst(db, {
        workspaceId,
        name: `list${String(i)}@example.com`,
        externalId: null,
        avatarUrl: null,
      });
      if (row !== undefined) ids.push(row.id);
    }
    // Lengths in turn, a length again after others, and one past the cached variants.
    for (const length of [1, 3, 2, 3, 1, MAX_LIST_VARIANTS, MAX_LIST_VARIANTS + 4]) {
      const wanted = ids.slice(0, length);
      const rows = await membersIn.execute(db, { workspaceId, ids: wanted, limit: 1000 });
      expect(rows.map((row) => row.id)).toEqual(wanted);
      const once = membersIn.compile(db, { workspaceId, ids: wanted, limit: 1000 });
      expect(once.parameters).toEqual([workspaceId, ...wanted, 1000]);
    }
    const limited = await membersIn.execute(db, { workspaceId, ids: ids.slice(0, 5), limit: 2 });
    expect(limited.map((row) => row.id)).toEqual(ids.slice(0, 2));
  });

  it('writes in a transaction that commits, and leaves nothing of one rolled back', async () => {
    const kept = await insertMember.takeFirst(db, {
      workspaceId,
      name: 'kept@example.com',
      externalId: null,
      avatarUrl: null,
    });
    if (kept === undefined) throw new Error('no row inserted');
    await db.transaction().execute(async (trx) => {
      const updated = await renameMember.run(trx, { id: kept.id, name: 'renamed' });
      expect(updated.numAffectedRows).toBe(1n);
    });
    await expect(
      db.transaction().execute(async (trx) => {
        await renameMember.run(trx, { id: kept.id, name: 'lost' });
        await insertMember.run(trx, {
          workspaceId,
          name: 'lost@example.com',
          externalId: null,
          avatarUrl: null,
        });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const after = await findMember.takeFirst(db, { workspaceId, emailKey: 'kept@example.com' });
    expect(after?.name).toBe('renamed');
    expect(
      await findMember.takeFirst(db, { workspaceId, emailKey: 'lost@example.com' }),
    ).toBeUndefined();
  });

  it('runs on the store opened again after a close, as after a restart of the server', async () => {
    await store.close();
    store = openStore({ url });
    db = store.db;
    const row = await findMember.takeFirst(db, { workspaceId, emailKey: 'full@example.com' });
    expect(row?.external_id).toBe('ext-1');
    await insertMember.run(db, {
      workspaceId,
      name: 'reopened@example.com',
      externalId: null,
      avatarUrl: null,
    });
    expect(
      (await findMember.takeFirst(db, { workspaceId, emailKey: 'reopened@example.com' }))?.name,
    ).toBe('reopened@example.com');
  });

  it.runIf(testDialect === 'postgres')(
    "runs after PostgreSQL terminated the store's connections (they held the prepared statement)",
    async () => {
      expect(
        (await findMember.takeFirst(db, { workspaceId, emailKey: 'full@example.com' }))?.name,
      ).toBe('full@example.com');
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const terminated = await admin.query<{ done: boolean }>(
          `select pg_terminate_backend(pid) as done from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()`,
        );
        expect(terminated.rows.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      // The pool finds its connections dead on their next use (a statement may fail with that):
      // what matters is that the prepared query then runs on the new connections.
      let answer: { name: string } | undefined;
      for (let attempt = 0; attempt < 20 && answer === undefined; attempt++) {
        try {
          answer = await findMember.takeFirst(db, { workspaceId, emailKey: 'full@example.com' });
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect(answer?.name).toBe('full@example.com');
      expect(
        (await findMember.takeFirst(db, { workspaceId, emailKey: 'plain@example.com' }))?.name,
      ).toBe('plain@example.com');
    },
  );
});
