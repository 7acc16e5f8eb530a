/**
 * `npm run bench:tenants`: many small workspaces (issue 14). Generates W realistic small
 * workspaces straight into a SQLite file (~50 collaborators, ~500 end users, ~150 project grants
 * each; prepared statements, one transaction per 100 workspaces), starts the real server
 * (packages/server/dist/main.js) on it, and reports: time from spawn to a healthy /readyz, time
 * until the background warm-up stops, RSS settled, warm check p50/p99 over HTTP, and the first
 * check on a cold workspace p50/p99 — with the default budget (a third of the V8 heap left at start) and with
 * ROSTER_INDEX_MEMORY_MB set to hold a tenth of the workspaces. The peer in the same run: the
 * same checks on a server holding one such workspace (W = 1).
 *
 * BENCH_TENANTS=1000,10000 (default) picks the sizes; BENCH_TENANTS=200 is a quick run.
 * BENCH_TENANTS_DIR=<dir> keeps the generated files there and reuses them on the next run
 * (generating 10,000 workspaces takes minutes).
 * Results are printed and written to bench/tenants-results.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PROJECT_RESOURCES } from '../packages/contracts/dist/index.js';
import { prng } from './generate.mjs';
import { PER, generateTenants as generate, tokenOf } from './generate-tenants.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZES = (process.env.BENCH_TENANTS ?? '1000,10000').split(',').map(Number);
const WARM_CHECKS = 3_000;
const COLD_CHECKS = 300;
const log = (text) => process.stderr.write(`${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port, method, urlPath, body, token) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        agent,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const rssMb = (pid) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
};

function percentiles(samples) {
  if (samples.length === 0) return { p50: NaN, p99: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

const pairs = Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
  def.privileges.map((privilege) => [resource, privilege]),
);

/** Starts the server on the file, measures, stops it. */
async function measure(file, work, W, env) {
  const random = prng(7);
  const pick = (n) => Math.floor(random() * n);
  const checkOf = (w) => {
    const [resource, privilege] = pairs[pick(pairs.length)];
    return {
      subject: { member_id: (w - 1) * PER.members + 1 + pick(PER.members) },
      project_id: (w - 1) * PER.projects + 1 + pick(PER.projects),
      resource,
      privilege,
    };
  };
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(here, '../packages/server/dist/main.js')], {
    env: {
      ...process.env,
      PORT: '0',
      ROSTER_DATA_DIR: work,
      ROSTER_DATABASE_URL: file,
      ROSTER_ADMIN_TOKEN: tokenOf(1),
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
      ROSTER_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  let ready;
  for (;;) {
    ready = await request(port, 'GET', '/readyz');
    if (ready.status === 200) break;
    await sleep(5);
  }
  const healthyMs = performance.now() - started;
  const rssHealthy = rssMb(child.pid);
  let index;
  for (;;) {
    index = JSON.parse((await request(port, 'GET', '/readyz')).text).index;
    if (!index.warming) break;
    await sleep(50);
  }
  const warmedMs = performance.now() - started;
  await sleep(2_000);
  const rssSettled = rssMb(child.pid);
  const loaded = index.workspaces_loaded;

  // Warm checks: workspaces the warm-up loaded (in ID order from 1).
  const warm = [];
  const warmSpan = Math.max(1, Math.min(loaded, W));
  for (let i = 0; i < WARM_CHECKS + 500; i++) {
    const w = 1 + pick(warmSpan);
    const t0 = performance.now();
    const res = await request(port, 'POST', '/api/access/check', checkOf(w), tokenOf(w));
    if (res.status !== 200) throw new Error(`warm check: ${res.status} ${res.text}`);
    if (i >= 500) warm.push(performance.now() - t0);
  }
  // First checks on cold workspaces (none when every workspace is loaded).
  const cold = [];
  const coldIds = [];
  for (let w = loaded + 1; w <= W; w++) coldIds.push(w);
  for (let i = 0; i < COLD_CHECKS && coldIds.length > 0; i++) {
    const [w] = coldIds.splice(pick(coldIds.length), 1);
    const t0 = performance.now();
    const res = await request(port, 'POST', '/api/access/check', checkOf(w), tokenOf(w));
    if (res.status !== 200) throw new Error(`cold check: ${res.status} ${res.text}`);
    cold.push(performance.now() - t0);
  }
  const after = JSON.parse((await request(port, 'GET', '/readyz')).text).index;
  const rssAfter = rssMb(child.pid);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  return {
    healthyMs,
    warmedMs,
    rssHealthy,
    rssSettled,
    rssAfter,
    loaded,
    bytesPerWorkspace: index.estimated_bytes / Math.max(1, loaded),
    budgetMb: index.budget_bytes === null ? null : index.budget_bytes / 1048576,
    evictions: after.evictions,
    warm: percentiles(warm),
    cold: percentiles(cold),
  };
}

const rows = [];
const f = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const keep = process.env.BENCH_TENANTS_DIR;
if (keep !== undefined) mkdirSync(keep, { recursive: true });
const work = keep ?? mkdtempSync(path.join(tmpdir(), 'roster-tenants-'));
try {
  // The peer: one such workspace, same checks, same process setup.
  {
    const file = path.join(work, 'peer.db');
    if (!existsSync(file)) await generate(file, 1);
    const peer = await measure(file, work, 1, {});
    rows.push({ W: 1, label: 'peer: one workspace', ...peer });
    log(`W=1 peer: warm check p50 ${f(peer.warm.p50, 2)} ms, p99 ${f(peer.warm.p99, 2)} ms`);
  }
  for (const W of SIZES) {
    const file = path.join(work, `tenants-${W}.db`);
    if (!existsSync(file)) {
      log(`generating ${W} workspaces …`);
      const t0 = performance.now();
      const counts = await generate(file, W);
      log(`  ${JSON.stringify(counts)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const all = await measure(file, work, W, {});
    rows.push({ W, label: 'default budget (⅓ of the free heap)', ...all });
    log(`  default budget: ${JSON.stringify(all)}`);
    // A budget that holds a tenth of them, from the estimate the first run measured.
    const tenthMb = (all.bytesPerWorkspace * W) / 10 / 1048576;
    const tenth = await measure(file, work, W, { ROSTER_INDEX_MEMORY_MB: tenthMb.toFixed(2) });
    rows.push({ W, label: `budget ${tenthMb.toFixed(1)} MB (a tenth)`, ...tenth });
    log(`  tenth budget: ${JSON.stringify(tenth)}`);
    if (keep === undefined) rmSync(file, { force: true });
  }
} finally {
  if (keep === undefined) rmSync(work, { recursive: true, force: true });
}

const header =
  '| W | index budget | start → healthy | warm-up done | loaded | est. KB / workspace | RSS healthy | RSS settled | RSS after cold checks | evictions | warm check p50 / p99 | cold first check p50 / p99 |';
const lines = [
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}; ${new Date().toISOString()}.`,
  `Per workspace: ${PER.members} collaborators, ${PER.groups} groups, ${PER.projects} projects, ~${PER.grants} grants, ${PER.endUsers} end users, ${PER.features} features. HTTP checks one at a time over keep-alive (${WARM_CHECKS} warm, ${COLD_CHECKS} cold).`,
  '',
  header,
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.W.toLocaleString('en')} | ${r.label} | ${f(r.healthyMs / 1000, 2)} s | ${f(r.warmedMs / 1000, 1)} s | ${r.loaded.toLocaleString('en')} | ${f(r.bytesPerWorkspace / 1024)} | ${f(r.rssHealthy, 0)} MB | ${f(r.rssSettled, 0)} MB | ${f(r.rssAfter, 0)} MB | ${r.evictions} | ${f(r.warm.p50, 2)} / ${f(r.warm.p99, 2)} ms | ${f(r.cold.p50, 2)} / ${f(r.cold.p99, 2)} ms |`,
  ),
];
const table = lines.join('\n');
process.stdout.write(`\n${table}\n`);
writeFileSync(path.join(here, 'tenants-results.md'), `# npm run bench:tenants\n\n${table}\n`);
