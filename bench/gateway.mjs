/**
 * `npm run bench:gateway`: MCP tool calls through Roster's gateway against the same calls straight
 * to the upstream, on loopback, with the MCP SDK's client on both paths; then lock-to-stop.
 *
 *  1. Latency and throughput: 1 and 16 concurrent clients (each its own agent and end user) call
 *     `search` BENCH_CALLS times in all, first straight to the upstream, then through
 *     `/mcp/<feature id>`. Prints p50/p99 of both, the added latency (gateway minus direct, per
 *     percentile), calls/s, and the gateway process's CPU time per call (process.cpuUsage delta
 *     over the calls; the upstream and the load generator run in other processes).
 *     A bare Fastify + undici reverse proxy to the same upstream (gateway-floor-server.mjs) is
 *     measured too: its CPU per call is the floor the gateway's own code sits on.
 *  2. Lock-to-stop: the time from `POST /api/end_users/:id/lock` returning to the first refused
 *     call, BENCH_LOCK_TRIALS times (unlocking between trials): on one instance (SQLite), and,
 *     when ROSTER_BENCH_DATABASE_URL names a PostgreSQL server (an admin URL: a throwaway database
 *     is created and dropped), across two instances: locked on A, refused through B.
 *
 * The same gateway process also answers on a second port through Fastify only (no lean path in
 * front, gateway-server.mjs), and a bare node:http + undici proxy is measured too: back-to-back
 * figures for what the lean path saves and for what Node's HTTP stack costs by itself.
 *
 * Results are printed and written to bench/gateway-results.md.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'rst_bench_admin_token_0123456789';
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const TRIALS = Number(process.env.BENCH_LOCK_TRIALS ?? 200);
const PG_ADMIN = process.env.ROSTER_BENCH_DATABASE_URL;
// BENCH_LOCK_ONLY=1: only the lock-to-stop measurements. BENCH_CLIENTS=1,16: the rows to run.
const CONCURRENCY = process.env.BENCH_LOCK_ONLY
  ? []
  : (process.env.BENCH_CLIENTS ?? '1,16').split(',').map(Number);
// The saturation rows: this many calls in flight at once (BENCH_SATURATE=0 skips them).
const SATURATE = process.env.BENCH_LOCK_ONLY ? 0 : Number(process.env.BENCH_SATURATE ?? 64);
// Targets (issue 12): added p99 with one client, and gateway CPU per call (≥ 5,000 calls/s/core).
const TARGET_ADDED_P99_MS = 1;
const TARGET_CPU_US = 200;
const log = (text) => process.stderr.write(`${text}\n`);
const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-gateway-'));
const children = [];
const jsonSchemaValidator = new AjvJsonSchemaValidator();

function start(script, args) {
  const child = fork(path.join(here, script), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  });
  children.push(child);
  const readyMessage = new Promise((resolve, reject) => {
    child.on('message', (m) => m.type === 'ready' && resolve(m));
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
  const ready = readyMessage.then((m) => m.port);
  const ask = (type) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type === type) {
          child.off('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
      child.send({ type });
    });
  return { child, ready, readyMessage, cpu: async () => (await ask('cpu')).usage };
}

function api(origin) {
  return async (method, url, body) => {
    const res = await fetch(`${origin}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => undefined);
    if (res.status >= 300)
      throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
    return json?.data;
  };
}

/** One end user per agent, the feature with its upstream, a deny policy to evaluate. */
async function setUp(call, upstreamUrl, agents, name = 'Bench MCP') {
  const feature = await call('POST', '/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name,
    upstream: { url: upstreamUrl, headers: { Authorization: 'Bearer upstream-secret' } },
  });
  await call('POST', '/api/policies', {
    name: `No deleting repositories (${name})`,
    environment_type: 'dev',
    feature_id: feature.id,
    tools: ['delete_repo'],
    scope: { type: 'all' },
    effect: 'deny',
  });
  const out = [];
  for (let i = 0; i < agents; i++) {
    const user = await call('POST', '/api/end_users', {
      name: `Bench user ${i}`,
      email: `bench-${i}-${randomBytes(3).toString('hex')}@gateway.example.com`,
      environment_types: ['dev'],
    });
    await call('POST', `/api/features/${feature.id}/access`, { end_user_ids: [user.id] });
    const agent = await call('POST', '/api/agents', {
      name: `Bench agent ${i}`,
      environment_type: 'dev',
      end_user_id: user.id,
      feature_ids: [feature.id],
    });
    out.push({ userId: user.id, token: agent.token });
  }
  return { featureId: feature.id, agents: out };
}

/**
 * fetch with a signal of its own per request: the SDK's client passes one shared AbortSignal to
 * every request, and fetch's abort listeners pile up on it (a MaxListenersExceededWarning and ever
 * slower requests in the load generator). The gateway does the same for its upstream requests.
 */
const ownSignalFetch = async (input, init) => {
  const shared = init?.signal;
  if (!shared) return fetch(input, init);
  setMaxListeners(0, shared);
  const own = new AbortController();
  const abort = () => own.abort(shared.reason);
  shared.addEventListener('abort', abort, { once: true });
  try {
    return await fetch(input, { ...init, signal: own.signal });
  } finally {
    shared.removeEventListener('abort', abort);
  }
};

async function connect(url, token) {
  const client = new Client({ name: 'bench', version: '1.0.0' }, { jsonSchemaValidator });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
      fetch: ownSignalFetch,
    }),
  );
  return client;
}

function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/** `total` calls of `search` shared by the clients, each client one call at a time. */
async function drive(clients, total) {
  const latencies = [];
  let left = total;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      while (left > 0) {
        left -= 1;
        const t = performance.now();
        const result = await client.callTool({ name: 'search', arguments: { q: `c${i}` } });
        latencies.push(performance.now() - t);
        if (result.isError) throw new Error(`refused: ${JSON.stringify(result.content)}`);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

/**
 * `total` tools/call requests as bare HTTP/1.1 POSTs (an undici Pool, one keep-alive connection
 * per caller, `clients` requests in flight), without the SDK client: a load generator that costs
 * little CPU, for the saturation rows. Every answer is checked to be a forwarded result.
 */
async function driveRaw(url, token, clients, total) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: clients, keepAliveTimeout: 60_000 });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  let left = total;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      while (left > 0) {
        left -= 1;
        const response = await pool.request({
          path: target.pathname,
          method: 'POST',
          headers,
          body: `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"search","arguments":{"q":"c${i}"}}}`,
        });
        const answer = await response.body.json();
        if (response.statusCode !== 200 || answer.result === undefined || answer.result.isError)
          throw new Error(`not forwarded: ${response.statusCode} ${JSON.stringify(answer)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { seconds };
}

const cpuMs = (a, b) => (b.user - a.user + (b.system - a.system)) / 1000;
const f = (ms) => ms.toFixed(3);
// The machine's load when a figure was taken: on a shared machine latencies describe it too.
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function lockToStop(lockApi, client, userId, trials) {
  const samples = [];
  let attemptsTotal = 0;
  for (let i = 0; i < trials; i++) {
    await lockApi('POST', `/api/end_users/${userId}/lock`);
    const t = performance.now();
    for (;;) {
      attemptsTotal += 1;
      const result = await client.callTool({ name: 'search', arguments: { q: 'lock' } });
      if (result.isError) break;
      if (performance.now() - t > 10_000) throw new Error('a lock did not stop calls in 10 s');
    }
    samples.push(performance.now() - t);
    await lockApi('POST', `/api/end_users/${userId}/unlock`);
    for (;;) {
      const result = await client.callTool({ name: 'search', arguments: { q: 'unlock' } });
      if (!result.isError) break;
    }
  }
  return { ...percentiles(samples), callsPerTrial: attemptsTotal / trials };
}

const lines = [];
const out = (line = '') => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};

try {
  const upstream = start('gateway-upstream.mjs', []);
  const upstreamPort = await upstream.ready;
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
  // The floor: a bare Fastify + undici reverse proxy to the same upstream (gateway-floor-server.mjs).
  const floor = start('gateway-floor-server.mjs', [upstreamUrl, 'fastify']);
  const floorUrl = `http://127.0.0.1:${await floor.ready}/mcp`;
  // The floor below it: the same proxy on a bare node:http server.
  const nodeFloor = start('gateway-floor-server.mjs', [upstreamUrl, 'node']);
  const nodeFloorUrl = `http://127.0.0.1:${await nodeFloor.ready}/mcp`;
  const gateway = start('gateway-server.mjs', [path.join(work, 'roster.db'), work, 'first', TOKEN]);
  const origin = `http://127.0.0.1:${await gateway.ready}`;
  // The same gateway process on a second port, Fastify's router only (the path before the lean one).
  const viaFastifyOrigin = `http://127.0.0.1:${(await gateway.readyMessage).fastifyPort}`;
  const call = api(origin);
  log('setting up 16 end users, their agents and an MCP server feature …');
  const setup = await setUp(call, upstreamUrl, Math.max(1, ...CONCURRENCY));
  const gatewayUrl = `${origin}/mcp/${setup.featureId}`;
  const viaFastifyUrl = `${viaFastifyOrigin}/mcp/${setup.featureId}`;

  out(`# MCP gateway benchmark`);
  out();
  out(
    `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; ${CALLS} calls of \`search\` per row; the upstream, the gateway and the load generator are three processes on one machine.`,
  );
  out();
  out(
    `Targets: added p99 ≤ ${TARGET_ADDED_P99_MS} ms with one client; gateway CPU per call ≤ ${TARGET_CPU_US} µs (≥ ${1e6 / TARGET_CPU_US} calls/s per core).`,
  );
  out();
  out(
    '| clients | direct p50 / p99 (ms) | gateway p50 / p99 (ms) | added p50 / p99 (ms) | direct calls/s | gateway calls/s | gateway CPU per call (µs) | calls/s per gateway core | upstream CPU per direct call (µs) | gateway through Fastify (no lean path): CPU per call (µs) | bare Fastify + undici proxy: CPU per call (µs) | bare node:http + undici proxy: CPU per call (µs) | load average |',
  );
  out('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const n of CONCURRENCY) {
    const direct = await Promise.all(Array.from({ length: n }, () => connect(upstreamUrl)));
    const through = await Promise.all(
      setup.agents.slice(0, n).map((a) => connect(gatewayUrl, a.token)),
    );
    const viaFastify = await Promise.all(
      setup.agents.slice(0, n).map((a) => connect(viaFastifyUrl, a.token)),
    );
    const bare = await Promise.all(Array.from({ length: n }, () => connect(floorUrl)));
    const bareNode = await Promise.all(Array.from({ length: n }, () => connect(nodeFloorUrl)));
    // Warm-up (JIT, connection pools) on every path.
    await drive(direct, 500);
    await drive(bare, 500);
    await drive(bareNode, 500);
    await drive(viaFastify, 500);
    await drive(through, 500);
    const floorBefore = await floor.cpu();
    await drive(bare, CALLS);
    const floorCpuUs = (cpuMs(floorBefore, await floor.cpu()) * 1000) / CALLS;
    const nodeFloorBefore = await nodeFloor.cpu();
    await drive(bareNode, CALLS);
    const nodeFloorCpuUs = (cpuMs(nodeFloorBefore, await nodeFloor.cpu()) * 1000) / CALLS;
    const viaFastifyBefore = await gateway.cpu();
    await drive(viaFastify, CALLS);
    const viaFastifyCpuUs = (cpuMs(viaFastifyBefore, await gateway.cpu()) * 1000) / CALLS;
    const upBefore = await upstream.cpu();
    const d = await drive(direct, CALLS);
    const upAfter = await upstream.cpu();
    if (process.env.BENCH_PROF) gateway.child.send({ type: 'profile-start' });
    const before = await gateway.cpu();
    const g = await drive(through, CALLS);
    const after = await gateway.cpu();
    if (process.env.BENCH_PROF) gateway.child.send({ type: 'profile-stop' });
    const dp = percentiles(d.latencies);
    const gp = percentiles(g.latencies);
    const cpuPerCallUs = (cpuMs(before, after) * 1000) / CALLS;
    // Kernel time is mostly loopback socket I/O (a send on loopback runs the receive path too).
    const sysPerCallUs = (after.system - before.system) / CALLS;
    const upstreamCpuUs = (cpuMs(upBefore, upAfter) * 1000) / CALLS;
    out(
      `| ${n} | ${f(dp.p50)} / ${f(dp.p99)} | ${f(gp.p50)} / ${f(gp.p99)} | ${f(gp.p50 - dp.p50)} / ${f(gp.p99 - dp.p99)}${n === 1 ? ` (target ≤ ${TARGET_ADDED_P99_MS})` : ''} | ${Math.round(CALLS / d.seconds)} | ${Math.round(CALLS / g.seconds)} | ${cpuPerCallUs.toFixed(0)} (of which kernel ${sysPerCallUs.toFixed(0)}; target ≤ ${TARGET_CPU_US}) | ${Math.round(1e6 / cpuPerCallUs)} | ${upstreamCpuUs.toFixed(0)} | ${viaFastifyCpuUs.toFixed(0)} | ${floorCpuUs.toFixed(0)} | ${nodeFloorCpuUs.toFixed(0)} | ${load()} |`,
    );
    await Promise.all(
      [...direct, ...bare, ...bareNode, ...viaFastify, ...through].map((c) => c.close()),
    );
  }

  if (SATURATE > 0) {
    // Saturation: as many calls in flight as it takes for something to use a whole core. Calls/s
    // per gateway core = calls/s ÷ the cores the gateway process used (its CPU s ÷ wall s).
    log(`saturation rows, ${SATURATE} calls in flight …`);
    out();
    out(
      `Saturation: ${SATURATE} calls in flight. "cores used" = the process's CPU seconds ÷ wall seconds over the calls; calls/s per core = calls/s ÷ cores used (= 10⁶ ÷ CPU µs per call). Target: ≥ ${1e6 / TARGET_CPU_US} calls/s per gateway core.`,
    );
    out();
    out(
      '| load generator → proxy → upstream | calls | calls/s | proxy CPU per call (µs) | proxy cores used | calls/s per proxy core | upstream cores used | load average |',
    );
    out('| --- | --- | --- | --- | --- | --- | --- | --- |');
    const row = async (name, proxy, up, calls, run) => {
      const p0 = await proxy.cpu();
      const u0 = await up.cpu();
      const { seconds } = await run(calls);
      const p1 = await proxy.cpu();
      const u1 = await up.cpu();
      const proxyCpuUs = (cpuMs(p0, p1) * 1000) / calls;
      const cores = cpuMs(p0, p1) / 1000 / seconds;
      out(
        `| ${name} | ${calls} | ${Math.round(calls / seconds)} | ${proxyCpuUs.toFixed(0)} | ${cores.toFixed(2)} | ${Math.round(1e6 / proxyCpuUs)} (target ≥ ${1e6 / TARGET_CPU_US}) | ${(cpuMs(u0, u1) / 1000 / seconds).toFixed(2)} | ${load()} |`,
      );
    };
    // 1. The bench's own path: SDK clients → gateway → the SDK upstream.
    const sdkClients = await Promise.all(
      Array.from({ length: SATURATE }, (_, i) =>
        connect(gatewayUrl, setup.agents[i % setup.agents.length].token),
      ),
    );
    await drive(sdkClients, 500);
    await row('SDK clients → gateway → SDK upstream', gateway, upstream, CALLS, (calls) =>
      drive(sdkClients, calls),
    );
    await Promise.all(sdkClients.map((c) => c.close()));
    // 2. A load generator and an upstream that cost little CPU (gateway-floor-server.mjs
    //    lean-upstream answers tools/call itself), so that the proxy is what is measured.
    const lean = start('gateway-floor-server.mjs', [upstreamUrl, 'lean-upstream']);
    const leanUrl = `http://127.0.0.1:${await lean.ready}/mcp`;
    const leanFloor = start('gateway-floor-server.mjs', [leanUrl, 'node']);
    const leanFloorUrl = `http://127.0.0.1:${await leanFloor.ready}/mcp`;
    const leanSetup = await setUp(call, leanUrl, 1, 'Bench MCP (lean upstream)');
    const leanGatewayUrl = `${origin}/mcp/${leanSetup.featureId}`;
    const leanToken = leanSetup.agents[0].token;
    const rawCalls = CALLS * 5;
    await driveRaw(leanGatewayUrl, leanToken, SATURATE, 2000);
    await driveRaw(leanFloorUrl, undefined, SATURATE, 2000);
    if (process.env.BENCH_PROF) gateway.child.send({ type: 'profile-start' });
    await row('raw HTTP → gateway → lean upstream', gateway, lean, rawCalls, (calls) =>
      driveRaw(leanGatewayUrl, leanToken, SATURATE, calls),
    );
    if (process.env.BENCH_PROF) gateway.child.send({ type: 'profile-stop' });
    await row(
      'raw HTTP → bare node:http + undici proxy → lean upstream',
      leanFloor,
      lean,
      rawCalls,
      (calls) => driveRaw(leanFloorUrl, undefined, SATURATE, calls),
    );
    // With one call in flight: the same processes, no batching in any event loop.
    await row(
      '(one call in flight) raw HTTP → gateway → lean upstream',
      gateway,
      lean,
      CALLS,
      (calls) => driveRaw(leanGatewayUrl, leanToken, 1, calls),
    );
    await row(
      '(one call in flight) raw HTTP → bare node:http + undici proxy → lean upstream',
      leanFloor,
      lean,
      CALLS,
      (calls) => driveRaw(leanFloorUrl, undefined, 1, calls),
    );
  }

  log(`lock-to-stop on one instance, ${TRIALS} trials …`);
  const single = await connect(gatewayUrl, setup.agents[0].token);
  const one = await lockToStop(call, single, setup.agents[0].userId, TRIALS);
  await single.close();
  out();
  out(
    '| lock-to-stop | trials | p50 (ms) | p99 (ms) | max (ms) | calls until refused | load average |',
  );
  out('| --- | --- | --- | --- | --- | --- | --- |');
  out(
    `| one instance (SQLite) | ${TRIALS} | ${f(one.p50)} | ${f(one.p99)} | ${f(one.max)} | ${one.callsPerTrial.toFixed(2)} | ${load()} |`,
  );

  if (PG_ADMIN !== undefined && PG_ADMIN !== '') {
    const name = `roster_bench_gw_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`create database ${name} template template0`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    try {
      const a = start('gateway-server.mjs', [url.toString(), path.join(work, 'a'), 'first', TOKEN]);
      const aOrigin = `http://127.0.0.1:${await a.ready}`;
      const b = start('gateway-server.mjs', [url.toString(), path.join(work, 'b'), 'next', TOKEN]);
      const bOrigin = `http://127.0.0.1:${await b.ready}`;
      const aCall = api(aOrigin);
      const pgSetup = await setUp(aCall, upstreamUrl, 1);
      log(`lock-to-stop across two PostgreSQL instances, ${TRIALS} trials …`);
      const onB = await connect(`${bOrigin}/mcp/${pgSetup.featureId}`, pgSetup.agents[0].token);
      const two = await lockToStop(aCall, onB, pgSetup.agents[0].userId, TRIALS);
      await onB.close();
      out(
        `| locked on A, refused through B (PostgreSQL) | ${TRIALS} | ${f(two.p50)} | ${f(two.p99)} | ${f(two.max)} | ${two.callsPerTrial.toFixed(2)} | ${load()} |`,
      );
      for (const s of [a, b]) s.child.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
      await admin.end();
    }
  }
  writeFileSync(path.join(here, 'gateway-results.md'), `${lines.join('\n')}\n`);
} finally {
  // Instances close (flushing their tool-call log) when the parent disconnects.
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill();
            resolve();
          }, 5000);
          child.on('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (child.connected) child.disconnect();
        }),
    ),
  );
  rmSync(work, { recursive: true, force: true });
}
