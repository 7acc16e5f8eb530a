/**
 * `npm run bench:ceiling`: HTTP single access checks next to the stack's own ceiling, a bare
 * Fastify route answering a constant, in the same server process and the same run
 * (bench/ceiling-server.mjs), with the same autocannon settings and request bodies as
 * `npm run bench` (16 connections, the 100,000-user data set of bench/generate.mjs). The runs
 * alternate (bare, Roster, bare, Roster, …) so a change in the machine's speed hits both; the
 * figure is Roster's requests/s as a share of the bare route's, per pair and over all. Next to it,
 * the server process's CPU time per request of each (user + system, all its threads): on a
 * machine shared with other work the req/s swing with the neighbours, the CPU per request much
 * less, so its ratio is the figure to judge a change by. Each server gets an unmeasured warm-up
 * run first (JIT, Roster's workspace load). BENCH_SECONDS sets each run's length (default 10),
 * BENCH_ROUNDS the pairs (default 3). Roster's check is served below Fastify (http/lean-path.ts);
 * each round also runs the same check through Fastify's route (ROSTER_LEAN_CHECKS=false, a second
 * app in the same process), printed in a table of its own. The rate limit is off unless
 * ROSTER_RATE_LIMIT_PER_MINUTE is set (at most 1,000,000: high enough for a run, it measures what
 * counting each request costs; both Roster apps count).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';
import { forkServer, loadAverage, log, postRun, randomChecks, TOKEN } from './lib/drive.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATE_LIMIT = Number(process.env.ROSTER_RATE_LIMIT_PER_MINUTE ?? 0);

const loadAtStart = loadAverage();
const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-ceiling-'));
const file = path.join(work, 'roster.db');
log(`generating the data set in ${file} …`);
await generate(file, TOKEN);
const server = forkServer(path.join(here, 'ceiling-server.mjs'), [file, TOKEN, work]);
const ports = await server.ready;

// The same kind of bodies as `npm run bench`: random members, projects and privileges.
const check = randomChecks();
const bodies = Array.from({ length: 5_000 }, () => JSON.stringify(check()));

async function run(port, duration = DURATION, warmUp = false) {
  const cpuBefore = await server.cpuMs();
  const result = await postRun({
    port,
    path: '/api/access/check',
    bodies,
    duration,
    connections: 16,
  });
  const cpuShare = (await server.cpuMs()) - cpuBefore;
  // The warm-up may meet the workspace still loading (503 past ROSTER_INDEX_LOAD_WAIT_MS).
  if (!warmUp && (result.non2xx > 0 || result.errors > 0))
    throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpu: cpuShare / (duration * 1000),
    cpuUsPerRequest: (cpuShare * 1000) / result.requests.total,
  };
}

log('warm-up: 3 s each …');
await run(ports.bare, 3, true);
await run(ports.roster, 3, true);
await run(ports.viaFastify, 3, true);

const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  log(
    `round ${round + 1}/${ROUNDS}: bare Fastify, Roster, Roster through Fastify's route, ${DURATION} s each …`,
  );
  const bare = await run(ports.bare);
  const roster = await run(ports.roster);
  const viaFastify = await run(ports.viaFastify);
  rows.push({ bare, roster, viaFastify, ratio: roster.perSecond / bare.perSecond });
}
server.stop();
const sum = (pick) => rows.reduce((total, row) => total + pick(row), 0);
const overall = sum((r) => r.roster.perSecond) / sum((r) => r.bare.perSecond);
const bareUs = sum((r) => r.bare.cpuUsPerRequest) / ROUNDS;
const rosterUs = sum((r) => r.roster.cpuUsPerRequest) / ROUNDS;
const viaFastifyUs = sum((r) => r.viaFastify.cpuUsPerRequest) / ROUNDS;
const viaFastifyRatio = sum((r) => r.viaFastify.perSecond) / sum((r) => r.bare.perSecond);
const fmt = (v) => Math.round(v).toLocaleString('en-US');
const us = (v) => `${v.toFixed(1)} µs`;
const out = [
  `Command: \`npm run bench:ceiling\` (BENCH_SECONDS=${DURATION}, ${ROUNDS} pairs, 16 connections, ROSTER_RATE_LIMIT_PER_MINUTE=${RATE_LIMIT}${RATE_LIMIT === 0 ? ': rate limit off' : ': every Roster request counted'})`,
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; load average (1/5/15 min) at the start ${loadAtStart}, at the end ${loadAverage()}`,
  '',
  '| Pair | Bare Fastify req/s (p50/p99, server CPU; CPU per request) | Roster single check, below Fastify, req/s (p50/p99, server CPU; CPU per request) | Roster ÷ bare (req/s) | bare ÷ Roster (CPU per request) |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r, i) =>
      `| ${i + 1} | ${fmt(r.bare.perSecond)} (${r.bare.p50}/${r.bare.p99} ms, ${(r.bare.cpu * 100).toFixed(0)}%; ${us(r.bare.cpuUsPerRequest)}) | ${fmt(r.roster.perSecond)} (${r.roster.p50}/${r.roster.p99} ms, ${(r.roster.cpu * 100).toFixed(0)}%; ${us(r.roster.cpuUsPerRequest)}) | ${(r.ratio * 100).toFixed(0)}% | ${((100 * r.bare.cpuUsPerRequest) / r.roster.cpuUsPerRequest).toFixed(0)}% |`,
  ),
  `| **all** | ${fmt(sum((r) => r.bare.perSecond) / ROUNDS)} (${us(bareUs)}) | ${fmt(sum((r) => r.roster.perSecond) / ROUNDS)} (${us(rosterUs)}) | **${(overall * 100).toFixed(0)}%** (target ≥ 70%) | ${((100 * bareUs) / rosterUs).toFixed(0)}% |`,
  '',
  `Roster's single check is served below Fastify (packages/server/src/http/lean-path.ts, on by default; ${RATE_LIMIT === 0 ? 'the rate limit off here' : `counted by the rate limit, ${fmt(RATE_LIMIT)}/min`}). The same check through Fastify's route (a second app on the same store, ROSTER_LEAN_CHECKS=false), in the same rounds:`,
  '',
  '| Pair | Roster check through Fastify req/s (p50/p99, server CPU; CPU per request) | ÷ bare (req/s) | bare ÷ it (CPU per request) |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map(
    (r, i) =>
      `| ${i + 1} | ${fmt(r.viaFastify.perSecond)} (${r.viaFastify.p50}/${r.viaFastify.p99} ms, ${(r.viaFastify.cpu * 100).toFixed(0)}%; ${us(r.viaFastify.cpuUsPerRequest)}) | ${((100 * r.viaFastify.perSecond) / r.bare.perSecond).toFixed(0)}% | ${((100 * r.bare.cpuUsPerRequest) / r.viaFastify.cpuUsPerRequest).toFixed(0)}% |`,
  ),
  `| **all** | ${fmt(sum((r) => r.viaFastify.perSecond) / ROUNDS)} (${us(viaFastifyUs)}) | ${(viaFastifyRatio * 100).toFixed(0)}% | ${((100 * bareUs) / viaFastifyUs).toFixed(0)}% |`,
];
const text = out.join('\n');
console.log(text);
writeFileSync(path.join(here, 'ceiling-results.md'), `${text}\n`);
rmSync(work, { recursive: true, force: true });
process.exit(0);
