/**
 * `npm run bench:batch-ab -- OTHER_ROOT` (or `node bench/batch-ab.mjs OTHER_ROOT`): the HTTP
 * batch checks of `npm run bench` (batches of 1,000, 4 connections, the same kind of bodies)
 * against another build (a checkout whose packages are
 * built) and this one, in alternating rounds (other, this, other, this, …) so that the machine's
 * drift hits both alike. Each build serves a data set its own bench/generate.mjs made, in its own
 * process. Prints per round and build the batches/s, checks/s and the server's CPU time per batch
 * (process.cpuUsage(), all threads), with the load average. BENCH_SECONDS (default 10) and
 * BENCH_ROUNDS (default 3) set the runs.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkServer, loadAverage, log, postRun, randomChecks, TOKEN } from './lib/drive.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const [otherRoot] = process.argv.slice(2);
if (otherRoot === undefined) throw new Error('usage: batch-ab.mjs OTHER_ROOT');

const work = mkdtempSync(path.join(tmpdir(), 'roster-batch-ab-'));
async function start(name, root) {
  const dir = path.join(work, name);
  mkdirSync(dir);
  const file = path.join(dir, 'roster.db');
  const { generate } = await import(path.join(path.resolve(root), 'bench/generate.mjs'));
  log(`${name}: generating the data set …`);
  await generate(file, TOKEN);
  const server = forkServer(path.join(here, 'batch-ab-server.mjs'), [root, file, TOKEN, dir]);
  const { port } = await server.ready;
  return { name, port, cpuMs: server.cpuMs, stop: server.stop };
}

const check = randomChecks();
const bodies = Array.from({ length: 20 }, () =>
  JSON.stringify({ checks: Array.from({ length: 1000 }, check) }),
);

async function run(server, duration = DURATION) {
  const before = await server.cpuMs();
  const result = await postRun({
    port: server.port,
    path: '/api/access/check_batch',
    bodies,
    duration,
    connections: 4,
  });
  const cpu = (await server.cpuMs()) - before;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${server.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    perSecond: result.requests.average,
    cpuMsPerBatch: cpu / result.requests.total,
  };
}

const other = await start('other', otherRoot);
const self = await start('this', path.resolve(here, '..'));
log('warm-up: 3 s each …');
await run(other, 3);
await run(self, 3);
console.log(`Command: node bench/batch-ab.mjs ${otherRoot} (BENCH_SECONDS=${DURATION})`);
console.log(
  '| Round | Load (1/5/15) | Other: checks/s (CPU per batch) | This: checks/s (CPU per batch) |',
);
console.log('| --- | --- | ---: | ---: |');
const totals = { other: [0, 0], this: [0, 0] };
for (let round = 1; round <= ROUNDS; round++) {
  const a = await run(other);
  const b = await run(self);
  totals.other[0] += a.perSecond;
  totals.other[1] += a.cpuMsPerBatch;
  totals.this[0] += b.perSecond;
  totals.this[1] += b.cpuMsPerBatch;
  const f = (r) =>
    `${Math.round(r.perSecond * 1000).toLocaleString('en-US')} (${r.cpuMsPerBatch.toFixed(2)} ms)`;
  console.log(`| ${round} | ${loadAverage()} | ${f(a)} | ${f(b)} |`);
}
const mean = ([perSecond, cpu]) =>
  `${Math.round((perSecond / ROUNDS) * 1000).toLocaleString('en-US')} (${(cpu / ROUNDS).toFixed(2)} ms)`;
console.log(`| **mean** | | ${mean(totals.other)} | ${mean(totals.this)} |`);
other.stop();
self.stop();
setTimeout(() => {
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}, 500);
