/**
 * The checkpoint thread's stop path (storage/sqlite-checkpointer.ts). While the thread runs, the
 * writer's own automatic checkpoint is only a safety net (10,000 pages of WAL); if the thread
 * stops, the writer must checkpoint by itself again (SQLite's 1,000), or the WAL grows ten times
 * larger than SQLite lets it. A stopped thread is started again on a later write, three times in
 * all, never in a loop. The HTTP API cannot stop this thread, so the class is driven directly,
 * with real threads and a real SQLite file: a thread that cannot open its file stops as one that
 * dies of its heap would (its `error`, then its `exit`).
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Checkpointer,
  SAFETY_NET_PAGES,
  SQLITE_AUTOCHECKPOINT_PAGES,
} from '../../packages/server/src/storage/sqlite-checkpointer.js';
import { defaultStoreThreads } from '../../packages/server/src/storage/store-threads.js';

const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'roster-checkpointer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when `check` holds, polling every 20 ms for up to 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 250 && !check(); tries += 1)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(check()).toBe(true);
}

/** Warnings the process emits while `run` runs. */
async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listen = (warning: Error) => seen.push(warning.message);
  process.on('warning', listen);
  try {
    await run();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  return seen;
}

describe('the SQLite checkpoint thread', () => {
  it('copies a WAL into the database file, and hands the writer its safety net meanwhile', async () => {
    const file = path.join(dir, 'checkpointed.sqlite');
    const writer = new SQLite(file);
    writer.pragma('journal_mode = WAL');
    // The writer leaves every checkpoint to the thread, as with the safety net.
    writer.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
    writer.exec('create table rows (id integer primary key, body text)');
    const insert = writer.prepare('insert into rows (body) values (?)');
    for (let i = 0; i < 500; i += 1) insert.run('x'.repeat(500));

    const settings: number[] = [];
    const checkpointer = new Checkpointer(
      file,
      driverPath,
      defaultStoreThreads('sqlite-writer'),
      (pages) => settings.push(pages),
    );
    checkpointer.start();
    expect(checkpointer.running).toBe(true);
    expect(settings).toEqual([SAFETY_NET_PAGES]);
    await until(() => checkpointer.report().pagesCopied > 0);
    expect(checkpointer.report()).toMatchObject({ running: true });
    expect(checkpointer.report().checkpoints).toBeGreaterThan(0);

    await checkpointer.close();
    // Closing is not a stop: the writer's setting is the store's to drop with it.
    expect(settings).toEqual([SAFETY_NET_PAGES]);
    expect(checkpointer.report().running).toBe(false);
    checkpointer.start();
    expect(checkpointer.running).toBe(false);
    writer.close();
  });

  it('gives the writer its own checkpoint back when it stops, and starts again three times at most', async () => {
    // A directory where the database file should be: the thread fails to open it and stops.
    const notAFile = path.join(dir, 'a-directory.sqlite');
    await mkdir(notAFile);
    const settings: number[] = [];
    const checkpointer = new Checkpointer(
      notAFile,
      driverPath,
      defaultStoreThreads('sqlite-writer'),
      (pages) => settings.push(pages),
    );

    const warnings = await warningsDuring(async () => {
      checkpointer.start();
      expect(settings).toEqual([SAFETY_NET_PAGES]);
      await until(() => !checkpointer.running);
    });
    expect(settings).toEqual([SAFETY_NET_PAGES, SQLITE_AUTOCHECKPOINT_PAGES]);
    expect(checkpointer.report().running).toBe(false);
    // The warning names the cause: the thread's error arrives without its message (threadErrorText).
    expect(
      warnings.some((w) =>
        /^The SQLite checkpoint thread stopped \((SQLITE_CANTOPEN|unable to open)/.test(w),
      ),
    ).toBe(true);

    // The store starts it again on a later write: twice more, then never.
    for (let start = 2; start <= 3; start += 1) {
      checkpointer.start();
      expect(checkpointer.running).toBe(true);
      await until(() => !checkpointer.running);
    }
    expect(settings).toEqual([
      SAFETY_NET_PAGES,
      SQLITE_AUTOCHECKPOINT_PAGES,
      SAFETY_NET_PAGES,
      SQLITE_AUTOCHECKPOINT_PAGES,
      SAFETY_NET_PAGES,
      SQLITE_AUTOCHECKPOINT_PAGES,
    ]);
    checkpointer.start();
    expect(checkpointer.running).toBe(false);
    expect(settings).toHaveLength(6);
    await checkpointer.close();
  });
});
