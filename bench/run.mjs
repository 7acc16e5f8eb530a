/**
 * `npm run bench`: generates the data set, starts the server in a child process, measures the
 * index in-process, then HTTP with autocannon (single and batch checks), then casbin (RBAC with
 * domains) over the same data, and prints one table (also written to bench/results.md).
 */
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { newEnforcer, newModelFromString, StringAdapter } from 'casbin';
import SQLite from 'better-sqlite3';
import { generate, prng, SIZES } from './generate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOKEN = 'rst_bench_admin_token_0123456789';
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-'));
const file = path.join(work, 'roster.db');
const log = (text) => process.stderr.write(`${text}\n`);

log(`generating the data set in ${file} …`);
let t = performance.now();
const counts = await generate(file, TOKEN);
const generateMs = performance.now() - t;
log(`  ${JSON.stringify(counts)} in ${(generateMs / 1000).toFixed(1)} s`);

log('starting the server (index build, in-process measurements) …');
const child = fork(path.join(here, 'server.mjs'), [file, TOKEN, work], {
  execArgv: ['--expose-gc'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const fromChild = (type) =>
  new Promise((resolve) => child.on('message', (m) => m.type === type && resolve(m)));
const server = await fromChild('ready');
const url = `http://127.0.0.1:${server.port}`;
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const random = prng(99);
const bodyOf = (c) => ({
  subject: { member_id: c.memberId },
  project_id: c.projectId,
  resource: c.resource,
  privilege: c.privilege,
});
const singleBodies = server.sample.map((c) => JSON.stringify(bodyOf(c)));
const batchBodies = Array.from({ length: 20 }, () =>
  JSON.stringify({
    checks: Array.from({ length: 1000 }, () =>
      bodyOf(server.sample[Math.floor(random() * server.sample.length)]),
    ),
  }),
);

function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, method: 'POST', duration: DURATION, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

// The server's CPU time around each run: with the load generator (this process) on the same 2
// cores, it shows whether the server was the bottleneck (near 100% of a core) or was waiting.
const serverCpu = async () => {
  child.send('cpu');
  const { usage } = await fromChild('cpu');
  return (usage.user + usage.system) / 1e6;
};
const selfCpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
const cpuAtStart = [await serverCpu(), selfCpu(), performance.now()];
log(`autocannon: single checks, ${DURATION} s …`);
let n = 0;
const single = await cannon({
  connections: 16,
  requests: [
    {
      method: 'POST',
      path: '/api/access/check',
      setupRequest: (req) => ({ ...req, body: singleBodies[n++ % singleBodies.length] }),
    },
  ],
});
const cpuAfterSingle = [await serverCpu(), selfCpu(), performance.now()];
log(`autocannon: batches of 1,000 checks, ${DURATION} s …`);
let m = 0;
const batch = await cannon({
  connections: 4,
  requests: [
    {
      method: 'POST',
      path: '/api/access/check_batch',
      setupRequest: (req) => ({ ...req, body: batchBodies[m++ % batchBodies.length] }),
    },
  ],
});
const cpuAfterBatch = [await serverCpu(), selfCpu(), performance.now()];
const share = (from, to, i) =>
  `${(((to[i] - from[i]) / ((to[2] - from[2]) / 1000)) * 100).toFixed(0)}%`;
const loadAverage = loadavg()[0];
child.send('rss');
const afterLoad = await fromChild('rss');
child.send('stop');

// --- casbin over the same data (what is effective now: casbin has no notion of expiry) ------
// With the whole data set, casbin's domain matching (memberships hold in every project: domain
// "*") did not finish loading in 8 minutes, so casbin gets a 1/CASBIN_SCALE slice of the same data
// (the first users, groups and projects, and the grants and memberships among them). Its checks
// walk the same 50 roles' policies, so the slice flatters casbin, if anything.
const CASBIN_SCALE = Number(process.env.BENCH_CASBIN_SCALE ?? 50);
const slice = {
  users: SIZES.users / CASBIN_SCALE,
  groups: SIZES.groups / CASBIN_SCALE,
  projects: SIZES.projects / CASBIN_SCALE,
};
log(`casbin: loading 1/${CASBIN_SCALE} of the data as an RBAC-with-domains model …`);
const MODEL = `
[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub, r.dom) && r.obj == p.obj && r.act == p.act
`;
const db = new SQLite(file, { readonly: true });
const nowIso = new Date().toISOString();
const lines = [];
const catalogue = (await import('../packages/contracts/dist/index.js')).PROJECT_RESOURCES;
const roleConfigs = new Map();
for (const role of db.prepare('select id, config from project_roles').all()) {
  roleConfigs.set(role.id, JSON.parse(role.config));
  for (const [resource, entry] of Object.entries(JSON.parse(role.config))) {
    const list =
      entry.privileges === 'all' ? (catalogue[resource]?.privileges ?? ['all']) : entry.privileges;
    for (const privilege of list) lines.push(`p, role:${role.id}, *, ${resource}, ${privilege}`);
  }
}
// The slice folds the same rows onto fewer IDs (user u → u mod users/scale, and so on), which
// keeps the shape of the data: each user in ~3 groups, ~48 grants a group, ~150 grants a project.
const fold = (id, size) => ((id - 1) % size) + 1;
const groupNumber = (groupId) => Number(groupId.slice('ug-bench'.length));
const memberships = new Map();
for (const row of db
  .prepare(
    'select group_id, member_id from group_memberships where member_id <= ? and (expires_at is null or expires_at > ?)',
  )
  .iterate(slice.users, nowIso)) {
  const group = `ug-bench${fold(groupNumber(row.group_id), slice.groups)}`;
  lines.push(`g, user:${row.member_id}, group:${group}, *`);
  memberships.set(row.member_id, [...(memberships.get(row.member_id) ?? []), group]);
}
const grants = [];
for (const row of db
  .prepare(
    'select project_id, project_role_id, member_id, group_id from project_grants where (expires_at is null or expires_at > ?) order by rowid limit ?',
  )
  .iterate(nowIso, SIZES.grants / CASBIN_SCALE)) {
  const grant = {
    project_id: fold(row.project_id, slice.projects),
    project_role_id: row.project_role_id,
    member_id: row.member_id === null ? null : fold(row.member_id, slice.users),
    group_id:
      row.group_id === null ? null : `ug-bench${fold(groupNumber(row.group_id), slice.groups)}`,
  };
  const subject = grant.member_id !== null ? `user:${grant.member_id}` : `group:${grant.group_id}`;
  lines.push(`g, ${subject}, role:${grant.project_role_id}, project:${grant.project_id}`);
  grants.push(grant);
}
db.close();
t = performance.now();
const enforcer = await newEnforcer(newModelFromString(MODEL), new StringAdapter(lines.join('\n')));
await enforcer.addNamedDomainMatchingFunc(
  'g',
  (domain, pattern) => pattern === '*' || domain === pattern,
);
const casbinLoadMs = performance.now() - t;
const pickIn = (n) => 1 + Math.floor(random() * n);
const pairs = Object.entries(catalogue).flatMap(([resource, def]) =>
  def.privileges.map((privilege) => [resource, privilege]),
);
const casbinChecks = Array.from({ length: 20_000 }, () => {
  const [resource, privilege] = pairs[Math.floor(random() * pairs.length)];
  return { memberId: pickIn(slice.users), projectId: pickIn(slice.projects), resource, privilege };
});
// The same rules in plain code over the slice: casbin must agree with them.
const expectedInSlice = (c) =>
  grants.some((g) => {
    if (g.project_id !== c.projectId) return false;
    if (
      g.member_id !== null
        ? g.member_id !== c.memberId
        : !(memberships.get(c.memberId) ?? []).includes(g.group_id)
    )
      return false;
    const entry = roleConfigs.get(g.project_role_id)[c.resource];
    if (entry === undefined) return false;
    const list =
      entry.privileges === 'all'
        ? (catalogue[c.resource]?.privileges ?? ['all'])
        : entry.privileges;
    return list.includes(c.privilege);
  });
const AGREE_N = 500;
let agree = 0;
let casbinAllowed = 0;
for (let i = 0; i < AGREE_N; i++) {
  const c = casbinChecks[i];
  const answer = enforcer.enforceSync(
    `user:${c.memberId}`,
    `project:${c.projectId}`,
    c.resource,
    c.privilege,
  );
  if (answer) casbinAllowed++;
  if (answer === expectedInSlice(c)) agree++;
}
log('casbin: enforcing …');
let casbinDone = 0;
const casbinStart = performance.now();
while (performance.now() - casbinStart < DURATION * 1000 && casbinDone < casbinChecks.length) {
  const c = casbinChecks[casbinDone];
  enforcer.enforceSync(`user:${c.memberId}`, `project:${c.projectId}`, c.resource, c.privilege);
  casbinDone++;
}
const casbinPerSecond = casbinDone / ((performance.now() - casbinStart) / 1000);
const ratio = server.check.checksPerSecond / casbinPerSecond;

// --- the table ----------------------------------------------------------------------------
const us = (v) => `${v.toFixed(2)} µs`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const batchChecks = batch.requests.average * 1000;
const rows = [
  [
    'Data set',
    `${counts.members} users, ${counts.groups} groups, ${counts.memberships} memberships, ${counts.projects} projects, ${counts.project_roles} project roles, ${counts.project_grants} grants (${counts.group_grants} to groups)`,
    '',
    '',
  ],
  [
    'Index build',
    `${(server.buildMs / 1000).toFixed(2)} s`,
    '≤ 5 s',
    verdict(server.buildMs <= 5000),
  ],
  [
    'Server RSS right after build (one GC, before V8 returns freed pages)',
    `${server.rssAtOnceMb.toFixed(0)} MB`,
    '',
    '',
  ],
  [
    'Server RSS after build (GC, 2 s idle, GC)',
    `${server.rssMb.toFixed(0)} MB (heap ${server.heapMb.toFixed(0)} MB)`,
    '≤ 300 MB',
    verdict(server.rssMb <= 300),
  ],
  [
    "Server RSS at the end of the HTTP runs (no GC: the last requests' garbage included)",
    `${afterLoad.underLoadMb.toFixed(0)} MB`,
    '',
    '',
  ],
  [
    'Server RSS after the HTTP runs (GC, 2 s idle, GC)',
    `${afterLoad.rssMb.toFixed(0)} MB`,
    '≤ 300 MB',
    verdict(afterLoad.rssMb <= 300),
  ],
  [
    'In-process check p50 / p99 (median of 3 rounds of 100,000 random checks)',
    `${us(server.check.p50)} / ${us(server.check.p99)}`,
    'p99 ≤ 5 µs',
    verdict(server.check.p99 <= 5),
  ],
  [
    '  the 3 rounds, p50 / p99',
    server.check.rounds.map((r) => `${us(r.p50)} / ${us(r.p99)}`).join('; '),
    '',
    '',
  ],
  [
    '  timer overhead included above, p50 / p99',
    `${us(server.timerOverhead.p50)} / ${us(server.timerOverhead.p99)}`,
    '',
    '',
  ],
  [
    'In-process checks/s (tight loop, 1 core)',
    `${Math.round(server.check.checksPerSecond).toLocaleString('en')}`,
    '',
    '',
  ],
  [
    'Service check incl. scope + subject, p50 / p99',
    `${us(server.serviceCheck.p50)} / ${us(server.serviceCheck.p99)}`,
    '',
    '',
  ],
  [
    `List a user's projects p50 / p99 (mean ${server.list.meanProjects.toFixed(0)} projects)`,
    `${us(server.list.p50)} / ${us(server.list.p99)}`,
    'p99 ≤ 100 µs',
    verdict(server.list.p99 <= 100),
  ],
  [
    '  same, API-shaped page (labels, paths), p50 / p99',
    `${us(server.apiList.p50)} / ${us(server.apiList.p99)}`,
    '',
    '',
  ],
  [
    'HTTP single checks/s (16 connections)',
    `${Math.round(single.requests.average).toLocaleString('en')}`,
    '≥ 10,000',
    verdict(single.requests.average >= 10_000),
  ],
  [
    'HTTP single check latency p50 / p99',
    `${single.latency.p50} ms / ${single.latency.p99} ms`,
    'p99 ≤ 5 ms',
    verdict(single.latency.p99 <= 5),
  ],
  [
    'HTTP batch (1,000 checks) requests/s, p99',
    `${batch.requests.average.toFixed(0)} req/s, p99 ${batch.latency.p99} ms`,
    '',
    '',
  ],
  [
    'HTTP checks/s in batches',
    `${Math.round(batchChecks).toLocaleString('en')}`,
    '≥ 500,000',
    verdict(batchChecks >= 500_000),
  ],
  [
    '  CPU during the single run: server / load generator (of one core)',
    `${share(cpuAtStart, cpuAfterSingle, 0)} / ${share(cpuAtStart, cpuAfterSingle, 1)}`,
    '',
    '',
  ],
  [
    '  CPU during the batch run: server / load generator (of one core)',
    `${share(cpuAfterSingle, cpuAfterBatch, 0)} / ${share(cpuAfterSingle, cpuAfterBatch, 1)}`,
    '',
    '',
  ],
  [
    '  machine load average (1 min) after the HTTP runs',
    `${loadAverage.toFixed(2)} on ${cpus().length} cores`,
    '',
    '',
  ],
  [
    'HTTP errors / non-2xx',
    `${single.errors + batch.errors} / ${single.non2xx + batch.non2xx}`,
    '0',
    verdict(single.errors + batch.errors + single.non2xx + batch.non2xx === 0),
  ],
  [
    `casbin load (RBAC with domains, 1/${CASBIN_SCALE} slice: ${lines.length} policy lines)`,
    `${(casbinLoadMs / 1000).toFixed(1)} s`,
    '',
    '',
  ],
  [
    'casbin checks/s (enforceSync, 1 core)',
    `${Math.round(casbinPerSecond).toLocaleString('en')}`,
    '',
    '',
  ],
  [
    `casbin agrees with the same rules on the slice (${casbinAllowed} allowed)`,
    `${agree} / ${AGREE_N}`,
    `${AGREE_N} / ${AGREE_N}`,
    verdict(agree === AGREE_N),
  ],
  [
    'Index (full data) vs casbin (slice) in-process throughput',
    `${ratio.toFixed(0)}×`,
    '≥ 500×',
    verdict(ratio >= 500),
  ],
];
const table = [
  '| Measure | Result | Target | |',
  '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, Node ${process.version}`;
const report = `Command: \`npm run bench\` (BENCH_SECONDS=${DURATION})\nMachine: ${machine}\nGenerated in ${(generateMs / 1000).toFixed(1)} s; server ready (routes + index) in ${(server.readyMs / 1000).toFixed(2)} s.\n\n${table}\n`;
process.stdout.write(`\n${report}`);
writeFileSync(path.join(here, 'results.md'), report);
rmSync(work, { recursive: true, force: true });
process.exit(0);
