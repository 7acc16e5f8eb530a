/**
 * The server as `npm start` runs it (the built main.js, a process of its own) through the faults
 * of its database: PostgreSQL connections terminated under load, PostgreSQL unreachable for a few
 * seconds (a TCP proxy the test cuts, standing for a stop or a restart), a full disk, a read-only
 * data directory and kill -9 in the middle of a bulk import. In each, the process must survive,
 * answer what it cannot do with a clear 503/507, serve again by itself when the database is back,
 * and lose no write it acknowledged. docs/operations.md#database-faults says the same to operators.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { startServer as startSpawned, type Server } from '../helpers/spawned-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const UNAVAILABLE = /The database is unavailable/;

type Reply = Awaited<ReturnType<Server['request']>>;

/** The server as `npm start` runs it; a request must fail fast during an outage, not hang. */
const startServer = (env: Record<string, string>) =>
  startSpawned(env, { requestTimeoutMs: 20_000 });

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The outcome of every request a load loop sent: what was acknowledged, what failed how. */
interface Load {
  acknowledged: string[];
  unavailable: number;
  served: number;
  /** Anything but success or a clear 503: a 500, a hang, a dropped connection. */
  wrong: string[];
  stop(): Promise<void>;
}

/**
 * Writers create end users (each email once: an acknowledged one must exist afterwards), readers
 * list them, concurrently, until stopped.
 */
function runLoad(server: Server, prefix: string, writers: number, readers: number): Load {
  const load: Load = {
    acknowledged: [],
    unavailable: 0,
    served: 0,
    wrong: [],
    stop: async () => {},
  };
  let running = true;
  let counter = 0;
  const judge = (label: string, reply: Reply, ok: number) => {
    if (reply.status === ok) {
      load.served += 1;
      return true;
    }
    const title: unknown = reply.body?.errors?.[0]?.title;
    if (reply.status === 503 && typeof title === 'string' && UNAVAILABLE.test(title)) {
      load.unavailable += 1;
      if (reply.ms > 10_000) load.wrong.push(`${label}: a 503 after ${reply.ms} ms`);
    } else {
      load.wrong.push(`${label}: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
    return false;
  };
  const loop = async (work: () => Promise<void>) => {
    while (running) {
      try {
        await work();
      } catch (error) {
        load.wrong.push(`request failed: ${String(error)}`);
      }
    }
  };
  const loops = [
    ...Array.from({ length: writers }, () =>
      loop(async () => {
        const email = `${prefix}-${(counter += 1)}@example.com`;
        const reply = await server.request('POST', '/api/end_users', {
          name: email,
          email,
          environment_types: ['dev'],
        });
        if (judge(`POST ${email}`, reply, 201)) load.acknowledged.push(email);
      }),
    ),
    ...Array.from({ length: readers }, () =>
      loop(async () => {
        judge(
          'GET /api/end_users',
          await server.request('GET', '/api/end_users?page[size]=5'),
          200,
        );
      }),
    ),
  ];
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return load;
}

async function missingEmails(server: Server, emails: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const email of emails) {
    const reply = await server.request('GET', `/api/end_users?email=${encodeURIComponent(email)}`);
    expect(reply.status).toBe(200);
    if (!(reply.body.data as { email: string }[]).some((user) => user.email === email))
      missing.push(email);
  }
  return missing;
}

describe.skipIf(testDialect !== 'postgres')(
  'PostgreSQL faults under load (two instances; PostgreSQL runs only)',
  { timeout: 180_000 },
  () => {
    let database: TestDatabase;
    let admin: pg.Client;
    let proxy: TcpProxy;
    let dataDir: string;
    /** Instance A reaches PostgreSQL through the proxy; B directly. Neither polls. */
    let a: Server;
    let b: Server;
    let scenario: Awaited<ReturnType<typeof decisionScenario>>;

    beforeAll(async () => {
      database = await createTestDatabase();
      const target = new URL(database.url);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      dataDir = await mkdtemp(path.join(tmpdir(), 'roster-faults-'));
      // Without the poll, an instance learns of another's writes only by LISTEN/NOTIFY: what the
      // reconnection tests below must see working again.
      const common = { ROSTER_CHANGE_POLL_MS: '0' };
      a = await startServer({
        ...common,
        ROSTER_DATABASE_URL: proxy.through(database.url),
        ROSTER_DATA_DIR: path.join(dataDir, 'a'),
      });
      b = await startServer({
        ...common,
        ROSTER_DATABASE_URL: database.url,
        ROSTER_DATA_DIR: path.join(dataDir, 'b'),
      });
      admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      // Before any fault: B's writes reach A by notification.
      scenario = await decisionScenario();
      await decisionOnA(scenario.ask, 'allow');
    });
    afterAll(async () => {
      /* eslint-disable @typescript-eslint/no-unnecessary-condition -- beforeAll may have failed
         before assigning them all */
      await admin?.end();
      await a?.stop();
      await b?.stop();
      await proxy?.close();
      await database?.drop();
      /* eslint-enable @typescript-eslint/no-unnecessary-condition */
      await rm(dataDir, { recursive: true, force: true });
    });

    /** pg_terminate_backend on every connection of both instances (the test's own excepted). */
    async function terminateBackends(): Promise<number> {
      const result = await admin.query<{ terminated: boolean }>(
        `select pg_terminate_backend(pid) as terminated from pg_stat_activity
          where datname = current_database() and usename = current_user
            and pid <> pg_backend_pid()`,
      );
      return result.rows.filter((row) => row.terminated).length;
    }

    async function readiness(server: Server) {
      const reply = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
    }

    /**
     * An end user allowed a feature by a group policy, all written on B: the decision is answered
     * from each instance's in-memory index, so A's answer shows what A has learnt of B's writes.
     */
    async function decisionScenario() {
      const user = await b.request('POST', '/api/end_users', {
        name: 'Notified',
        email: 'notified@example.com',
        environment_types: ['dev'],
      });
      const group = await b.request('POST', '/api/end_user_groups', {
        environment_type: 'dev',
        name: 'Notified crew',
        end_user_ids: [user.body.data.id],
      });
      const feature = await b.request('POST', '/api/features', {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'Notified assistant',
      });
      const policy = await b.request('POST', '/api/policies', {
        name: 'Notified crew may',
        environment_type: 'dev',
        feature_id: feature.body.data.id,
        scope: { type: 'groups', ids: [group.body.data.id] },
        effect: 'allow',
      });
      expect([user.status, group.status, feature.status, policy.status]).toEqual([
        201, 201, 201, 201,
      ]);
      return {
        userId: user.body.data.id as number,
        ask: {
          end_user_id: user.body.data.id as number,
          environment_type: 'dev',
          feature_id: feature.body.data.id as number,
        },
      };
    }

    /** Waits for A's decision to become `expected`; returns how long that took. */
    async function decisionOnA(ask: Record<string, unknown>, expected: string): Promise<number> {
      const started = Date.now();
      await waitFor(`A decides ${expected}`, 5_000, async () => {
        const reply = await a.request('POST', '/api/end_users/decisions', ask);
        return reply.status === 200 && reply.body.data.decision === expected ? reply : undefined;
      });
      return Date.now() - started;
    }

    it('keeps both processes alive through rounds of pg_terminate_backend under read and write load, answering 503 meanwhile, losing no acknowledged write', async () => {
      expect((await readiness(a)).body).toEqual({
        status: 'ok',
        database: 'ok',
        dialect: 'postgres',
        notifications: 'listening',
        // What is warm (access-tenants.test.ts asserts it); readiness does not depend on it.
        index: expect.objectContaining({ workspaces_failed: 0 }),
      });
      const loadA = runLoad(a, 'terminated-a', 3, 2);
      const loadB = runLoad(b, 'terminated-b', 2, 1);
      let terminated = 0;
      for (let round = 0; round < 6; round++) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        terminated += await terminateBackends();
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await loadA.stop();
      await loadB.stop();

      expect(a.alive() && b.alive(), a.output().slice(-3_000)).toBe(true);
      expect(terminated).toBeGreaterThan(6);
      expect(loadA.wrong).toEqual([]);
      expect(loadB.wrong).toEqual([]);
      expect(loadA.acknowledged.length).toBeGreaterThan(0);
      // Both serve again without a restart, and every write they acknowledged is there.
      for (const server of [a, b]) {
        const ready = await waitFor('ready again', 15_000, async () => {
          const reply = await readiness(server);
          return reply.status === 200 && reply.body.notifications === 'listening'
            ? reply
            : undefined;
        });
        expect(ready.body.database).toBe('ok');
      }
      expect(await missingEmails(b, [...loadA.acknowledged, ...loadB.acknowledged])).toEqual([]);
      // The driver's error is in the log (not in the responses).
      expect(a.output()).toMatch(
        /terminating connection due to administrator command|Connection terminated/,
      );
    });

    it('answers 503 fast with a clear body (API and SCIM formats) while PostgreSQL is unreachable, says so on /readyz, and serves again by itself when it is back', async () => {
      const connection = await a.request('POST', '/api/scim_connections', {
        environment_type: 'dev',
        target: 'end_users',
      });
      expect(connection.status).toBe(201);
      const scim = connection.body.data as { id: string; token: string };

      const load = runLoad(a, 'outage', 2, 2);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await proxy.cut();
      const cutAt = Date.now();
      try {
        const write = await a.request('POST', '/api/end_users', {
          name: 'During the outage',
          email: 'during-outage@example.com',
          environment_types: ['dev'],
        });
        expect(write.status).toBe(503);
        expect(write.body).toEqual({
          errors: [{ code: 'service_unavailable', title: expect.stringMatching(UNAVAILABLE) }],
        });
        expect(write.ms).toBeLessThan(8_000);

        const scimReply = await fetch(`${a.url}/scim/v2/${scim.id}/Users`, {
          headers: { authorization: `Bearer ${scim.token}` },
          signal: AbortSignal.timeout(10_000),
        });
        expect(scimReply.status).toBe(503);
        expect(scimReply.headers.get('content-type')).toMatch(/application\/scim\+json/);
        expect(await scimReply.json()).toEqual({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
          status: '503',
          detail: expect.stringMatching(UNAVAILABLE),
        });

        // The listener notices its closed socket within moments.
        const ready = await waitFor('/readyz reports the outage', 5_000, async () => {
          const reply = await readiness(a);
          return reply.body.notifications === 'reconnecting' ? reply : undefined;
        });
        expect(ready).toEqual({
          status: 503,
          body: {
            status: 'unavailable',
            database: 'unavailable',
            dialect: 'postgres',
            notifications: 'reconnecting',
            index: expect.any(Object),
            error: expect.stringMatching(UNAVAILABLE),
          },
        });
        // Liveness stays green: the process is fine, an orchestrator must not restart it.
        expect((await fetch(`${a.url}/livez`)).status).toBe(200);
        // Outage of about 3 s, longer than one LISTEN retry.
        await new Promise((resolve) =>
          setTimeout(resolve, Math.max(0, 3_000 - (Date.now() - cutAt))),
        );
      } finally {
        await proxy.restore();
      }
      const restoredAt = Date.now();
      const ready = await waitFor('ready and listening again', 20_000, async () => {
        const reply = await readiness(a);
        return reply.status === 200 && reply.body.notifications === 'listening' ? reply : undefined;
      });
      expect(ready.body).toMatchObject({ status: 'ok', database: 'ok' });
      const recoveryMs = Date.now() - restoredAt;
      await new Promise((resolve) => setTimeout(resolve, 500));
      await load.stop();

      expect(a.alive(), a.output().slice(-3_000)).toBe(true);
      expect(load.wrong).toEqual([]);
      expect(load.unavailable).toBeGreaterThan(0);
      expect(recoveryMs).toBeLessThan(15_000);
      expect(await missingEmails(b, load.acknowledged)).toEqual([]);
      expect(a.output()).toMatch(/lost the PostgreSQL LISTEN connection/);
      // More than one attempt failed during the outage, and a later one succeeded.
      expect(a.output()).toMatch(/could not LISTEN for cross-instance changes; retrying/);
      expect(a.output()).toMatch(/listening for cross-instance changes again/);
    });

    it('after the faults, instance A learns of B’s writes by notification again (no poll running)', async () => {
      const { userId, ask } = scenario;
      expect(await decisionOnA(ask, 'allow')).toBeLessThan(5_000);
      expect((await b.request('POST', `/api/end_users/${userId}/lock`)).status).toBe(200);
      await decisionOnA(ask, 'deny');
      expect((await b.request('POST', `/api/end_users/${userId}/unlock`)).status).toBe(200);
      await decisionOnA(ask, 'allow');
    });

    it('keeps instance A serving when instance B is killed (kill -9) under load, and B starts again cleanly and in step', async () => {
      const loadA = runLoad(a, 'killed-b-a', 2, 1);
      const loadB = runLoad(b, 'killed-b-b', 2, 1);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await b.kill('SIGKILL');
      await loadB.stop();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await loadA.stop();
      expect(a.alive()).toBe(true);
      // A never noticed: B's connections ended with B, its open transactions rolled back.
      expect(loadA.wrong).toEqual([]);
      expect(loadA.unavailable).toBe(0);
      // B's requests cut by the kill are not acknowledged; every one that was is stored.
      expect(loadB.wrong.every((line) => line.startsWith('request failed'))).toBe(true);

      b = await startServer({
        ROSTER_CHANGE_POLL_MS: '0',
        ROSTER_DATABASE_URL: database.url,
        ROSTER_DATA_DIR: path.join(dataDir, 'b'),
      });
      expect(await missingEmails(b, [...loadA.acknowledged, ...loadB.acknowledged])).toEqual([]);
      // The new B's writes reach A by notification, as before.
      const { userId, ask } = scenario;
      expect((await b.request('POST', `/api/end_users/${userId}/lock`)).status).toBe(200);
      await decisionOnA(ask, 'deny');
    });
  },
);

/** Whether this run may mount a tmpfs (root, and a container that allows it). */
function tmpfsAvailable(): boolean {
  if (testDialect !== 'sqlite') return false;
  const probe = mkdtempSync(path.join(tmpdir(), 'roster-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const canMount = tmpfsAvailable();
if (testDialect === 'sqlite' && !canMount)
  process.emitWarning(
    'faults.test.ts: cannot mount a tmpfs here (needs root): the disk-full and read-only cases are skipped',
  );

/** A fresh tmpfs of `size` (e.g. "8m") mounted on a new directory. */
function mountTmpfs(size: string): { dir: string; unmount(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'roster-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    unmount() {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!canMount)(
  'SQLite on a full or read-only disk (SQLite runs as root only)',
  { timeout: 120_000 },
  () => {
    it('answers 507 with a clear message when the disk is full, logs SQLITE_FULL, keeps what it acknowledged, and writes again once space is freed, into the access index too', async () => {
      const disk = mountTmpfs('8m');
      let server: Server | undefined;
      try {
        server = await startServer({ ROSTER_DATA_DIR: disk.dir });
        const acknowledged: string[] = [];
        const create = async (email: string) => {
          const reply = await server!.request('POST', '/api/end_users', {
            name: `${email} ${'x'.repeat(150)}`,
            email,
            environment_types: ['dev', 'test', 'prod'],
          });
          if (reply.status === 201) acknowledged.push(email);
          return reply;
        };
        for (let i = 0; i < 5; i++)
          expect((await create(`before-${i}@example.com`)).status).toBe(201);
        const feature = (
          await server.request('POST', '/api/features', {
            environment_type: 'dev',
            kind: 'mcp_server',
            name: 'Probe',
          })
        ).body.data as { id: number };
        // The end users' index is loaded now (it loads on a workspace's first end-user check),
        // so what follows must reach it through the change feed.
        const before = await server.request('POST', '/api/access/check', {
          environment_type: 'dev',
          subject: { email: 'before-0@example.com' },
          feature_id: feature.id,
        });
        expect(before.body).toEqual({ data: { allowed: false, paths: [] } });

        // Leave 32 KB free: a few more writes fit, then SQLite cannot grow its files.
        const { bavail, bsize } = statfsSync(disk.dir);
        const filler = path.join(disk.dir, 'filler');
        writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 32 * 1024)));
        let full: Reply | undefined;
        for (let i = 0; i < 3_000 && full === undefined; i++) {
          const reply = await create(`filling-${i}@example.com`);
          if (reply.status !== 201) full = reply;
        }
        expect(full).toBeDefined();
        expect(full!.status).toBe(507);
        expect(full!.body).toEqual({
          errors: [
            {
              code: 'insufficient_storage',
              title: expect.stringMatching(
                /database is out of disk space; the change was not saved/,
              ),
            },
          ],
        });
        // The log names the real cause, not the failed ROLLBACK after it (the log arrives through a
        // pipe: wait for it).
        await waitFor('the log names SQLITE_FULL', 5_000, () =>
          /SQLITE_FULL/.test(server!.output()) ? true : undefined,
        );
        expect(server.output()).not.toMatch(/cannot rollback/);
        // Reads still work on a full disk.
        expect((await server.request('GET', '/api/end_users?page[size]=1')).status).toBe(200);

        rmSync(filler);
        const after = await waitFor('a write succeeds once space is freed', 10_000, async () => {
          const reply = await create(`after-${Date.now()}@example.com`);
          return reply.status === 201 ? reply : undefined;
        });
        expect(after.status).toBe(201);
        // The write acknowledged after the refused one is in the access index. The refused
        // write's audit event was inserted before its COMMIT failed, and SQLite gave its ID to
        // this write's event: noted for the refused request, it made the change feed pass over
        // this one, and the index never learnt of the user (404) until a restart.
        const probe = await server.request('POST', '/api/access/check', {
          environment_type: 'dev',
          subject: { end_user_id: (after.body.data as { id: number }).id },
          feature_id: feature.id,
        });
        expect(probe.body).toEqual({ data: { allowed: false, paths: [] } });
        expect(server.alive()).toBe(true);
        expect(await missingEmails(server, acknowledged)).toEqual([]);
      } finally {
        await server?.stop();
        disk.unmount();
      }
    });

    it('refuses to start on a read-only data directory with a message naming it and ROSTER_DATA_DIR', async () => {
      const disk = mountTmpfs('16m');
      try {
        // A data directory that worked, then became read-only (a remounted volume).
        const first = await startServer({ ROSTER_DATA_DIR: disk.dir });
        await first.stop();
        execFileSync('mount', ['-o', 'remount,ro', disk.dir]);
        const failed = await startServer({ ROSTER_DATA_DIR: disk.dir }).then(
          async (server) => {
            await server.stop();
            return 'it started';
          },
          (error: unknown) => String(error),
        );
        // The helper's error carries the exit code and what the process wrote (its stderr).
        expect(failed).toContain('server exited (1)');
        expect(failed).toContain(`The data directory ${disk.dir} is read-only`);
        expect(failed).toContain('ROSTER_DATA_DIR');
      } finally {
        disk.unmount();
      }
    });
  },
);

describe('kill -9 during a bulk import', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let dataDir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(tmpdir(), 'roster-kill-'));
  });
  afterAll(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged write and starts again cleanly', async () => {
    // SQLite needs a file that outlives the process (not :memory:).
    const env = {
      ROSTER_DATA_DIR: dataDir,
      ...(testDialect === 'postgres' ? { ROSTER_DATABASE_URL: database.url } : {}),
    };
    const first = await startServer(env);
    const connection = await first.request('POST', '/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
    });
    expect(connection.status).toBe(201);
    const scim = connection.body.data as { id: string; token: string };

    // An identity provider's initial import: users created as fast as the server takes them.
    const acknowledged: string[] = [];
    let running = true;
    let counter = 0;
    const importer = async () => {
      while (running) {
        const userName = `imported-${(counter += 1)}@example.com`;
        try {
          const reply = await first.request(
            'POST',
            `/scim/v2/${scim.id}/Users`,
            {
              schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
              userName,
              name: { givenName: 'Imported', familyName: String(counter) },
              emails: [{ value: userName, primary: true }],
              active: true,
            },
            { authorization: `Bearer ${scim.token}` },
          );
          if (reply.status === 201) acknowledged.push(userName);
        } catch {
          // the process was killed while this request ran: not acknowledged
        }
      }
    };
    const importers = Array.from({ length: 6 }, importer);
    await waitFor('the import is under way', 30_000, () =>
      acknowledged.length >= 50 ? true : undefined,
    );
    await first.kill('SIGKILL');
    running = false;
    await Promise.all(importers);

    const second = await startServer(env);
    try {
      expect(second.output()).not.toMatch(/error|failed/i);
      const missing: string[] = [];
      for (const userName of acknowledged) {
        const reply = await second.request(
          'GET',
          `/scim/v2/${scim.id}/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`,
          undefined,
          { authorization: `Bearer ${scim.token}` },
        );
        expect(reply.status).toBe(200);
        if (reply.body.totalResults !== 1) missing.push(userName);
      }
      expect(missing).toEqual([]);
      expect(acknowledged.length).toBeGreaterThanOrEqual(50);
    } finally {
      await second.stop();
    }
  });
});

describe.skipIf(testDialect !== 'sqlite')(
  'SQLite locked by another process (SQLite runs only)',
  { timeout: 60_000 },
  () => {
    it('answers 503 "busy" when another process holds the write lock past the busy timeout, and writes again once it lets go', async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-busy-'));
      const server = await startServer({ ROSTER_DATA_DIR: dataDir });
      // Another process's long write transaction (a script, a careless sqlite3 shell).
      const other = new SQLite(path.join(dataDir, 'roster.sqlite'));
      try {
        other.prepare('BEGIN IMMEDIATE').run();
        const write = await server.request('POST', '/api/end_users', {
          name: 'Blocked',
          email: 'blocked@example.com',
          environment_types: ['dev'],
        });
        expect(write.status).toBe(503);
        expect(write.body).toEqual({
          errors: [
            {
              code: 'service_unavailable',
              title: expect.stringMatching(/database is busy \(locked by another writer\)/),
            },
          ],
        });
        other.prepare('COMMIT').run();
        const retried = await server.request('POST', '/api/end_users', {
          name: 'Blocked',
          email: 'blocked@example.com',
          environment_types: ['dev'],
        });
        expect(retried.status).toBe(201);
      } finally {
        other.close();
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  },
);
