/**
 * `npm run bench:cluster`: home instances on PostgreSQL (issue 14, docs/operations.md "Several
 * instances"). Creates W small workspaces in a fresh database through the API, then runs the real
 * server (packages/server/dist/main.js):
 *   1. one instance holding every workspace: index bytes (/readyz) and RSS once all are warm;
 *   2. three instances on loopback (fresh processes): the same figures per instance, and on one
 *      instance the check latency (one client, keep-alive, sequential) of workspaces it is home
 *      for (answered locally) next to workspaces homed elsewhere (forwarded), in the same run.
 *
 * BENCH_CLUSTER_WORKSPACES (default 60) and BENCH_CLUSTER_CHECKS (default 3000 per kind) size it;
 * ROSTER_BENCH_DATABASE_URL (default postgres://roster:roster@127.0.0.1:5432/postgres) is where a
 * scratch database is created and dropped.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { rendezvousHome } from '../packages/server/dist/modules/cluster/membership.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const W = Number(process.env.BENCH_CLUSTER_WORKSPACES ?? 60);
const CHECKS = Number(process.env.BENCH_CLUSTER_CHECKS ?? 3_000);
const ADMIN = 'bench-admin-token-0123456789';
const PLATFORM = 'bench-platform-token-0123456789';
const SECRET = 'bench-cluster-secret-key-0123456789abcdef';
const MEMBERS = 10;
const PROJECTS = 5;
const GRANTS = 25;
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
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function ok(promise, what) {
  const res = await promise;
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${res.text}`);
  return res.json;
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const rssMb = (pid) => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
};

function percentiles(samples) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function start(databaseUrl, dataDir) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [path.join(here, '../packages/server/dist/main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      ROSTER_DATABASE_URL: databaseUrl,
      ROSTER_DATA_DIR: dataDir,
      ROSTER_ADMIN_TOKEN: ADMIN,
      ROSTER_PLATFORM_TOKEN: PLATFORM,
      ROSTER_SECRET_KEY: SECRET,
      ROSTER_INSTANCE_URL: url,
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
      ROSTER_LOG_LEVEL: 'error',
      ROSTER_CLUSTER_HEARTBEAT_MS: '500',
      ROSTER_CLUSTER_LEASE_MS: '2000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      const res = await request(port, 'GET', '/readyz');
      if (res.status === 200) return { port, url, child, dataDir };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('instance did not become ready');
}

async function stop(instance) {
  instance.child.kill('SIGTERM');
  await new Promise((resolve) => instance.child.once('exit', resolve));
}

const ready = async (instance) => (await request(instance.port, 'GET', '/readyz')).json;

function invitationToken(dataDir, email) {
  const lines = readFileSync(path.join(dataDir, 'outbox.jsonl'), 'utf8').trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const message = JSON.parse(lines[i]);
    if (message.to === email) return /\/invitations\/([A-Za-z0-9_-]+)/.exec(message.text)[1];
  }
  throw new Error(`no invitation for ${email}`);
}

/** W workspaces, each MEMBERS collaborators, PROJECTS projects and GRANTS direct grants. */
async function populate(instance) {
  const workspaces = [];
  let seed = 1;
  const rand = (n) => {
    seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
    return seed % n;
  };
  for (let w = 0; w < W; w++) {
    const created = await ok(
      request(instance.port, 'POST', '/platform/workspaces', { name: `Bench ${w}` }, PLATFORM),
      'workspace',
    );
    const ws = { id: created.data.id, token: created.data.admin_token, members: [], projects: [] };
    const role = await ok(
      request(
        instance.port,
        'POST',
        '/api/project_roles',
        {
          project_role: { name: 'Runner', config: { recipe: { privileges: ['run', 'read'] } } },
        },
        ws.token,
      ),
      'role',
    );
    for (let p = 0; p < PROJECTS; p++) {
      const project = await ok(
        request(
          instance.port,
          'POST',
          '/api/projects',
          { name: `P${p}`, environment_type: 'dev' },
          ws.token,
        ),
        'project',
      );
      ws.projects.push(project.data.id);
    }
    for (let m = 0; m < MEMBERS; m++) {
      const email = `w${w}.m${m}@example.com`;
      await ok(
        request(
          instance.port,
          'POST',
          '/api/member_invitations',
          {
            name: `M${m}`,
            email,
            env_roles: [{ environment_type: 'dev', name: 'No access' }],
          },
          ws.token,
        ),
        'invite',
      );
      const token = invitationToken(instance.dataDir, email);
      const member = await ok(
        request(instance.port, 'POST', `/invitations/${token}/accept`, {}),
        'accept',
      );
      ws.members.push(member.data.id);
    }
    for (let g = 0; g < GRANTS; g++) {
      await ok(
        request(
          instance.port,
          'PUT',
          `/api/projects/${ws.projects[rand(PROJECTS)]}/project_grants`,
          {
            project_grants: [
              {
                assignment_type: 'User',
                assignment_id: String(ws.members[rand(MEMBERS)]),
                project_role_id: role.data.id,
              },
            ],
          },
          ws.token,
        ),
        'grant',
      );
    }
    workspaces.push(ws);
    if ((w + 1) % 10 === 0) log(`  ${w + 1}/${W} workspaces`);
  }
  return workspaces;
}

const checkOf = (ws, i) => ({
  subject: { member_id: ws.members[i % ws.members.length] },
  project_id: ws.projects[Math.floor(i / ws.members.length) % ws.projects.length],
  resource: 'recipe',
  privilege: 'run',
});

async function warmAll(instances, workspaces) {
  for (const instance of instances)
    for (const ws of workspaces)
      await ok(
        request(instance.port, 'POST', '/api/access/check', checkOf(ws, 0), ws.token),
        'check',
      );
}

async function figures(instance) {
  await sleep(1_000);
  const state = await ready(instance);
  return {
    loaded: state.index.workspaces_loaded,
    indexKb: state.index.estimated_bytes / 1024,
    rssMb: rssMb(instance.child.pid),
  };
}

async function latency(instance, workspaces) {
  const samples = [];
  for (let i = 0; i < CHECKS; i++) {
    const ws = workspaces[i % workspaces.length];
    const started = performance.now();
    const res = await request(instance.port, 'POST', '/api/access/check', checkOf(ws, i), ws.token);
    samples.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`check: ${res.status} ${res.text}`);
  }
  return percentiles(samples);
}

async function main() {
  const base =
    process.env.ROSTER_BENCH_DATABASE_URL ?? 'postgres://roster:roster@127.0.0.1:5432/postgres';
  const name = `roster_bench_cluster_${process.pid}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const root = mkdtempSync(path.join(tmpdir(), 'roster-bench-cluster-'));
  const dir = (n) => path.join(root, n);
  const running = [];
  try {
    log(
      `populating ${W} workspaces (${MEMBERS} collaborators, ${PROJECTS} projects, ${GRANTS} grants each)…`,
    );
    const seeder = await start(databaseUrl, dir('seed'));
    running.push(seeder);
    const workspaces = await populate(seeder);
    await stop(running.pop());

    log('one instance, every workspace warm…');
    const solo = await start(databaseUrl, dir('solo'));
    running.push(solo);
    await warmAll([solo], workspaces);
    const soloFigures = await figures(solo);
    const soloLatency = await latency(solo, workspaces);
    await stop(running.pop());

    log('three instances…');
    const trio = [];
    for (const n of ['a', 'b', 'c']) {
      const instance = await start(databaseUrl, dir(n));
      running.push(instance);
      trio.push(instance);
    }
    for (let i = 0; i < 100; i++) {
      const states = await Promise.all(trio.map(ready));
      if (states.every((s) => s.cluster?.instances.length === 3)) break;
      await sleep(100);
    }
    await warmAll(trio, workspaces);
    const trioFigures = [];
    for (const instance of trio) trioFigures.push(await figures(instance));
    const urls = trio.map((i) => i.url).sort();
    const [a] = trio;
    const local = workspaces.filter((ws) => rendezvousHome(urls, ws.id) === a.url);
    const remote = workspaces.filter((ws) => rendezvousHome(urls, ws.id) !== a.url);
    const localLatency = await latency(a, local);
    const forwardedLatency = await latency(a, remote);

    const f = (n, d = 2) => n.toFixed(d);
    const lines = [
      `W = ${W} workspaces (${MEMBERS} collaborators, ${PROJECTS} projects, ${GRANTS} grants each), PostgreSQL, ${CHECKS} sequential checks per row, one keep-alive client`,
      '',
      '| setup | instance | workspaces loaded | index (KB) | RSS (MB) |',
      '|---|---|---|---|---|',
      `| 1 instance | solo | ${soloFigures.loaded} | ${f(soloFigures.indexKb, 0)} | ${f(soloFigures.rssMb, 0)} |`,
      ...trioFigures.map(
        (x, i) =>
          `| 3 instances | ${'abc'[i]} | ${x.loaded} | ${f(x.indexKb, 0)} | ${f(x.rssMb, 0)} |`,
      ),
      '',
      '| check (HTTP, ms) | p50 | p99 |',
      '|---|---|---|',
      `| 1 instance, local | ${f(soloLatency.p50)} | ${f(soloLatency.p99)} |`,
      `| 3 instances, home here (local, ${local.length} workspaces) | ${f(localLatency.p50)} | ${f(localLatency.p99)} |`,
      `| 3 instances, home elsewhere (forwarded, ${remote.length} workspaces) | ${f(forwardedLatency.p50)} | ${f(forwardedLatency.p99)} |`,
      `| added by the hop | ${f(forwardedLatency.p50 - localLatency.p50)} | ${f(forwardedLatency.p99 - localLatency.p99)} |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const instance of running) await stop(instance).catch(() => undefined);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
