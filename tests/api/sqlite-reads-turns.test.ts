/**
 * A SQLite file's reads outside a transaction run on the main thread (storage/sqlite-writer.ts),
 * in the event loop's next check phase rather than in the turn that asked: a request that reads
 * in steps gives the loop back between them, so an access check that arrived meanwhile is
 * answered in between instead of after the whole request; and reads queued together run a slice at
 * a time (lib/main-thread-slices.ts), not all in one turn. Checked on the order of the loop's own
 * callbacks (no timing): an immediate queued before a read runs before the read, and three reads
 * far longer than a slice end in three turns. SQLite runs only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../packages/server/src/storage/database.js';
import { sqliteSplitDialect } from '../../packages/server/src/storage/sqlite-writer.js';
import { testDialect } from '../helpers/database.js';

describe.skipIf(testDialect !== 'sqlite')('reads of a SQLite file (SQLite runs only)', () => {
  let dir: string;
  let db: Kysely<Database>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roster-reads-'));
    db = new Kysely<Database>({ dialect: sqliteSplitDialect(path.join(dir, 'roster.sqlite')) });
    await sql`create table items (id integer primary key, name text not null)`.execute(db);
    await sql`insert into items (id, name) values (1, 'one'), (2, 'two')`.execute(db);
  });
  afterAll(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('let the callbacks the loop already holds run before them, and still answer', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('queued before'));
    const rows = await sql<{ name: string }>`select name from items order by id`
      .execute(db)
      .then((result) => {
        order.push('read');
        return result.rows;
      });
    expect(rows.map((row) => row.name)).toEqual(['one', 'two']);
    expect(order).toEqual(['queued before', 'read']);
  });

  it('queued together, give the loop back once a slice of them has run', async () => {
    // The loop's turns, counted by an immediate that queues itself (it runs once a turn).
    let turn = 0;
    let counting = true;
    const tick = () => {
      turn += 1;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    // Each read takes far longer than a slice (lib/main-thread-slices.ts, 1 ms): 200,000 rows
    // counted. Queued in the same turn, they used to run back to back in the next one.
    const slow = sql<{
      n: number;
    }>`with recursive seq(i) as (select 1 union all select i + 1 from seq where i < 200000) select count(*) as n from seq`;
    const turns = await Promise.all(
      [1, 2, 3].map(() => slow.execute(db).then((result) => [result.rows[0]?.n, turn])),
    );
    counting = false;
    expect(turns.map(([n]) => n)).toEqual([200_000, 200_000, 200_000]);
    const [first, second, third] = turns.map(([, at]) => at as number);
    expect(second).toBeGreaterThan(first as number);
    expect(third).toBeGreaterThan(second as number);
  });

  it('see a write answered before them, step after step', async () => {
    for (let id = 3; id < 8; id++) {
      await sql`insert into items (id, name) values (${id}, ${`n${String(id)}`})`.execute(db);
      const { rows } = await sql<{ n: number }>`select count(*) as n from items`.execute(db);
      expect(rows[0]?.n).toBe(id);
    }
  });
});
