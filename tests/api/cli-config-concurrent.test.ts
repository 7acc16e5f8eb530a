/**
 * `roster apply` against a conflicting concurrent change, with the interleaving forced rather than
 * left to timing: a second database connection of the test opens a transaction that inserts the
 * group the document creates ("Ops") and holds it — on PostgreSQL the row's unique key, on SQLite
 * the write lock (BEGIN IMMEDIATE) — while the apply starts and waits on it; then the test commits.
 *
 * Whatever the apply did before it had to wait (it creates roles first) must not survive: on
 * PostgreSQL its insert of "Ops" fails once the other transaction commits, and the apply fails
 * whole with a 409 naming the document path and the object; on SQLite the apply's transaction
 * cannot start before the lock is released, so it then sees "Ops" and adopts it. Either way the
 * workspace is either exactly the document or exactly what it was plus the concurrent row.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';
import { roster as cli, type CliResult } from '../helpers/cli.js';

let server: Roster;
let database: TestDatabase;
let dir: string;
let sqliteFile: string;
let source: { token: string; id: number };

/** The second connection's SQL, on this run's dialect: `$1`-style parameters on both. */
interface SideConnection {
  run(sql: string, parameters?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function openSideConnection(): Promise<SideConnection> {
  if (testDialect === 'postgres') {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    return {
      run: async (sql, parameters = []) => {
        await client.query(sql, parameters);
      },
      close: () => client.end(),
    };
  }
  const db = new SQLite(sqliteFile);
  db.pragma('busy_timeout = 5000');
  return {
    run: async (sql, parameters = []) => {
      db.prepare(sql.replace(/\$\d+/g, '?')).run(...parameters);
      await Promise.resolve();
    },
    close: async () => {
      db.close();
      await Promise.resolve();
    },
  };
}

async function newWorkspace(name: string): Promise<{ token: string; id: number }> {
  const res = await server.post('/platform/workspaces', { name }, PLATFORM_TOKEN);
  if (res.status !== 201) throw new Error(`workspace: ${res.status} ${res.text}`);
  return { token: res.body.data.admin_token as string, id: res.body.data.id as number };
}

async function post(token: string, p: string, body: unknown): Promise<any> {
  const res = await server.post(p, body, token);
  if (res.status >= 300) throw new Error(`${p}: ${res.status} ${res.text}`);
  return res.body.data;
}

const remote = (token: string) => ({ ROSTER_URL: server.url, ROSTER_TOKEN: token });

async function exportOf(token: string): Promise<any> {
  const result = await cli(['export'], remote(token));
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** Resolves once a session of this database waits for a lock another one holds (PostgreSQL). */
async function waitForLockWaiter(): Promise<void> {
  const observer = new pg.Client({ connectionString: database.url });
  await observer.connect();
  try {
    for (let attempt = 0; attempt < 400; attempt += 1) {
      const { rows } = await observer.query<{ waiting: string }>(
        `SELECT count(*) AS waiting FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (Number(rows[0]?.waiting) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the apply never waited for the concurrent transaction');
  } finally {
    await observer.end();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'roster-apply-race-'));
  sqliteFile = path.join(dir, 'roster.sqlite');
  // A database both the server and the test's own connection reach: a file on SQLite (an
  // in-memory database has one connection), this run's throwaway database on PostgreSQL.
  database = await createTestDatabase();
  server = await startRoster({
    env: { ROSTER_DATABASE_URL: testDialect === 'postgres' ? database.url : sqliteFile },
  });
  source = await newWorkspace('Race source');
  await post(source.token, '/api/environment_roles', {
    environment_role: { name: 'Env Reader', config: { team: { privileges: ['read'] } } },
  });
  const reviewer = await post(source.token, '/api/project_roles', {
    project_role: { name: 'Reviewer', config: { recipe: { privileges: ['read'] } } },
  });
  const ops = await post(source.token, '/api/user_groups', {
    user_group: { name: 'Ops', description: 'On call' },
  });
  const checkout = await post(source.token, '/api/projects', {
    name: 'Checkout',
    environment_type: 'dev',
  });
  const granted = await server.put(
    `/api/projects/${checkout.id}/project_grants`,
    {
      project_grants: [
        { assignment_type: 'UserGroup', assignment_id: ops.id, project_role_id: reviewer.id },
      ],
    },
    source.token,
  );
  expect(granted.status).toBeLessThan(300);
}, 60_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may have failed before setting it
  await server?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- likewise
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('roster apply against a concurrent change it has to wait for', () => {
  it('is all or nothing when another transaction holds the group it creates, then commits', async () => {
    const document = await exportOf(source.token);
    expect(document.groups).toEqual([{ name: 'Ops', description: 'On call' }]);
    const documentFile = path.join(dir, 'race.json');
    await writeFile(documentFile, JSON.stringify(document));
    const target = await newWorkspace('Race target');
    const before = await exportOf(target.token);
    const auditBefore = (await server.get('/api/audit_events?page[size]=1', target.token)).body
      .total as number;

    const side = await openSideConnection();
    await side.run(testDialect === 'postgres' ? 'BEGIN' : 'BEGIN IMMEDIATE');
    const now = new Date().toISOString();
    await side.run(
      `INSERT INTO collaborator_groups
         (id, workspace_id, name, name_key, description, system, managed_by, created_at, updated_at)
       VALUES ($1, $2, 'Ops', 'ops', 'Racing', 0, 'manual', $3, $4)`,
      ['am_concurrent_ops', target.id, now, now],
    );
    let finished = false;
    const applying = cli(['apply', documentFile], remote(target.token)).then((result) => {
      finished = true;
      return result;
    });
    if (testDialect === 'postgres') await waitForLockWaiter();
    // SQLite says nothing about who waits for its lock: give the CLI time to start and reach it
    // (its transaction waits up to busy_timeout, 5 s).
    else await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(finished).toBe(false);
    await side.run('COMMIT');
    await side.close();
    const applied: CliResult = await applying;

    const after = await exportOf(target.token);
    const auditAfter = (await server.get('/api/audit_events?page[size]=1', target.token)).body
      .total as number;
    if (applied.code === 0) {
      // It saw the committed "Ops" and adopted it (SQLite: its transaction began after the commit).
      expect(after).toEqual(document);
    } else {
      // It planned before the commit and collided: the whole apply is refused, clearly, naming
      // the object, and nothing of it remains (the roles it had created are rolled back).
      expect(applied.stderr).toContain('The server refused (409)');
      expect(applied.stderr).toContain(
        '/groups/0: could not create group "Ops": another request changed the same object while this apply ran',
      );
      expect(applied.stderr).toContain('Nothing was applied');
      expect(after).toEqual({ ...before, groups: [{ name: 'Ops', description: 'Racing' }] });
      expect(auditAfter).toBe(auditBefore);
    }
    // Which of the two it is depends only on the store, not on timing: PostgreSQL plans under
    // READ COMMITTED before its insert waits; SQLite's transaction begins (IMMEDIATE) only once
    // the other released the write lock. Before that fix SQLite refused at once with a 503.
    expect(applied.code === 0).toBe(testDialect === 'sqlite');

    // Applied again with nothing in its way, the same document goes through whole.
    const again = await cli(['apply', documentFile], remote(target.token));
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(await exportOf(target.token)).toEqual(document);
  }, 60_000);
});
