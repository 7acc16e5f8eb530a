/**
 * ROSTER_POSTGRES_DRIVER: which thread runs the PostgreSQL driver (storage/postgres-thread.ts).
 * `thread` (the default, which the rest of the suite runs on) gives the pg pool a worker thread,
 * so the thread that answers checks does no database socket I/O; `main` keeps it on the main
 * thread. Both must store, refuse and answer the same: a write, a unique violation classified
 * from its code, a transaction rolled back on error that leaves its connection clean, a check
 * that sees a write. Through the thread, a connection whose backend is killed mid-statement
 * answers 503 and the next request is served. PostgreSQL runs only.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { startServer } from '../helpers/spawned-server.js';
import { openStore, type Store } from '../../packages/server/src/storage/connect.js';

describe.skipIf(testDialect !== 'postgres')('ROSTER_POSTGRES_DRIVER (PostgreSQL runs only)', () => {
  describe.each(['thread', 'main'] as const)('%s', (driver) => {
    let roster: Roster;
    beforeAll(async () => {
      roster = await startRoster({ env: { ROSTER_POSTGRES_DRIVER: driver } });
    });
    afterAll(async () => {
      await roster.close();
    });

    async function role(name: string): Promise<string> {
      const res = await roster.post('/api/project_roles', {
        project_role: { name, config: { recipe: { privileges: ['run'] } } },
      });
      expect(res.status).toBe(200);
      return res.body.data.id as string;
    }

    it('writes, refuses a duplicate grant by its unique violation (the transaction rolled back, its connection clean), and checks see the write', async () => {
      const runners = await role('Runners');
      const viewers = await role('Viewers');
      const project = await roster.post('/api/projects', {
        name: 'Driver',
        environment_type: 'dev',
      });
      expect(project.status).toBe(201);
      const projectId = project.body.data.id as number;
      const alice = await createMember(roster, {
        email: `alice-${driver}@example.com`,
        env_roles: [{ environment_type: 'dev', name: 'No access' }],
      });
      const check = async () =>
        (
          await roster.post('/api/access/check', {
            subject: { member_id: alice.id },
            project_id: projectId,
            resource: 'recipe',
            privilege: 'run',
          })
        ).body.data.allowed as boolean;
      expect(await check()).toBe(false);

      const granted = await roster.put(`/api/projects/${projectId}/project_grants`, {
        project_grants: [
          { assignment_type: 'User', assignment_id: String(alice.id), project_role_id: runners },
          { assignment_type: 'User', assignment_id: String(alice.id), project_role_id: viewers },
        ],
      });
      expect(granted.status).toBe(200);
      expect(await check()).toBe(true);

      const grants = await roster.get(`/api/projects/${projectId}/project_grants`);
      const viewing = (grants.body.data as { id: string; project_role: { id: string } }[]).find(
        (grant) => grant.project_role.id === viewers,
      );
      if (viewing === undefined) throw new Error('the Viewers grant is missing');
      // Alice already holds Runners: the UPDATE inside the transaction violates
      // project_grants_member_unique, which the service recognises by the driver error's code.
      const taken = await roster.put(`/api/project_grants/${viewing.id}`, {
        project_grant: { project_role_id: runners },
      });
      expect(taken.status).toBe(400);
      expect(taken.body).toEqual({
        errors: [{ code: 'bad_request', title: 'Assignment has already been taken' }],
      });
      const unchanged = await roster.get(`/api/project_grants/${viewing.id}`);
      expect(unchanged.body.data.project_role.id).toBe(viewers);

      // More writes than the pool has connections (4): had the ROLLBACK not run, one of them would
      // meet the aborted transaction (25P02) and fail.
      for (let i = 0; i < 6; i += 1) {
        const group = await roster.post('/api/user_groups', {
          user_group: { name: `After ${i}` },
        });
        expect(group.status).toBe(200);
      }
      const removed = await roster.delete(`/api/project_grants/${viewing.id}`);
      expect(removed.status).toBe(204);
      expect(await check()).toBe(true);
    });
  });

  describe('a backend killed mid-statement (thread)', () => {
    let database: TestDatabase;
    let roster: Roster;
    let admin: pg.Client;
    beforeAll(async () => {
      database = await createTestDatabase();
      roster = await startRoster({ env: { ROSTER_DATABASE_URL: database.url } });
      admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
    });
    afterAll(async () => {
      await admin.end();
      await roster.close();
      await database.drop();
    });

    it('answers 503 (the database is unavailable), then serves the next request', async () => {
      const locker = new pg.Client({ connectionString: database.url });
      await locker.connect();
      try {
        // The group's write waits behind this lock, holding its connection mid-statement.
        await locker.query('begin');
        await locker.query('lock table collaborator_groups in access exclusive mode');
        const blocked = roster.post('/api/user_groups', { user_group: { name: 'Blocked' } });
        const request = { settled: false };
        const settle = () => {
          request.settled = true;
        };
        blocked.then(settle, settle);
        // Every Roster backend waiting on the lock is terminated, until the request answers: the
        // request's own statement is one of them, and on a busy machine the workspace's index
        // load (which reads the same table) can be waiting beside it. Killing only the first one
        // found would leave the request's statement blocked until the lock is released.
        let terminated = 0;
        for (let i = 0; i < 200 && !request.settled; i += 1) {
          const { rows } = await admin.query<{ pid: number }>(
            `select pid from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'
                and pid not in (pg_backend_pid(), $1)`,
            [locker.processID],
          );
          for (const { pid } of rows) {
            await admin.query('select pg_terminate_backend($1)', [pid]);
            terminated += 1;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(terminated).toBeGreaterThan(0);
        const answer = await blocked;
        expect(answer.status).toBe(503);
        expect(answer.body.errors[0]).toEqual({
          code: 'service_unavailable',
          title: expect.stringMatching(/^The database is unavailable/),
        });
        expect(answer.headers.get('retry-after')).toBe('2');
      } finally {
        await locker.query('rollback');
        await locker.end();
      }
      const next = await roster.post('/api/user_groups', { user_group: { name: 'After' } });
      expect(next.status).toBe(200);
      const list = await roster.get('/api/user_groups');
      expect(JSON.stringify(list.body)).toContain('After');
      expect(JSON.stringify(list.body)).not.toContain('Blocked');
    });
  });

  it('fails only the statement whose parameter cannot cross to the driver thread', async () => {
    const database = await createTestDatabase();
    const store = openStore({ url: database.url, poolSize: 2 });
    try {
      // Sent in the same turn, so they travel in one message to the driver thread.
      const [bad, good] = await Promise.allSettled([
        sql`select ${{ later: () => 1 }}::text as n`.execute(store.db),
        sql<{ n: number }>`select ${2}::int as n`.execute(store.db),
      ]);
      expect(bad.status).toBe('rejected');
      expect(String((bad as PromiseRejectedResult).reason)).toMatch(/could not be cloned/);
      expect(good.status === 'fulfilled' && good.value.rows).toEqual([{ n: 2 }]);
      const after = await sql<{ n: number }>`select ${3}::int as n`.execute(store.db);
      expect(after.rows).toEqual([{ n: 3 }]);
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it('a COMMIT gives its client back to the pool, failed or not: more transactions than clients, then failed COMMITs, and the pool still serves', async () => {
    const database = await createTestDatabase();
    const store = openStore({ url: database.url, poolSize: 2, postgresDriver: 'thread' });
    let closing: Promise<void> | undefined;
    try {
      await sql`create table parents (id int primary key)`.execute(store.db);
      await sql`create table children (id int primary key, parent_id int not null references parents (id) deferrable initially deferred)`.execute(
        store.db,
      );
      // Twelve at once on two clients: each waits for a client that a COMMIT gave back.
      await Promise.all(
        Array.from({ length: 12 }, (_, id) =>
          store.db.transaction().execute(async (trx) => {
            await sql`insert into parents (id) values (${id})`.execute(trx);
          }),
        ),
      );
      // Six COMMITs that fail (the deferred foreign key), more than the pool has clients.
      for (let id = 100; id < 106; id++)
        await expect(
          store.db.transaction().execute(async (trx) => {
            await sql`insert into children (id, parent_id) values (${id}, 999)`.execute(trx);
          }),
        ).rejects.toThrow(/foreign key/);
      // A connection used on after its transaction's COMMIT (as Kysely's migrator does) takes a
      // client again, and gives it back when released.
      await store.db.connection().execute(async (connection) => {
        await connection.transaction().execute(async (trx) => {
          await sql`insert into children (id, parent_id) values (1, 1)`.execute(trx);
        });
        await sql`select count(*) from children`.execute(connection);
      });
      const counts = await sql<{ parents: number; children: number }>`select
        (select count(*)::int from parents) as parents, (select count(*)::int from children) as children`.execute(
        store.db,
      );
      expect(counts.rows).toEqual([{ parents: 12, children: 1 }]);
      // Both clients idle in the pool, none in a transaction (PostgreSQL's own view).
      const backends = await sql<{ state: string; n: number }>`select state, count(*)::int as n
        from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
        group by state`.execute(store.db);
      expect(backends.rows.filter((row) => row.state !== 'idle')).toEqual([]);
      // Closing ends the pool, which waits for every client to come back: one never released
      // would hold it forever.
      let timer: NodeJS.Timeout | undefined;
      closing = store.close();
      await Promise.race([
        closing,
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new Error('the pool did not end: a client was never given back'));
          }, 10_000);
        }),
      ]).finally(() => {
        clearTimeout(timer);
      });
    } finally {
      // A pool that never ends (the failure above) is left behind, not waited for.
      if (closing === undefined) await store.close();
      await database.drop().catch(() => undefined);
    }
  });

  it('answers every type that crosses the driver thread as the driver on the main thread does, and a transaction whose first statement fails leaves nothing and a clean connection', async () => {
    const database = await createTestDatabase();
    const stores = {
      thread: openStore({ url: database.url, poolSize: 2, postgresDriver: 'thread' }),
      main: openStore({ url: database.url, poolSize: 2, postgresDriver: 'main' }),
    };
    try {
      await sql`create table crossing (id int primary key, name text unique, at timestamptz, doc jsonb, big bigint, raw bytea, ratio float8, flag boolean)`.execute(
        stores.main.db,
      );
      await sql`insert into crossing values (1, 'one', '2026-12-06T04:00:00.123Z', '{"a":[1,"x",null],"b":{"c":true}}', 9007199254740993, '\\x00ff10', 0.5, true), (2, null, null, null, null, null, null, null)`.execute(
        stores.main.db,
      );
      const read = (store: Store) =>
        sql`select id, name, at, doc, big, raw, ratio, flag, count(*) over () as total from crossing order by id`.execute(
          store.db,
        );
      const [threadRows, mainRows] = await Promise.all([read(stores.thread), read(stores.main)]);
      expect(threadRows.rows).toEqual(mainRows.rows);
      expect(threadRows.rows[0]).toEqual({
        id: 1,
        name: 'one',
        at: new Date('2026-12-06T04:00:00.123Z'),
        doc: { a: [1, 'x', null], b: { c: true } },
        big: '9007199254740993',
        raw: Buffer.from([0, 255, 16]),
        ratio: 0.5,
        flag: true,
        total: '2',
      });
      expect(threadRows.rows[1]).toMatchObject({ id: 2, name: null, at: null, doc: null });

      // A big result (crosses in parts), the same rows in the same order on both drivers.
      const many = (store: Store) =>
        sql<{
          n: number;
          label: string;
          at: Date;
        }>`select n, 'row ' || n as label, timestamptz '2026-01-01' + n * interval '1 second' as at from generate_series(1, 10000) as n`.execute(
          store.db,
        );
      const [threadMany, mainMany] = await Promise.all([many(stores.thread), many(stores.main)]);
      expect(threadMany.rows).toHaveLength(10_000);
      expect(threadMany.rows).toEqual(mainMany.rows);
      expect(threadMany.rows[9_999]).toEqual({
        n: 10_000,
        label: 'row 10000',
        at: new Date(Date.UTC(2026, 0, 1) + 10_000_000),
      });

      for (const [driver, store] of Object.entries(stores)) {
        // The transaction's first statement (sent with its BEGIN on the thread) fails: the
        // error keeps its fields, nothing of the transaction stays, the connection is clean.
        const failed = await store.db
          .transaction()
          .execute(async (trx) => {
            await sql`insert into crossing (id, name) values (${10}, ${'one'})`.execute(trx);
          })
          .then(
            () => undefined,
            (error: unknown) => error as Record<string, unknown>,
          );
        expect(failed, driver).toMatchObject({
          code: '23505',
          constraint: 'crossing_name_key',
          table: 'crossing',
        });
        // A later statement fails: the first one's row is rolled back with it.
        await expect(
          store.db.transaction().execute(async (trx) => {
            await sql`insert into crossing (id, name) values (${11}, ${`new-${driver}`})`.execute(
              trx,
            );
            await sql`insert into crossing (id, name) values (${12}, ${'one'})`.execute(trx);
          }),
        ).rejects.toMatchObject({ code: '23505' });
        const kept = await store.db.transaction().execute(async (trx) => {
          const status = await sql<{
            now: string;
          }>`select current_setting('transaction_isolation') as now`.execute(trx);
          await sql`insert into crossing (id, name) values (${20}, ${`kept-${driver}`})`.execute(
            trx,
          );
          return status.rows;
        });
        expect(kept).toEqual([{ now: 'read committed' }]);
        const ids = await sql<{
          id: number;
        }>`select id from crossing where id >= 10 order by id`.execute(store.db);
        expect(ids.rows.map((row) => row.id)).toEqual([20]);
        await sql`delete from crossing where id >= 10`.execute(store.db);
      }
      // With an isolation level, BEGIN is START TRANSACTION …, and it holds for the statements.
      const level = await stores.thread.db
        .transaction()
        .setIsolationLevel('serializable')
        .execute((trx) =>
          sql<{ level: string }>`select current_setting('transaction_isolation') as level`.execute(
            trx,
          ),
        );
      expect(level.rows).toEqual([{ level: 'serializable' }]);
    } finally {
      await stores.thread.close();
      await stores.main.close();
      await database.drop();
    }
  });

  it.each(['thread', 'main'] as const)(
    '%s: a prepared statement whose table another process altered fails once with 0A000, then is prepared afresh',
    async (driver) => {
      const database = await createTestDatabase();
      const store = openStore({ url: database.url, poolSize: 1, postgresDriver: driver });
      const other = new pg.Client({ connectionString: database.url });
      await other.connect();
      try {
        await other.query('create table altered (id int primary key, name text)');
        await other.query(`insert into altered values (1, 'one')`);
        const read = () =>
          sql<Record<string, unknown>>`select * from altered where id = ${1}`.execute(store.db);
        expect((await read()).rows).toEqual([{ id: 1, name: 'one' }]);
        // Another process's DDL: this store's prepared statement now returns other columns.
        await other.query('alter table altered add column note text');
        await expect(read()).rejects.toMatchObject({ code: '0A000' });
        expect((await read()).rows).toEqual([{ id: 1, name: 'one', note: null }]);
      } finally {
        await other.end();
        await store.close();
        await database.drop();
      }
    },
  );

  it('refuses to start with any other value, naming the variable', async () => {
    await expect(
      startServer({
        ROSTER_DATABASE_URL: 'postgres://127.0.0.1:1/none',
        ROSTER_POSTGRES_DRIVER: 'worker',
      }),
    ).rejects.toThrow(/ROSTER_POSTGRES_DRIVER must be "thread" or "main", got "worker"/);
  }, 60_000);
});
