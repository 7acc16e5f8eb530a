/**
 * `npm run bench:webhooks`: webhook delivery throughput and the cost of queueing deliveries on
 * write latency. Starts the built server (packages/server/dist/main.js) on a fresh SQLite file
 * (or ROSTER_DATABASE_URL=postgres://… , an empty database) and a local receiver that verifies
 * every signature with the standardwebhooks library, then:
 *
 *   1. BENCH_WRITES writes (POST /api/end_users, BENCH_CONCURRENCY in flight) with no webhook:
 *      write latency p50/p99, the baseline;
 *   2. the same with a webhook subscribed to another action: the cost of the read every audit
 *      event makes of its workspace's webhooks;
 *   3. BENCH_HOOKS webhooks subscribed to `*` while the receiver holds every request unanswered
 *      (the dispatcher's sending slots stay busy, so nothing else is sent): write latency with a
 *      delivery queued in each write's transaction, and nothing else;
 *   4. the receiver answers again: deliveries/s draining that backlog, each verified;
 *   5. the same writes with the receiver answering at once: write latency while the same process
 *      also sends the deliveries, and whether sending keeps up with writing.
 *
 * Prints a Markdown table (also to bench/webhooks-results-<dialect>.md).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'rst_bench_admin_token_0123456789';
const WRITES = Number(process.env.BENCH_WRITES ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const HOOKS = Number(process.env.BENCH_HOOKS ?? 1);
const log = (text) => process.stderr.write(`${text}\n`);

const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-webhooks-'));
const databaseUrl = process.env.ROSTER_DATABASE_URL ?? path.join(work, 'roster.sqlite');
const dialect = databaseUrl.startsWith('postgres') ? 'postgres' : 'sqlite';

// The receiver: verifies each delivery, answers 204 (or holds the answer while `holding`).
const verifiers = new Map();
let holding = false;
const held = [];
let received = 0;
let invalid = 0;
let lastReceivedAt = 0;
const receiver = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const verifier = verifiers.get(request.url);
    try {
      verifier.verify(Buffer.concat(chunks).toString('utf8'), request.headers);
      received += 1;
    } catch {
      invalid += 1;
    }
    lastReceivedAt = performance.now();
    response.statusCode = 204;
    if (holding) held.push(response);
    else response.end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverPort = receiver.address().port;

const child = spawn(process.execPath, [path.join(here, '../packages/server/dist/main.js')], {
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    ROSTER_DATA_DIR: work,
    ROSTER_DATABASE_URL: databaseUrl,
    ROSTER_ADMIN_TOKEN: TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_LOG_LEVEL: 'warn',
    ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
    // Step 3 holds answers for as long as its writes take.
    ROSTER_WEBHOOK_TIMEOUT_MS: '120000',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const origin = await new Promise((resolve, reject) => {
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk.toString();
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) resolve(match[1]);
  });
  child.on('exit', (code) => reject(new Error(`server exited ${code}: ${output}`)));
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function call(method, url, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${origin}${url}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode >= 400)
            reject(new Error(`${method} ${url} → ${response.statusCode} ${text.slice(0, 300)}`));
          else resolve(text === '' ? undefined : JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** WRITES end users created, CONCURRENCY at a time; each request's latency in ms. */
async function writes(label) {
  const latencies = [];
  let next = 0;
  const worker = async () => {
    while (next < WRITES) {
      const i = next++;
      const started = performance.now();
      await call('POST', '/api/end_users', {
        name: `${label} ${i}`,
        email: `${label}-${i}@bench.example.com`,
        environment_types: ['dev'],
      });
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return latencies.sort((a, b) => a - b);
}
const pct = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (value) => value.toFixed(2);

try {
  log(
    `webhooks bench on ${dialect}: ${WRITES} writes × 2, ${CONCURRENCY} in flight, ${HOOKS} webhook(s)`,
  );
  await writes('warmup');
  const baseline = await writes('plain');
  log(`  no webhook: p50 ${ms(pct(baseline, 50))} ms, p99 ${ms(pct(baseline, 99))} ms`);
  const other = await call('POST', '/api/webhooks', {
    url: `http://127.0.0.1:${receiverPort}/other`,
    events: ['approval_request.*'],
  });
  const unmatched = await writes('unmatched');
  log(
    `  webhook of another action: p50 ${ms(pct(unmatched, 50))} ms, p99 ${ms(pct(unmatched, 99))} ms`,
  );
  await call('DELETE', `/api/webhooks/${other.data.id}`);

  for (let i = 0; i < HOOKS; i++) {
    const created = await call('POST', '/api/webhooks', {
      url: `http://127.0.0.1:${receiverPort}/hook-${i}`,
      events: ['*'],
    });
    verifiers.set(`/hook-${i}`, new Webhook(created.data.secret));
  }
  const expected = WRITES * HOOKS;
  const waitForDeliveries = async (count) => {
    while (received + invalid < count) {
      if (performance.now() - lastReceivedAt > 60_000 && lastReceivedAt > 0)
        throw new Error(`deliveries stalled at ${received} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (invalid > 0) throw new Error(`${invalid} deliveries failed signature verification`);
  };

  // 3: queueing only (the dispatcher's slots are held by the receiver).
  holding = true;
  const queued = await writes('queued');
  log(
    `  ${HOOKS} webhook(s), queued only: p50 ${ms(pct(queued, 50))} ms, p99 ${ms(pct(queued, 99))} ms`,
  );
  // 4: release; drain the backlog.
  const heldCount = held.length;
  const drainStart = performance.now();
  holding = false;
  for (const response of held.splice(0)) response.end();
  await waitForDeliveries(expected);
  const drainSeconds = (lastReceivedAt - drainStart) / 1000;
  const drainRate = (expected - heldCount) / drainSeconds;
  log(`  drained ${expected - heldCount} queued deliveries at ${drainRate.toFixed(0)}/s`);

  // 5: writes and sending together.
  const beforeLive = received;
  const liveStart = performance.now();
  const live = await writes('live');
  const liveWritesDone = performance.now();
  const backlog = beforeLive + expected - received;
  await waitForDeliveries(beforeLive + expected);
  const liveWriteRate = WRITES / ((liveWritesDone - liveStart) / 1000);
  const liveLag = Math.max(0, lastReceivedAt - liveWritesDone);
  log(
    `  ${HOOKS} webhook(s), sent meanwhile: p50 ${ms(pct(live, 50))} ms, p99 ${ms(pct(live, 99))} ms; backlog ${backlog}`,
  );

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const table = [
    `## Webhooks on ${dialect} (${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpu})`,
    '',
    `${WRITES} writes (POST /api/end_users), ${CONCURRENCY} in flight; ${HOOKS} webhook(s) subscribed to \`*\`, receiver on 127.0.0.1 verifying every signature with standardwebhooks.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| 1. write latency, no webhook (p50 / p99) | ${ms(pct(baseline, 50))} ms / ${ms(pct(baseline, 99))} ms |`,
    `| 2. write latency, a webhook of another action: one read per write (p50 / p99) | ${ms(pct(unmatched, 50))} ms / ${ms(pct(unmatched, 99))} ms |`,
    `| 3. write latency, ${HOOKS} matching webhook(s), deliveries queued in the write's transaction, none sent meanwhile (p50 / p99) | ${ms(pct(queued, 50))} ms / ${ms(pct(queued, 99))} ms |`,
    `| 4. deliveries/s draining ${expected - heldCount} queued deliveries (each signed, sent, verified, recorded) | ${drainRate.toFixed(0)} |`,
    `| 5. write latency while the same process sends the deliveries (p50 / p99) | ${ms(pct(live, 50))} ms / ${ms(pct(live, 99))} ms |`,
    `| 5. writes/s; deliveries still queued at the last write; last delivery after the last write | ${liveWriteRate.toFixed(0)}; ${backlog}; ${liveLag.toFixed(0)} ms |`,
    `| load average of the machine at the end (1 min) | ${loadavg()[0].toFixed(1)} |`,
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  writeFileSync(path.join(here, `webhooks-results-${dialect}.md`), table);
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  agent.destroy();
  for (const response of held.splice(0)) response.end();
  receiver.closeAllConnections();
  receiver.close();
  rmSync(work, { recursive: true, force: true });
}
