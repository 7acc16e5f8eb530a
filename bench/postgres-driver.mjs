/**
 * `npm run bench:postgres-driver`: the PostgreSQL driver on its worker thread
 * (ROSTER_POSTGRES_DRIVER=thread, storage/postgres-thread.ts) next to the driver on the main thread
 * (`main`), back to back in one process, through the store's Kysely instance:
 *   - a lone statement (`select $1`), sequentially, and 20 at a time (the thread batches what one
 *     turn of each side's event loop sends);
 *   - a list's read: 50 rows of eight columns, as list_members reads a page;
 *   - a write transaction: BEGIN, an insert, an update, COMMIT (on the thread BEGIN travels with
 *     the first statement);
 *   - a big read: 100,000 rows of five columns, as a large workspace's index load reads them.
 * For each: wall time, the main thread's CPU and the driver thread's CPU per statement (BEGIN
 * and COMMIT counted as statements). CPU times are the threads' own (/proc/self/task/<tid>/stat,
 * Linux; 10 ms resolution, hence the counts), so they hold on a busy machine where wall time
 * does not; the load average is printed beside them.
 *
 * ROSTER_BENCH_DATABASE_URL (default postgres://roster:roster@127.0.0.1:5432/postgres).
 * BENCH_ROUNDS (default 2): thread and main alternate that many times.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { openStore } from '../packages/server/dist/storage/connect.js';
import { postgresThreadStats } from '../packages/server/dist/storage/postgres-thread.js';

const ADMIN_URL =
  process.env.ROSTER_BENCH_DATABASE_URL ?? 'postgres://roster:roster@127.0.0.1:5432/postgres';
// A database of its own for the write transactions' table, dropped at the end.
const DATABASE = `roster_bench_driver_${process.pid}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
await admin.query(`create database ${DATABASE}`);
const URL = Object.assign(new globalThis.URL(ADMIN_URL), { pathname: `/${DATABASE}` }).href;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const STATEMENTS = 3_000;
const LISTS = 2_000;
const TRANSACTIONS = 1_000;
const BIG_ROWS = 100_000;
const BIG_READS = 3;
const TABLE = 'bench_rows';

/** This process's main thread's CPU time (ms; 10 ms resolution). */
function mainCpuMs() {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Runs `body` (which runs `statements` statements) and returns its cost per statement. */
async function timed(statements, body) {
  const wall = performance.now();
  const main = mainCpuMs();
  const driver = postgresThreadStats().cpuMs;
  await body();
  return {
    wallUs: ((performance.now() - wall) * 1000) / statements,
    mainUs: ((mainCpuMs() - main) * 1000) / statements,
    driverUs: ((postgresThreadStats().cpuMs - driver) * 1000) / statements,
  };
}

async function measure(driver) {
  const store = openStore({ url: URL, postgresDriver: driver, poolSize: 4 });
  const { db } = store;
  await sql`select 1`.execute(db); // the pool's first connection (and the thread) outside the timing
  const cases = {};
  cases.lone = await timed(STATEMENTS, async () => {
    for (let i = 0; i < STATEMENTS; i += 1) await sql`select ${i}::int as n`.execute(db);
  });
  cases.concurrent = await timed(STATEMENTS, async () => {
    for (let i = 0; i < STATEMENTS; i += 20)
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => sql`select ${i + j}::int as n`.execute(db)),
      );
  });
  const list = (
    i,
  ) => sql`select i as id, ${i}::int as workspace_id, 'user' || i || '@example.com' as email,
    'User ' || i as name, 'active' as status, '2026-12-05T00:00:00.000Z' as created_at,
    null::text as last_seen_at, i % 3 = 0 as is_owner from generate_series(1, 50) as i`;
  await list(0).execute(db);
  cases.list = await timed(LISTS, async () => {
    for (let i = 0; i < LISTS; i += 1) await list(i).execute(db);
  });
  // 4 statements a transaction: BEGIN, insert, update, COMMIT.
  cases.transaction = await timed(TRANSACTIONS * 4, async () => {
    for (let i = 0; i < TRANSACTIONS; i += 1)
      await db.transaction().execute(async (trx) => {
        await sql`insert into ${sql.table(TABLE)} (n, label) values (${i}, ${`row ${i}`})`.execute(
          trx,
        );
        await sql`update ${sql.table(TABLE)} set label = ${`row ${i}!`} where n = ${i}`.execute(
          trx,
        );
      });
  });
  await sql`delete from ${sql.table(TABLE)}`.execute(db);
  const big = sql`select i as id, 'user' || i || '@example.com' as email, 'User ' || i as name,
    '2026-12-05T00:00:00.000Z' as created_at, i % 7 as workspace_id
    from generate_series(1, ${BIG_ROWS}::int) as i`;
  const rows = (await big.execute(db)).rows.length; // warm-up, and the check that it returns them
  if (rows !== BIG_ROWS) throw new Error(`the big read returned ${rows} rows`);
  cases.big = await timed(BIG_READS, async () => {
    for (let i = 0; i < BIG_READS; i += 1) await big.execute(db);
  });
  await store.close();
  return { driver, cases };
}

const setup = openStore({ url: URL, postgresDriver: 'main', poolSize: 1 });
await sql`create table ${sql.table(TABLE)} (n int primary key, label text not null)`.execute(
  setup.db,
);
const results = [];
const load = [loadavg()[0]];
try {
  // thread, main, thread, main…: back to back, so a change in the machine's load shows.
  for (let round = 0; round < ROUNDS; round += 1)
    for (const driver of ['thread', 'main']) results.push(await measure(driver));
} finally {
  await setup.close();
  await admin.query(`drop database ${DATABASE}`);
  await admin.end();
}
load.push(loadavg()[0]);
const us = (n) => `${n.toFixed(0)} µs`;
const cell = (c, ms = false) =>
  ms
    ? `${(c.wallUs / 1000).toFixed(0)} / ${(c.mainUs / 1000).toFixed(0)} / ${(c.driverUs / 1000).toFixed(0)} ms`
    : `${us(c.wallUs)} / ${us(c.mainUs)} / ${us(c.driverUs)}`;
const lines = [
  `Command: \`npm run bench:postgres-driver\` (load average (1 min) at the start / end: ${load.map((l) => l.toFixed(2)).join(' / ')})`,
  '',
  'Per statement: wall / main thread CPU / driver thread CPU (BEGIN and COMMIT count as statements; a big read: per read, in ms)',
  '',
  `| driver | lone statement | 20 at a time | 50-row list | transaction (4 statements) | ${BIG_ROWS.toLocaleString('en')}-row read |`,
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...results.map(
    ({ driver, cases: c }) =>
      `| ${driver} | ${cell(c.lone)} | ${cell(c.concurrent)} | ${cell(c.list)} | ${cell(c.transaction)} | ${cell(c.big, true)} |`,
  ),
];
console.log(lines.join('\n'));
