/**
 * The store's worker threads stop, and the server goes on (docs/operations.md, "The store's
 * threads"): PostgreSQL's driver thread (storage/postgres-thread.ts) runs every statement, SQLite's
 * writer thread (storage/sqlite-writer.ts) every transaction. A thread can die of a real cause: a
 * statement whose result outgrows its heap (ROSTER_STORE_THREAD_HEAP_MB, here small enough for a
 * test-sized result: the members of a SCIM group of 200,000, rendered inside the PATCH's
 * transaction). The request in flight answers 503 (never a crash, never a hang), its transaction
 * is gone (nothing of it stored), a new thread takes the next statement, and the next requests
 * succeed. The server runs as its own process, as `npm start` runs it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../packages/server/src/storage/connect.js';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { startServer, type Server } from '../helpers/spawned-server.js';

const MEMBERS = 200_000;
const HEAP_MB = 24;
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe(`the store's ${testDialect === 'postgres' ? 'driver' : 'writer'} thread stops and a new one takes over (${testDialect})`, () => {
  let dataDir: string;
  let database: TestDatabase | undefined;
  let databaseUrl: string;
  let server: Server;
  let connection: { id: string; token: string };
  let user: string;
  let group: string;

  const scim = (method: string, url: string, body?: unknown) =>
    server.request(method, `/scim/v2/${connection.id}${url}`, body, {
      authorization: `Bearer ${connection.token}`,
      'content-type': 'application/scim+json',
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'roster-thread-'));
    if (testDialect === 'postgres') {
      database = await createTestDatabase();
      databaseUrl = database.url;
    } else {
      databaseUrl = path.join(dataDir, 'roster.sqlite');
    }
    server = await startServer({
      ROSTER_DATA_DIR: dataDir,
      ROSTER_DATABASE_URL: databaseUrl,
      ROSTER_STORE_THREAD_HEAP_MB: String(HEAP_MB),
    });
    const created = await server.request('POST', '/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
    });
    expect(created.status).toBe(201);
    connection = created.body.data;
    const made = await scim('POST', '/Users', {
      userName: 'thread.user@example.com',
      name: { givenName: 'Thread', familyName: 'User' },
      emails: [{ value: 'thread.user@example.com', type: 'work', primary: true }],
      active: true,
    });
    expect(made.status).toBe(201);
    user = made.body.id;
    const big = await scim('POST', '/Groups', { displayName: 'Everyone', members: [] });
    expect(big.status).toBe(201);
    group = big.body.id;

    // MEMBERS end users of the connection, all in the group, in bulk SQL beside the server.
    const store = openStore({ url: databaseUrl, poolSize: 1, sqliteWriter: 'main' });
    try {
      await store.db.transaction().execute(async (trx) => {
        const { workspace_id: w } = await trx
          .selectFrom('scim_connections')
          .select('workspace_id')
          .where('id', '=', connection.id)
          .executeTakeFirstOrThrow();
        const bulk = `workspace_id = ${w} and email_key like 'bulk%@bulk.example'`;
        for (const statement of [
          `with recursive n(i) as (select 1 union all select i + 1 from n where i < ${MEMBERS})
           insert into end_users (workspace_id, name, email, email_key, status, mfa_enabled, source, created_at, updated_at)
           select ${w}, 'Bulk person number ' || i, 'bulk' || i || '@bulk.example', 'bulk' || i || '@bulk.example', 'active', 0, 'scim', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z' from n`,
          `insert into scim_users (workspace_id, connection_id, end_user_id, user_name, user_name_key, external_id, display_name, given_name, family_name, emails_text, active, resource, version, created_at, updated_at)
           select ${w}, '${connection.id}', id, email, email_key, null, name, 'Bulk', 'Person', '\n' || email_key || '\n', 1, '{}', 1, created_at, created_at
           from end_users where ${bulk}`,
          `insert into end_user_group_members (workspace_id, group_id, end_user_id, created_at, source)
           select ${w}, ${Number(group)}, id, created_at, 'external' from end_users where ${bulk}`,
        ])
          await sql.raw(statement).execute(trx);
      });
    } finally {
      await store.close();
    }
  }, 180_000);

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may have failed before starting it
    await server?.stop();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers the request whose result outgrew the thread 503 with a clear message, keeps nothing of it, and serves the next requests on a new thread', async () => {
    // The PATCH adds the user, then renders the group's 200,000 members in its transaction: the
    // thread running that transaction runs out of its heap and stops.
    const started = Date.now();
    const failed = await scim('PATCH', `/Groups/${group}?attributes=members`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: user }] }],
    });
    expect(failed.status, JSON.stringify(failed.body)).toBe(503);
    expect(failed.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '503',
      detail: expect.stringMatching(/^The database is unavailable/),
    });
    expect(failed.headers.get('retry-after')).toBe('2');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(server.alive()).toBe(true);
    expect(server.output()).toMatch(
      testDialect === 'postgres'
        ? /The PostgreSQL driver thread stopped \(Worker terminated due to reaching memory limit/
        : /The SQLite writer thread stopped \(Worker terminated due to reaching memory limit/,
    );

    // Nothing of the lost transaction was stored: the user is in no group.
    const before = await scim('GET', `/Users/${user}`);
    expect(before.status).toBe(200);
    expect(before.body.groups ?? []).toEqual([]);

    // The next requests succeed, writes included: the same PATCH without the big rendering, …
    const patched = await scim('PATCH', `/Groups/${group}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: user }] }],
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(204);
    const after = await scim('GET', `/Users/${user}`);
    expect(after.body.groups.map((g: { value: string }) => g.value)).toEqual([group]);
    // … the workspace API's writes and reads, …
    const made = await server.request('POST', '/api/user_groups', {
      user_group: { name: 'After the restart' },
    });
    expect(made.status).toBe(200);
    const listed = await server.request('GET', '/api/user_groups');
    expect(JSON.stringify(listed.body)).toContain('After the restart');
    // … and a removal by name on the big group (set-based: it reads nothing of the group).
    const removed = await scim('PATCH', `/Groups/${group}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${user}"]` }],
    });
    expect(removed.status).toBe(204);
    expect((await scim('GET', `/Users/${user}`)).body.groups ?? []).toEqual([]);
    expect(server.alive()).toBe(true);
  }, 120_000);
});
