/**
 * `npm run bench:sdk`: the SDK's local decisions and the change stream's cost, on the data set of
 * `npm run bench` (100,000 collaborators, 5,000 groups, 2,000 projects, 300,000 grants).
 *
 *  1. The snapshot: its size and how long createLocalAuthorizer takes to load it.
 *  2. A local check (`authorizer.check()`, packages/sdk/dist): p50/p99 over 100,000 random
 *     member × project × privilege questions, each timed on its own (the timer's own cost, measured
 *     and printed, is included), three rounds, the median round reported.
 *  3. How long after a write's response the local authorizer reflects it (it applies the rows the
 *     change touched: GET /api/access/snapshot/changes).
 *  4. Write latency (POST /api/projects, one after another) with 0 and with N stream clients
 *     connected to GET /api/events/stream and reading every event.
 * The server runs in a child process (bench/sdk-server.mjs).
 */
import http from 'node:http';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, prng, SIZES } from './generate.mjs';
import { PROJECT_RESOURCES } from '../packages/contracts/dist/index.js';
import { createLocalAuthorizer } from '../packages/sdk/dist/index.js';
import { indexFromSnapshot } from '../packages/server/dist/modules/decisions/snapshot-index.js';
import { allowsProject } from '../packages/server/dist/modules/decisions/privilege-evaluation.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'rst_bench_admin_token_0123456789';
const WRITES = Number(process.env.BENCH_WRITES ?? 300);
const FOLLOWED_WRITES = Number(process.env.BENCH_FOLLOWED_WRITES ?? 20);
const STREAM_CLIENTS = Number(process.env.BENCH_STREAM_CLIENTS ?? 50);
const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-sdk-'));
const file = path.join(work, 'roster.db');
const log = (text) => process.stderr.write(`${text}\n`);

function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}
const us = (ns) => `${(ns / 1000).toFixed(2)} µs`;
const ms = (value) => `${value.toFixed(1)} ms`;

log(`generating the data set in ${file} …`);
await generate(file, TOKEN);
const server = fork(path.join(here, 'sdk-server.mjs'), [file, TOKEN, work], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const port = await new Promise((resolve) => server.once('message', (m) => resolve(m.port)));
const baseUrl = `http://127.0.0.1:${port}`;
const results = [];

try {
  // 1. The snapshot.
  let t = performance.now();
  const raw = await fetch(`${baseUrl}/api/access/snapshot`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const text = await raw.text();
  const bytes = Buffer.byteLength(text);
  const fetchMs = performance.now() - t;
  const wire = await new Promise((resolve, reject) => {
    http
      .get(
        `${baseUrl}/api/access/snapshot`,
        { headers: { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' } },
        (res) => {
          let n = 0;
          res.on('data', (chunk) => (n += chunk.length));
          res.on('end', () => resolve(n));
        },
      )
      .on('error', reject);
  });
  t = performance.now();
  const local = await createLocalAuthorizer({ baseUrl, token: TOKEN });
  const loadMs = performance.now() - t;
  results.push([
    'snapshot size: JSON / gzip on the wire',
    `${(bytes / 1024 / 1024).toFixed(1)} MiB / ${(wire / 1024 / 1024).toFixed(1)} MiB`,
  ]);
  results.push(['snapshot fetch (HTTP, body read)', ms(fetchMs)]);
  results.push(['createLocalAuthorizer (fetch + parse + index build)', ms(loadMs)]);

  // 2. Local checks.
  const random = prng(11);
  const pick = (n) => Math.floor(random() * n);
  const pairs = Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
    def.privileges.map((privilege) => [resource, privilege]),
  );
  const N = 100_000;
  const checks = Array.from({ length: N }, () => {
    const [resource, privilege] = pairs[pick(pairs.length)];
    return {
      subject: { member_id: 1 + pick(SIZES.users) },
      project_id: 1 + pick(SIZES.projects),
      resource,
      privilege,
    };
  });
  let allowed = 0;
  for (let i = 0; i < 300_000; i++) if (local.check(checks[i % N]).allowed) allowed += 1; // JIT
  const timer = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const a = process.hrtime.bigint();
    timer[i] = Number(process.hrtime.bigint() - a);
  }
  const rounds = [];
  for (let round = 0; round < 3; round++) {
    const samples = new Float64Array(N);
    allowed = 0;
    for (let i = 0; i < N; i++) {
      const a = process.hrtime.bigint();
      const decision = local.check(checks[i]);
      samples[i] = Number(process.hrtime.bigint() - a);
      if (decision.allowed) allowed += 1;
    }
    rounds.push(percentiles(samples));
  }
  rounds.sort((a, b) => a.p99 - b.p99);
  // The reference: the server's own check kernel (allowsProject) on an index built from the same
  // snapshot in this process, timed the same way: what the decisions service adds is the
  // difference (subject lookup, catalogue check, scope, answer object).
  const { workspace: ws } = indexFromSnapshot(JSON.parse(text).data);
  const kernel = (c) =>
    allowsProject(
      ws,
      ws.memberById(c.subject.member_id),
      c.project_id,
      ws.bitOf(c.resource, c.privilege),
      Date.now(),
    );
  for (let i = 0; i < 300_000; i++) kernel(checks[i % N]);
  const kernelRounds = [];
  for (let round = 0; round < 3; round++) {
    const samples = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const a = process.hrtime.bigint();
      kernel(checks[i]);
      samples[i] = Number(process.hrtime.bigint() - a);
    }
    kernelRounds.push(percentiles(samples));
  }
  kernelRounds.sort((a, b) => a.p99 - b.p99);
  const median = rounds[1];
  const timerCost = percentiles(timer);
  results.push([
    `local check, ${N.toLocaleString('en')} random checks (${allowed} allowed), median of 3 rounds`,
    `p50 ${us(median.p50)}, p99 ${us(median.p99)} (rounds' p99: ${rounds.map((r) => us(r.p99)).join(', ')})`,
  ]);
  results.push([
    "  reference: the server's check kernel (allowsProject) on the same index, same process",
    `p50 ${us(kernelRounds[1].p50)}, p99 ${us(kernelRounds[1].p99)}`,
  ]);
  results.push([
    '  of which the timer itself',
    `p50 ${us(timerCost.p50)}, p99 ${us(timerCost.p99)}`,
  ]);
  t = performance.now();
  const explained = checks.slice(0, 10_000).map((c) => ({ ...c, explain: true }));
  for (const c of explained) local.check(c);
  results.push([
    'local check with explain (mean of 10,000)',
    us(((performance.now() - t) * 1e6) / 10_000),
  ]);

  // 3. A write reflected locally, timed from the write's response: the authorizer applies the
  // rows the change touched (GET /api/access/snapshot/changes), no snapshot reload.
  const followed = [];
  const fullBefore = local.stats.fullReloads;
  for (let i = 0; i < FOLLOWED_WRITES; i++) {
    const res = await fetch(`${baseUrl}/api/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Followed ${i}`, environment_type: 'dev' }),
    });
    const created = await res.json();
    t = performance.now();
    const events = await fetch(`${baseUrl}/api/audit_events?page[size]=1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.json());
    await local.waitFor(events.data[0].id, 60_000);
    followed.push(performance.now() - t);
    if (created.data === undefined) throw new Error('write failed');
  }
  const follow = percentiles(followed);
  results.push([
    `write response → reflected by the local authorizer (×${FOLLOWED_WRITES}, incremental)`,
    `p50 ${ms(follow.p50)}, max ${ms(follow.max)}; snapshot reloads ${local.stats.fullReloads - fullBefore}`,
  ]);
  local.close();

  // 4. Write latency with 0 and N stream clients.
  const writeRound = async (label) => {
    const samples = [];
    for (let i = 0; i < WRITES; i++) {
      const a = performance.now();
      const res = await fetch(`${baseUrl}/api/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `${label} ${i}`, environment_type: 'dev' }),
      });
      await res.arrayBuffer();
      samples.push(performance.now() - a);
    }
    return percentiles(samples);
  };
  await writeRound('Warm-up');
  const without = await writeRound('No stream');
  const clients = fork(
    path.join(here, 'sdk-stream-clients.mjs'),
    [baseUrl, TOKEN, String(STREAM_CLIENTS)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise((resolve) => clients.once('message', resolve));
  for (;;) {
    const count = await new Promise((resolve) => {
      server.once('message', (m) => resolve(m.clients));
      server.send('clients');
    });
    if (count >= STREAM_CLIENTS) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const withStreams = await writeRound('Streamed');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const received = await new Promise((resolve) => {
    clients.once('message', (m) => resolve(m.received));
    clients.send('count');
  });
  clients.send('stop');
  await new Promise((resolve) => clients.once('exit', resolve));
  results.push([
    `write latency (POST /api/projects ×${WRITES}), no stream client`,
    `p50 ${ms(without.p50)}, p99 ${ms(without.p99)}`,
  ]);
  results.push([
    `write latency, ${STREAM_CLIENTS} stream clients reading every event`,
    `p50 ${ms(withStreams.p50)}, p99 ${ms(withStreams.p99)} (${received.toLocaleString('en')} events delivered of ${(WRITES * STREAM_CLIENTS).toLocaleString('en')})`,
  ]);
} finally {
  server.send('close');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(work, { recursive: true, force: true });
}

const header = `Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')}`;
console.log(`\n${header}\n`);
console.log('| Measure | Result |\n| --- | --- |');
for (const [what, value] of results) console.log(`| ${what} | ${value} |`);
