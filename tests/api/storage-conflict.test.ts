/**
 * PostgreSQL rolls a transaction back when it is the victim of a deadlock (40P01) or of a
 * serialization failure (40001). That is a collision with another request, not a server fault:
 * the client gets a 503 `storage.conflict` with Retry-After and a message saying nothing was saved,
 * never a 500, and the same request succeeds once the collision is gone. PostgreSQL itself raises
 * the errors here (a trigger on the groups table), so the real driver error reaches the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import type { Roster } from '../helpers/roster.js';

describe.skipIf(testDialect !== 'postgres')(
  'a deadlock or serialization failure on PostgreSQL',
  () => {
    let cluster: Cluster;
    let roster: Roster;

    beforeAll(async () => {
      cluster = await startCluster({ instances: 1 });
      roster = cluster.instances[0] as Roster;
    });
    afterAll(async () => {
      await cluster.close();
    });

    async function raiseOnGroupInsert(sqlState: string | null): Promise<void> {
      const store = cluster.openDatabase();
      try {
        await sql`drop trigger if exists test_collision on collaborator_groups`.execute(store.db);
        if (sqlState === null) return;
        await sql
          .raw(
            `create or replace function test_collision() returns trigger language plpgsql as $$
           begin raise exception 'test collision' using errcode = '${sqlState}'; end $$`,
          )
          .execute(store.db);
        await sql`create trigger test_collision before insert on collaborator_groups
        for each row execute function test_collision()`.execute(store.db);
      } finally {
        await store.close();
      }
    }

    it.each(['40P01', '40001'])(
      'answers %s with 503 storage.conflict, then succeeds on retry',
      async (sqlState) => {
        await raiseOnGroupInsert(sqlState);
        const name = `Collision ${sqlState}`;
        const refused = await roster.post('/api/user_groups', { user_group: { name } });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('2');
        expect(refused.text).toMatch(/collided with a concurrent change.*nothing was saved/);
        expect(refused.text).not.toMatch(/test collision/);
        const listed = await roster.get('/api/user_groups');
        expect(JSON.stringify(listed.body)).not.toContain(name);

        await raiseOnGroupInsert(null);
        const retried = await roster.post('/api/user_groups', { user_group: { name } });
        expect(retried.status).toBe(200);
      },
    );
  },
);
