/**
 * ROSTER_SQLITE_WRITER: where a SQLite file's writes run (docs/operations.md). `thread` (the
 * default) gives them a worker thread, so a write waiting for another process's lock holds
 * nothing else; `main` runs them on the server's one thread, which costs less CPU per write but is
 * held meanwhile. Both store and answer the same; a bad value stops the start with its name.
 * The server runs as its own process (the test holds the lock from this one). SQLite runs only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { testDialect } from '../helpers/database.js';
import { startServer, type Server } from '../helpers/spawned-server.js';

async function withServer(
  env: Record<string, string>,
  test: (server: Server, file: string) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-writer-'));
  const server = await startServer({ ROSTER_DATA_DIR: dataDir, ...env });
  try {
    await test(server, path.join(dataDir, 'roster.sqlite'));
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Writes (a role, a project, a group, a grant) and reads them back. */
async function writesAndReads(server: Server): Promise<void> {
  const role = await server.request('POST', '/api/project_roles', {
    project_role: { name: 'Runners', config: { recipe: { privileges: ['run'] } } },
  });
  expect(role.status).toBe(200);
  const project = await server.request('POST', '/api/projects', {
    name: 'Writer',
    environment_type: 'dev',
  });
  expect(project.status).toBe(201);
  const group = await server.request('POST', '/api/user_groups', {
    user_group: { name: 'Writers' },
  });
  const granted = await server.request(
    'PUT',
    `/api/projects/${project.body.data.id}/project_grants`,
    {
      project_grants: [
        {
          assignment_type: 'UserGroup',
          assignment_id: group.body.data.id,
          project_role_id: role.body.data.id,
        },
      ],
    },
  );
  expect(granted.status).toBe(200);
  const grants = await server.request(
    'GET',
    `/api/projects/${project.body.data.id}/project_grants`,
  );
  expect(grants.body.data).toHaveLength(1);
  expect(JSON.stringify(grants.body.data[0])).toContain(String(group.body.data.id));
}

/**
 * Another process holds the write lock; a write is sent, then a liveness probe: returns whether
 * the probe was answered while the write still waited. The write completes once the lock goes.
 */
async function probeDuringLockedWrite(server: Server, file: string): Promise<boolean> {
  const other = new SQLite(file);
  try {
    other.prepare('BEGIN IMMEDIATE').run();
    let writeSettled = false;
    const write = server
      .request('POST', '/api/projects', { name: 'Behind a lock', environment_type: 'dev' })
      .finally(() => {
        writeSettled = true;
      });
    // Let the write reach SQLite and wait there (the busy timeout is 5 s).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const probe = fetch(`${server.url}/livez`).then((reply) => reply.status);
    const answered = await Promise.race([
      probe.then(() => true),
      new Promise<false>((resolve) =>
        setTimeout(() => {
          resolve(false);
        }, 1_000),
      ),
    ]);
    const answeredBeforeWrite = answered && !writeSettled;
    other.prepare('COMMIT').run();
    expect((await write).status).toBe(201);
    expect(await probe).toBe(200);
    return answeredBeforeWrite;
  } finally {
    other.close();
  }
}

describe.skipIf(testDialect !== 'sqlite')('ROSTER_SQLITE_WRITER (SQLite runs only)', () => {
  it('thread (the default): writes and reads work, and the server answers while a write waits for a lock', async () => {
    await withServer({}, async (server, file) => {
      await writesAndReads(server);
      expect(await probeDuringLockedWrite(server, file)).toBe(true);
    });
  }, 60_000);

  it('main: writes and reads work the same; a write waiting for a lock holds the server until it goes', async () => {
    await withServer({ ROSTER_SQLITE_WRITER: 'main' }, async (server, file) => {
      await writesAndReads(server);
      expect(await probeDuringLockedWrite(server, file)).toBe(false);
    });
  }, 60_000);

  it('refuses to start with any other value, naming the variable', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-writer-'));
    try {
      await expect(
        startServer({ ROSTER_DATA_DIR: dataDir, ROSTER_SQLITE_WRITER: 'worker' }),
      ).rejects.toThrow(/ROSTER_SQLITE_WRITER must be "thread" or "main", got "worker"/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
