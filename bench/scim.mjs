/**
 * `npm run bench:scim`: provisions 10,000 users and 1,000 groups of 50 members through SCIM over
 * HTTP on 127.0.0.1, the way Okta does it (POST each user; POST each group empty, then one PATCH
 * adding its members), with CONCURRENCY requests in flight; then times one PATCH adding 5,000
 * members to one group. Prints the times and requests per second (also to bench/scim-results-<target>-<dialect>.md).
 *
 * SQLite by default (a fresh file); ROSTER_DATABASE_URL=postgres://… to run on PostgreSQL
 * (an empty database). BENCH_USERS, BENCH_GROUPS, BENCH_GROUP_SIZE, BENCH_CONCURRENCY override.
 * BENCH_TARGET=collaborators provisions collaborators and collaborator groups instead of end users.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'rst_bench_admin_token_0123456789';
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1_000);
const GROUP_SIZE = Number(process.env.BENCH_GROUP_SIZE ?? 50);
const BIG_PATCH = Number(process.env.BENCH_BIG_PATCH ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const TARGET = process.env.BENCH_TARGET ?? 'end_users';
const log = (text) => process.stderr.write(`${text}\n`);

const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-scim-'));
const databaseUrl = process.env.ROSTER_DATABASE_URL ?? path.join(work, 'roster.db');
const child = fork(path.join(here, 'scim-server.mjs'), [databaseUrl, TOKEN, work], {
  execArgv: process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/perf'] : [],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const server = await new Promise((resolve, reject) => {
  child.on('message', (m) => m.type === 'ready' && resolve(m));
  child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
});
const origin = `http://127.0.0.1:${server.port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function call(method, url, token, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${origin}${url}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined
            ? {}
            : {
                'content-type': url.startsWith('/scim/')
                  ? 'application/scim+json'
                  : 'application/json',
                'content-length': Buffer.byteLength(payload),
              }),
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

/** Runs tasks with at most CONCURRENCY in flight; returns results in order. */
async function pool(count, task) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

// Whatever happens below, the server child goes with this process.
process.on('exit', () => child.kill());
const connection = (
  await call('POST', '/api/scim_connections', TOKEN, {
    environment_type: 'prod',
    target: TARGET,
  })
).data;
const base = `/scim/v2/${connection.id}`;
const scim = (method, url, body) => call(method, `${base}${url}`, connection.token, body);
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

log(`${server.dialect}: provisioning ${USERS} users, ${CONCURRENCY} requests in flight …`);
let t = performance.now();
const userIds = await pool(USERS, async (i) => {
  const userName = `user${i}@bench.example.com`;
  const created = await scim('POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName,
    name: { givenName: `Given${i}`, familyName: `Family${i}` },
    emails: [{ primary: true, value: userName, type: 'work' }],
    displayName: `Given${i} Family${i}`,
    externalId: `00u${i}`,
    active: true,
  });
  return created.id;
});
const usersMs = performance.now() - t;

log(
  `${server.dialect}: provisioning ${GROUPS} groups of ${GROUP_SIZE} members (POST + PATCH each) …`,
);
t = performance.now();
await pool(GROUPS, async (g) => {
  const group = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: `Group ${g}`,
    members: [],
  });
  const members = Array.from({ length: GROUP_SIZE }, (_, k) => ({
    value: userIds[(g * GROUP_SIZE + k) % userIds.length],
  }));
  await scim('PATCH', `/Groups/${group.id}`, {
    schemas: [PATCH],
    Operations: [{ op: 'add', path: 'members', value: members }],
  });
});
const groupsMs = performance.now() - t;

log(`${server.dialect}: one PATCH adding ${BIG_PATCH} members to one group …`);
const big = await scim('POST', '/Groups', { displayName: 'Everyone pushed', members: [] });
const bigMembers = userIds.slice(0, BIG_PATCH).map((value) => ({ value, display: value }));
t = performance.now();
await scim('PATCH', `/Groups/${big.id}`, {
  schemas: [PATCH],
  Operations: [{ op: 'add', path: 'members', value: bigMembers }],
});
const bigMs = performance.now() - t;
const check = await scim('GET', `/Groups/${big.id}?attributes=displayName`);
// Read back through the workspace API of the target population.
const count =
  TARGET === 'collaborators'
    ? (await call('GET', `/api/user_groups/${big.id}`, TOKEN)).data.members_count
    : (await call('GET', `/api/end_user_groups/${big.id}`, TOKEN)).data.users_count;
if (count !== BIG_PATCH) throw new Error(`expected ${BIG_PATCH} members, found ${count}`);

t = performance.now();
const lookups = await pool(1000, (i) =>
  scim(
    'GET',
    `/Users?filter=${encodeURIComponent(`userName eq "USER${(i * 7) % USERS}@bench.example.com"`)}`,
  ),
);
const lookupMs = performance.now() - t;
if (lookups.some((l) => l.totalResults !== 1)) throw new Error('a userName lookup missed');
void check;

agent.destroy();
child.send('stop');
await new Promise((resolve) => child.on('exit', resolve));
if (process.env.ROSTER_DATABASE_URL === undefined) rmSync(work, { recursive: true, force: true });

const rate = (n, ms) => Math.round(n / (ms / 1000));
const rows = [
  ['create users (POST /Users)', USERS, usersMs],
  [`create groups + add ${GROUP_SIZE} members (POST + PATCH)`, GROUPS * 2, groupsMs],
  [`one PATCH adding ${BIG_PATCH} members`, 1, bigMs],
  ['userName lookups (GET /Users?filter=userName eq …)', 1000, lookupMs],
];
const table = [
  `SCIM benchmark, target ${TARGET}, on ${server.dialect}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${CONCURRENCY} requests in flight`,
  '',
  '| step | requests | time | requests/s |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map(
    ([name, n, ms]) =>
      `| ${name} | ${n} | ${(ms / 1000).toFixed(2)} s | ${n === 1 ? '-' : rate(n, ms)} |`,
  ),
  `| total provisioning (users + groups) | ${USERS + GROUPS * 2} | ${((usersMs + groupsMs) / 1000).toFixed(2)} s | ${rate(USERS + GROUPS * 2, usersMs + groupsMs)} |`,
];
console.log(table.join('\n'));
writeFileSync(
  path.join(here, `scim-results-${TARGET}-${server.dialect}.md`),
  `${table.join('\n')}\n`,
);
