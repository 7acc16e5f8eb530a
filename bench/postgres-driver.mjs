/**
 * `npm run bench:postgres-driver`: the PostgreSQL driver on its worker thread
 * (ROSTER_POSTGRES_DRIVER=thread, storage/postgres-thread.ts) next to the driver on the main thread
 * (`main`), back to back in one process, through the store's Kysely instance:
 *   - a lone statement (`select $1`), sequentially: wall time and the main thread's CPU per
 *     statement (the thread's cost is a message each way; the main driver's a socket write and
 *     read);
 *   - a big read: 100,000 rows of five columns, as a large workspace's index load reads them (the
 *     rows cross the thread as a structured clone): wall time and the main thread's CPU per read.
 * The main thread's CPU is its own (/proc/self/task/<pid>/stat, Linux), not the driver thread's.
 *
 * ROSTER_BENCH_DATABASE_URL (default postgres://roster:roster@127.0.0.1:5432/postgres).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { openStore } from '../packages/server/dist/storage/connect.js';

const URL =
  process.env.ROSTER_BENCH_DATABASE_URL ?? 'postgres://roster:roster@127.0.0.1:5432/postgres';
const STATEMENTS = 3_000;
const BIG_ROWS = 100_000;
const BIG_READS = 5;

/** This process's main thread's CPU time (ms; 10 ms resolution). */
function mainCpuMs() {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function measure(driver) {
  const store = openStore({ url: URL, postgresDriver: driver, poolSize: 4 });
  const { db } = store;
  await sql`select 1`.execute(db); // the pool's first connection (and the thread) outside the timing
  let wall = performance.now();
  let cpu = mainCpuMs();
  for (let i = 0; i < STATEMENTS; i += 1) await sql`select ${i}::int as n`.execute(db);
  const lone = {
    wallUs: ((performance.now() - wall) * 1000) / STATEMENTS,
    cpuUs: ((mainCpuMs() - cpu) * 1000) / STATEMENTS,
  };
  const big = sql`select i as id, 'user' || i || '@example.com' as email, 'User ' || i as name,
    '2026-12-05T00:00:00.000Z' as created_at, i % 7 as workspace_id
    from generate_series(1, ${BIG_ROWS}::int) as i`;
  const rows = (await big.execute(db)).rows.length; // warm-up, and the check that it returns them
  if (rows !== BIG_ROWS) throw new Error(`the big read returned ${rows} rows`);
  wall = performance.now();
  cpu = mainCpuMs();
  for (let i = 0; i < BIG_READS; i += 1) await big.execute(db);
  const read = {
    wallMs: (performance.now() - wall) / BIG_READS,
    cpuMs: (mainCpuMs() - cpu) / BIG_READS,
  };
  await store.close();
  return { driver, lone, read };
}

const results = [];
const load = [loadavg()[0]];
// thread, main, thread, main: back to back, twice, so a change in the machine's load shows.
for (const driver of ['thread', 'main', 'thread', 'main']) results.push(await measure(driver));
load.push(loadavg()[0]);
const lines = [
  `Command: \`npm run bench:postgres-driver\` (load average (1 min) at the start / end: ${load.map((l) => l.toFixed(2)).join(' / ')})`,
  '',
  `| driver | lone statement: wall | … main thread CPU | ${BIG_ROWS.toLocaleString('en')}-row read: wall | … main thread CPU |`,
  '| --- | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.driver} | ${r.lone.wallUs.toFixed(0)} µs | ${r.lone.cpuUs.toFixed(0)} µs | ${r.read.wallMs.toFixed(0)} ms | ${r.read.cpuMs.toFixed(0)} ms |`,
  ),
];
console.log(lines.join('\n'));
