/**
 * `npm run bench:check -- FILE [CHECKS]`: the in-process check path alone, on a data set made by
 * bench/generate.mjs (made in FILE when it does not exist, reused when it does). Prints one JSON
 * line: the p50/p99 of single timed checks (three rounds of 100,000, the median round), and the
 * throughput of an untimed loop of CHECKS checks (default 20,000,000), per wall and per CPU second. Short and without HTTP, so
 * two builds can be run in turn, A B A B, on a noisy machine (docs/performance.md).
 */
import process from 'node:process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../packages/server/dist/app.js';
import { loadConfig } from '../packages/server/dist/config.js';
import { openStore } from '../packages/server/dist/storage/connect.js';
import { allowsProject } from '../packages/server/dist/modules/decisions/privilege-evaluation.js';
import { PROJECT_RESOURCES } from '../packages/contracts/dist/index.js';
import { generate, prng, SIZES } from './generate.mjs';

const TOKEN = 'rst_bench_admin_token_0123456789';
const file = process.argv[2] ?? path.join(mkdtempSync(path.join(tmpdir(), 'roster-check-')), 'db');
const total = Number(process.argv[3] ?? 20_000_000);
if (!existsSync(file)) await generate(file, TOKEN);

const config = loadConfig({
  PORT: '0',
  ROSTER_DATA_DIR: path.dirname(file),
  ROSTER_DATABASE_URL: file,
  ROSTER_ADMIN_TOKEN: TOKEN,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_PUBLIC_URL: 'http://127.0.0.1',
});
const store = openStore({ url: config.databaseUrl });
const { app, services } = await buildApp({ store, config, logger: false });
await app.ready();
const index = services.accessIndex;
const ws = index.workspace(1);

const random = prng(7);
const pick = (n) => Math.floor(random() * n);
const pairs = Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
  def.privileges.map((privilege) => [resource, privilege]),
);
const N = 100_000;
const checks = Array.from({ length: N }, () => {
  const [resource, privilege] = pairs[pick(pairs.length)];
  return {
    memberId: 1 + pick(SIZES.users),
    projectId: 1 + pick(SIZES.projects),
    resource,
    privilege,
  };
});

// The same check as bench/server.mjs: subject lookup, privilege bit, clock, grant walk.
const checkOnce = (c) =>
  allowsProject(
    ws,
    ws.memberById(c.memberId),
    c.projectId,
    ws.bitOf(c.resource, c.privilege),
    index.nowMs(),
  );

for (let i = 0; i < 200_000; i++) checkOnce(checks[i % N]); // warm-up (JIT)
const rounds = [];
for (let round = 0; round < 3; round++) {
  const latencies = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    checkOnce(checks[i]);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  latencies.sort();
  rounds.push({ p50: latencies[N / 2], p99: latencies[Math.floor(N * 0.99)] });
}
const median = [...rounds].sort((a, b) => a.p50 - b.p50)[1];
let allowed = 0;
const started = performance.now();
// CPU time as well as wall time: on a shared machine the wall clock counts other processes' turns.
const cpuStarted = process.cpuUsage();
for (let i = 0; i < total; i++) if (checkOnce(checks[i % N])) allowed++;
const cpu = process.cpuUsage(cpuStarted);
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    p50_us: median.p50,
    p99_us: median.p99,
    rounds,
    checks_per_s: Math.round(total / seconds),
    checks_per_cpu_s: Math.round(total / ((cpu.user + cpu.system) / 1e6)),
    loop_s: Number(seconds.toFixed(2)),
    allowed,
  }),
);
await app.close();
