/**
 * The store's worker thread (SQLite's writer, PostgreSQL's driver) can run at a lower scheduling
 * priority than the main thread that answers the access checks (storage/store-threads.ts,
 * ROSTER_STORE_THREAD_NICE; unset, PostgreSQL's driver thread runs 10 below and SQLite's writer at
 * the process's priority): the server runs as its own process, as `npm start` runs it, and the
 * threads' nice values are read from Linux's /proc, which is where the setting shows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { startServer, type Server } from '../helpers/spawned-server.js';

const onLinux = process.platform === 'linux';

/** Each thread's nice value, by thread ID (/proc/<pid>/task/<tid>/stat, field 19). */
function niceByThread(pid: number): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    nice.set(Number(tid), Number(fields[16]));
  }
  return nice;
}

describe.skipIf(!onLinux)(
  `the store's thread can yield the cores to the checks (${testDialect})`,
  () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    async function serve(env: Record<string, string>): Promise<Server> {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-nice-'));
      let database: TestDatabase | undefined;
      if (testDialect === 'postgres') database = await createTestDatabase();
      const server = await startServer({
        ROSTER_DATA_DIR: dataDir,
        ROSTER_DATABASE_URL: database?.url ?? path.join(dataDir, 'roster.sqlite'),
        ...env,
      });
      cleanups.push(async () => {
        await server.stop();
        await database?.drop();
        await rm(dataDir, { recursive: true, force: true });
      });
      // A write: the store's thread is running from here on (PostgreSQL's starts on a statement).
      const created = await server.request('POST', '/api/user_groups', {
        user_group: { name: 'Nice ones' },
      });
      expect(created.status).toBe(200);
      return server;
    }

    it('runs the store thread 10 below the main thread with ROSTER_STORE_THREAD_NICE=10, and both serve', async () => {
      const server = await serve({ ROSTER_STORE_THREAD_NICE: '10' });
      const nice = niceByThread(server.pid);
      // The main thread's ID is the process's: it keeps the process's priority (0 unless the
      // tests themselves run under `nice`), and one thread, the store's, is 10 below it.
      const base = nice.get(server.pid) ?? 0;
      const lowered = [...nice.values()].filter((value) => value !== base);
      expect(lowered).toEqual([Math.min(19, base + 10)]);
      // Writes and checks still go through it as usual.
      const groups = await server.request('GET', '/api/user_groups');
      expect(groups.status).toBe(200);
      expect(groups.body.data.map((group: { name: string }) => group.name)).toContain('Nice ones');
    });

    it("by default lowers PostgreSQL's driver thread by 10 and keeps SQLite's writer level; 0 keeps all level, and any step up to 19 is taken", async () => {
      const byDefault = await serve({});
      const defaultNice = niceByThread(byDefault.pid);
      const base = defaultNice.get(byDefault.pid) ?? 0;
      const lowered = [...defaultNice.values()].filter((value) => value !== base);
      expect(lowered).toEqual(
        testDialect === 'postgres' && base < 19 ? [Math.min(19, base + 10)] : [],
      );
      const level = await serve({ ROSTER_STORE_THREAD_NICE: '0' });
      expect([...niceByThread(level.pid).values()].every((value) => value === base)).toBe(true);
      const lowest = await serve({ ROSTER_STORE_THREAD_NICE: '19' });
      const values = [...niceByThread(lowest.pid).values()];
      expect(values.filter((value) => value !== base)).toEqual(base === 19 ? [] : [19]);
    });
  },
);

describe('ROSTER_STORE_THREAD_NICE', () => {
  it('takes a whole number from 0 to 19 (unset: each thread its default), and stops the start with a message otherwise', () => {
    expect(loadConfig({}).storeThreadNice).toBeUndefined();
    expect(loadConfig({ ROSTER_STORE_THREAD_NICE: '' }).storeThreadNice).toBeUndefined();
    expect(loadConfig({ ROSTER_STORE_THREAD_NICE: '10' }).storeThreadNice).toBe(10);
    expect(loadConfig({ ROSTER_STORE_THREAD_NICE: '0' }).storeThreadNice).toBe(0);
    for (const bad of ['20', '-1', '2.5', 'low'])
      expect(() => loadConfig({ ROSTER_STORE_THREAD_NICE: bad })).toThrow(
        `ROSTER_STORE_THREAD_NICE must be a whole number from 0 to 19, got "${bad}"`,
      );
  });
});
