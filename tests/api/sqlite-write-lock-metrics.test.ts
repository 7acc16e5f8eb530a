/**
 * On a SQLite file (the writer thread, storage/sqlite-writer.ts) every write takes one lock, one
 * write at a time: under load the writes use all of it and queue, which is when a deployment
 * should move to PostgreSQL. /metrics shows it (`roster_sqlite_write_lock_*`, docs/operations.md):
 * writes counted, seconds held, seconds waited, writes waiting now. Other stores have no such
 * lock and no such metrics.
 *
 * Once the server has written 200 transactions, SQLite's WAL checkpoints run on a thread of their
 * own (storage/sqlite-checkpointer.ts), not in the writer's COMMITs: /metrics counts them
 * (`roster_sqlite_checkpoint*`), and what was written reads back whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialect } from '../helpers/database.js';
import { startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;

beforeAll(async () => {
  // A file, not the suite's in-memory database: only a file gets the writer thread.
  roster = await startRoster({ sqliteFile: true });
});
afterAll(async () => {
  await roster.close();
});

interface WriteLock {
  acquisitions: number;
  held: number;
  waited: number;
  waiting: number;
}

/** The `roster_sqlite_write_lock_*` samples of /metrics, or undefined when there are none. */
async function writeLock(): Promise<WriteLock | undefined> {
  const res = await roster.get('/metrics', null);
  expect(res.status).toBe(200);
  const sample = (name: string) => {
    const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };
  const acquisitions = sample('roster_sqlite_write_lock_acquisitions_total');
  const held = sample('roster_sqlite_write_lock_held_seconds_total');
  const waited = sample('roster_sqlite_write_lock_wait_seconds_total');
  const waiting = sample('roster_sqlite_write_lock_waiting');
  if (acquisitions === undefined) {
    expect([held, waited, waiting]).toEqual([undefined, undefined, undefined]);
    return undefined;
  }
  return { acquisitions, held: held ?? NaN, waited: waited ?? NaN, waiting: waiting ?? NaN };
}

const createProject = (name: string) =>
  roster.post('/api/projects', { name, environment_type: 'dev' });

describe.runIf(testDialect === 'sqlite')('on a SQLite file', () => {
  it('counts each write, the time the lock was held, and the time writes waited for it', async () => {
    const before = await writeLock();
    expect(before).toBeDefined();
    if (before === undefined) return;

    for (let i = 0; i < 5; i += 1)
      expect((await createProject(`One by one ${i}`)).status).toBe(201);
    const alone = await writeLock();
    if (alone === undefined) return;
    expect(alone.acquisitions).toBeGreaterThanOrEqual(before.acquisitions + 5);
    expect(alone.held).toBeGreaterThan(before.held);
    expect(alone.waiting).toBe(0);

    // Twenty at once: they take the lock in turn, and all but the first wait for it.
    const together = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createProject(`Together ${i}`)),
    );
    for (const res of together) expect(res.status).toBe(201);
    const after = await writeLock();
    if (after === undefined) return;
    expect(after.acquisitions).toBeGreaterThanOrEqual(alone.acquisitions + 20);
    expect(after.held).toBeGreaterThan(alone.held);
    expect(after.waited).toBeGreaterThan(alone.waited);
    expect(after.waiting).toBe(0);
  });
});

/** A sample of /metrics, or undefined. */
async function sample(name: string): Promise<number | undefined> {
  const res = await roster.get('/metrics', null);
  expect(res.status).toBe(200);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe.runIf(testDialect === 'sqlite')('SQLite checkpoints', () => {
  it('run on their own thread once the server writes, and what was written reads back', async () => {
    expect(await sample('roster_sqlite_checkpoints_total')).toBe(0);
    // 250 writes, ten at a time: past the 200 that start the thread, and enough WAL to copy.
    for (let batch = 0; batch < 25; batch += 1) {
      const created = await Promise.all(
        Array.from({ length: 10 }, (_, i) => createProject(`Checkpointed ${batch}-${i}`)),
      );
      for (const res of created) expect(res.status).toBe(201);
    }
    // The thread checkpoints every 100 ms.
    let checkpoints = 0;
    for (let tries = 0; tries < 50 && checkpoints === 0; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      checkpoints = (await sample('roster_sqlite_checkpoints_total')) ?? 0;
    }
    expect(checkpoints).toBeGreaterThan(0);
    expect(await sample('roster_sqlite_checkpoint_pages_total')).toBeGreaterThan(0);
    expect(await sample('roster_sqlite_wal_pages')).toBeLessThan(10_000);

    const written = await Promise.all(
      [1, 2, 3, 4].map((page) => roster.get(`/api/projects?page[size]=100&page[number]=${page}`)),
    );
    for (const res of written) expect(res.status).toBe(200);
    const names = written.flatMap((res) =>
      (res.body.data as { name: string }[]).map((project) => project.name),
    );
    expect(names.filter((name) => name.startsWith('Checkpointed '))).toHaveLength(250);
  });
});

describe.runIf(testDialect === 'postgres')('on PostgreSQL', () => {
  it('has no SQLite write lock or checkpoints to report', async () => {
    expect((await createProject('A write')).status).toBe(201);
    expect(await writeLock()).toBeUndefined();
    expect(await sample('roster_sqlite_checkpoints_total')).toBeUndefined();
    expect(await sample('roster_sqlite_wal_pages')).toBeUndefined();
  });
});
