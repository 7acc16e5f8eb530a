/**
 * `node bench/postgres-driver-ab.mjs BEFORE_DIST AFTER_DIST`: two builds of the PostgreSQL driver
 * thread (storage/postgres-thread.ts) A/B in one process, on a shared 2-core machine where two
 * runs minutes apart differ by ±20% in CPU per request. Each build's store is opened side by side
 * (driver thread, ROSTER_BENCH_DATABASE_URL's server, a database of its own, dropped at the end)
 * and the two alternate in blocks (AB_BLOCKS, default 16, of AB_PER = 150 operations; the order
 * flips every block), each build's driver-thread CPU counted apart (its postgresThreadStats) with
 * the main thread's, per statement: a write transaction (BEGIN, insert, update, COMMIT), a lone
 * `select $1`, 20 at a time, a 50-row eight-column read. BEFORE_DIST and AFTER_DIST are
 * packages/server/dist directories of two builds (e.g. a `git worktree` of the older commit, built),
 * each with the repository's node_modules reachable from it; both must report the driver
 * thread's CPU (postgresThreadStats().cpuMs, since this round).
 */

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { sql } from 'kysely';
const [A, B] = [process.argv[2], process.argv[3]].map((dir) => (dir ? resolve(dir) : dir));
if (!A || !B) throw new Error('usage: node bench/postgres-driver-ab.mjs BEFORE_DIST AFTER_DIST');
const mods = [];
for (const dir of [A, B])
  mods.push({
    dir,
    connect: await import(pathToFileURL(`${dir}/storage/connect.js`).href),
    thread: await import(pathToFileURL(`${dir}/storage/postgres-thread.js`).href),
  });
const ADMIN =
  process.env.ROSTER_BENCH_DATABASE_URL ?? 'postgres://roster:roster@127.0.0.1:5432/postgres';
const DB = `roster_ab_${process.pid}`;
const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`create database ${DB}`);
const URL = Object.assign(new globalThis.URL(ADMIN), { pathname: `/${DB}` }).href;
const main = () => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
try {
  for (const m of mods) {
    m.store = m.connect.openStore({ url: URL, postgresDriver: 'thread', poolSize: 4 });
  }
  await sql`create table t (n int primary key, label text not null)`.execute(mods[0].store.db);
  let key = 0;
  const cases = {
    transaction: [
      4,
      async (db) => {
        const i = key++;
        await db.transaction().execute(async (trx) => {
          await sql`insert into t (n, label) values (${i}, ${'r' + i})`.execute(trx);
          await sql`update t set label = ${'x' + i} where n = ${i}`.execute(trx);
        });
      },
    ],
    lone: [
      1,
      async (db, i) => {
        await sql`select ${i}::int as n`.execute(db);
      },
    ],
    concurrent20: [
      20,
      async (db, i) => {
        await Promise.all(
          Array.from({ length: 20 }, (_, j) => sql`select ${i + j}::int as n`.execute(db)),
        );
      },
    ],
    list50: [
      1,
      async (db, i) => {
        await sql`select i as id, ${i}::int as workspace_id, 'user' || i || '@example.com' as email, 'User ' || i as name, 'active' as status, '2026-12-05T00:00:00.000Z' as created_at, null::text as last_seen_at, i % 3 = 0 as is_owner from generate_series(1, 50) as i`.execute(
          db,
        );
      },
    ],
  };
  const BLOCKS = Number(process.env.AB_BLOCKS ?? 16),
    PER = Number(process.env.AB_PER ?? 150);
  const load0 = loadavg()[0];
  for (const [name, [stmts, op]] of Object.entries(cases)) {
    const acc = mods.map(() => ({ driver: 0, main: 0, statements: 0 }));
    for (const m of mods) for (let i = 0; i < 20; i++) await op(m.store.db, i); // warm
    for (let b = 0; b < BLOCKS; b++)
      for (const [k, m] of b % 2 ? [...mods.entries()].reverse() : [...mods.entries()]) {
        const d0 = m.thread.postgresThreadStats().cpuMs,
          c0 = main();
        for (let i = 0; i < PER; i++) await op(m.store.db, i);
        acc[k].driver += m.thread.postgresThreadStats().cpuMs - d0;
        acc[k].main += main() - c0;
        acc[k].statements += PER * stmts;
      }
    console.log(
      `${name.padEnd(12)} driver thread µs/statement: ${acc.map((a) => ((a.driver * 1000) / a.statements).toFixed(1)).join(' → ')}   main thread µs/statement: ${acc.map((a) => ((a.main * 1000) / a.statements).toFixed(1)).join(' → ')}`,
    );
  }
  console.log(`load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
} finally {
  for (const m of mods) await m.store?.close();
  await admin.query(`drop database ${DB}`);
  await admin.end();
}
