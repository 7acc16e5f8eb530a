/**
 * `npm run bench:statements`: the PostgreSQL statements each write kind (and each list) of the mixed load
 * (bench/mixed.mjs) sends, one request at a time on a fresh database, and what each is for. A
 * statement is a loopback round trip that costs the server's main thread a socket write and the
 * result's parsing, and wakes a PostgreSQL backend (docs/performance.md, "Fifth round").
 *
 * Counted where every query of the server's pool passes (pg.Client#query, as bench/mixed-server.mjs
 * does), BEGIN and COMMIT included; the webhook worker's background poll is left out (it runs on
 * a timer, not per request). Each kind runs twice and the second is counted (caches warm).
 * `--verbose` lists the statements. Needs ROSTER_BENCH_DATABASE_URL (a database it may create
 * databases from; a fresh one per run, dropped after).
 *
 * Then `--repeat` more rounds (default 60) measure what each kind costs PostgreSQL: the CPU time
 * of the backends serving the bench's database (/proc/<pid>/schedstat, when PostgreSQL runs on
 * this machine) per request, and the rows PostgreSQL
 * read from its buffers per request when pg_stat_statements is loaded. Both are the work done,
 * not the time it took, so they hold on a busy machine (docs/performance.md, "Sixth round").
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { buildApp } from '../packages/server/dist/app.js';
import { loadConfig } from '../packages/server/dist/config.js';
import { migrateToLatest, openStore } from '../packages/server/dist/storage/connect.js';

const { values: args } = parseArgs({
  options: {
    verbose: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '60' },
    store: { type: 'string', default: 'postgres' },
  },
});
/**
 * `--store sqlite`: the same requests on a SQLite file with its writer thread (the default),
 * counting the statements sent to that thread (BEGIN travels with the first, COMMIT is sent
 * after the write lock is let go: neither is counted) and of them those waited for in turn: on
 * SQLite the write lock is held through each of those waits. No costs (--repeat 0).
 */
const SQLITE = args.store === 'sqlite';
if (!SQLITE && args.store !== 'postgres') throw new Error('--store takes postgres or sqlite');
const REPEAT = SQLITE ? 0 : Number(args.repeat);
if (!Number.isSafeInteger(REPEAT) || REPEAT < 0) throw new Error('--repeat takes a round count');
const PG_URL = process.env.ROSTER_BENCH_DATABASE_URL;
if (!PG_URL && !SQLITE)
  throw new Error('bench:statements needs ROSTER_BENCH_DATABASE_URL (PostgreSQL)');
/**
 * Statements before the fifth round (5 December 2026, main at 9e5f771), before the sixth
 * (6 December 2026, main at f220623) and before the eighth (main at fd6dfa1), for the table's
 * "before" columns (— where not counted then).
 */
const BEFORE = {
  invite: [15, 11, 10],
  accept: [25, 18, 18],
  role_change: [12, 9, 9],
  group_add: [8, 7, 7],
  group_remove: [7, 6, 6],
  grant_add: [9, 8, 8],
  grant_remove: [7, 6, 6],
  scim_user: [12, 11, 9],
  scim_group_patch_add: [11, 8, 7],
  scim_group_patch_remove: [11, 8, 6],
  list_members: ['—', '—', 7],
  list_grants: ['—', '—', 3],
  list_audit: ['—', '—', 3],
  list_projects: ['—', '—', 0],
};

const name = `roster_bench_statements_${process.pid}`;
const admin = SQLITE ? null : new pg.Client({ connectionString: PG_URL });
await admin?.connect();
await admin?.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-statements-'));
const url = SQLITE ? new URL(`file://${path.join(work, 'roster.sqlite')}`) : new URL(PG_URL);
if (!SQLITE) url.pathname = `/${name}`;

let log = null;
/**
 * Waits: statements sent after the answer to an earlier one, as opposed to together with the
 * ones before (storage/pipeline.ts sends a write and its audit event at once). With the driver on
 * a worker thread (the default) each wait is a round trip between the threads and to PostgreSQL;
 * here, on the main thread, pg still sends them one by one, but the count is the same.
 */
let waits = 0;
let answeredSinceSent = true;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  const text = String(typeof args[0] === 'string' ? args[0] : args[0]?.text);
  const counting = log !== null && this !== admin && !/lease_until/.test(text);
  if (counting) {
    log.push(text.replace(/\s+/g, ' ').trim());
    if (answeredSinceSent) waits += 1;
    answeredSinceSent = false;
  }
  const answered = () => {
    answeredSinceSent = true;
  };
  // The server's client (storage/postgres-pool.ts) passes a pg.Query carrying its callback.
  const sent = args[0];
  if (counting && typeof sent?.callback === 'function') {
    const callback = sent.callback;
    sent.callback = (...reply) => {
      answered();
      return callback(...reply);
    };
  }
  const result = query.apply(this, args);
  if (counting && typeof result?.then === 'function') result.then(answered, answered);
  return result;
};

// SQLite: what the main thread sends its writer thread, and the thread's answers.
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function countedPost(message, ...rest) {
  if (log !== null && typeof message?.sql === 'string' && !/lease_until/.test(message.sql)) {
    log.push(message.sql.replace(/\s+/g, ' ').trim());
    if (answeredSinceSent) waits += 1;
    answeredSinceSent = false;
  }
  return post.call(this, message, ...rest);
};
const emit = Worker.prototype.emit;
Worker.prototype.emit = function countedEmit(event, ...rest) {
  if (event === 'message') answeredSinceSent = true;
  return emit.call(this, event, ...rest);
};

/**
 * CPU time (ms) of each backend serving the bench's database, by process ID, or null when
 * PostgreSQL is not on this machine: /proc/<pid>/schedstat's time on a CPU, in nanoseconds.
 */
async function backendsCpuMs() {
  const { rows } = await admin.query('select pid from pg_stat_activity where datname = $1', [name]);
  const cpu = new Map();
  for (const { pid } of rows) {
    try {
      cpu.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
    } catch (error) {
      if (error.code !== 'ENOENT' || !existsSync('/proc/self/schedstat')) return null;
      // The backend just ended.
    }
  }
  return cpu;
}
/** The CPU time the backends used between two readings (a backend that started counts whole). */
function cpuBetween(before, after) {
  if (before === null || after === null) return null;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
/** Buffer hits so far of this database's statements, when pg_stat_statements is loaded. */
let statementsView = true;
async function bufferHits() {
  if (!statementsView) return null;
  try {
    const { rows } = await admin.query(
      `select coalesce(sum(s.shared_blks_hit + s.shared_blks_read), 0)::float8 as n
       from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = $1`,
      [name],
    );
    return rows[0].n;
  } catch {
    statementsView = false;
    return null;
  }
}

const TOKEN = 'rst_bench_admin_token_0123456789';
const config = loadConfig({
  PORT: '0',
  ROSTER_DATA_DIR: work,
  ROSTER_DATABASE_URL: SQLITE ? url.pathname : url.toString(),
  ROSTER_ADMIN_TOKEN: TOKEN,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_PUBLIC_URL: 'http://127.0.0.1',
  // No poll: its reads are time-based, not a request's.
  ROSTER_CHANGE_POLL_MS: '0',
});
// The driver on the main thread: the count is taken at pg.Client#query in this process (on the
// driver thread, the default, the same statements are sent from a worker this hook cannot see).
const store = openStore({
  url: config.databaseUrl,
  postgresDriver: 'main',
  sqliteWriter: 'thread',
});
await migrateToLatest(store);
const { app, services } = await buildApp({ store, config, logger: false });
await services.workspaces.ensureDefaultWorkspace(config.adminToken);
await app.listen({ port: 0, host: '127.0.0.1' });
const origin = `http://127.0.0.1:${app.server.address().port}`;

async function call(method, route, body, token = TOKEN) {
  const response = await fetch(origin + route, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined
        ? {}
        : {
            'content-type': route.startsWith('/scim/')
              ? 'application/scim+json'
              : 'application/json',
          }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${route} → ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}
// Lets the notifications of earlier writes arrive before and after counting.
const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
const counted = new Map();
/** Per kind over the --repeat rounds: requests, statements, backends' CPU ms, buffer hits. */
const costs = new Map();
let mode = 'count';
async function measure(kind, run, record) {
  if (mode === 'cost') {
    const cpu0 = await backendsCpuMs();
    const hits0 = await bufferHits();
    log = [];
    const result = await run();
    // The write's own notification and the index's reload finish after the answer.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const statements = log.length;
    log = null;
    const cpu1 = await backendsCpuMs();
    const hits1 = await bufferHits();
    const cost = costs.get(kind) ?? { requests: 0, statements: 0, cpuMs: 0, hits: 0 };
    cost.requests += 1;
    cost.statements += statements;
    const cpuMs = cpuBetween(cpu0, cpu1);
    cost.cpuMs = cpuMs === null || cost.cpuMs === null ? null : cost.cpuMs + cpuMs;
    cost.hits = hits0 === null || hits1 === null ? null : cost.hits + hits1 - hits0;
    costs.set(kind, cost);
    return result;
  }
  await settle();
  log = [];
  waits = 0;
  answeredSinceSent = true;
  const result = await run();
  await settle();
  if (record) counted.set(kind, { log, waits });
  log = null;
  return result;
}
const outbox = () =>
  readFileSync(path.join(work, 'outbox.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

const role = (
  await call('POST', '/api/project_roles', {
    project_role: { name: 'Runner', config: { recipe: { privileges: ['run'] } } },
  })
).data.id;
const project = (await call('POST', '/api/projects', { name: 'P', environment_type: 'dev' })).data
  .id;
const group = (await call('POST', '/api/user_groups', { user_group: { name: 'Team' } })).data.id;
const connection = (
  await call('POST', '/api/scim_connections', { environment_type: 'prod', target: 'end_users' })
).data;
const scim = (method, route, body) =>
  call(method, `/scim/v2/${connection.id}${route}`, body, connection.token);
const scimGroup = (
  await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'SCIM group',
    members: [],
  })
).id;

for (let round = 0; round < 2 + REPEAT; round++) {
  const record = round === 1;
  if (round === 2) mode = 'cost';
  const m = (kind, run) => measure(kind, run, record);
  const email = `person${round}@statements.example`;
  await m('invite', () =>
    call('POST', '/api/member_invitations', {
      name: 'Person',
      email,
      env_roles: [
        { environment_type: 'dev', name: 'No access' },
        { environment_type: 'prod', name: 'No access' },
      ],
    }),
  );
  const mail = outbox()
    .filter((item) => item.to === email)
    .at(-1);
  const token = /\/invitations\/([A-Za-z0-9_-]+)/.exec(mail.text)[1];
  const member = (
    await m('accept', () => call('POST', `/invitations/${token}/accept`, { name: 'Person' }))
  ).data.id;
  await m('role_change', () =>
    call('PUT', `/api/members/${member}`, {
      env_roles: [
        { environment_type: 'dev', name: 'Analyst' },
        { environment_type: 'prod', name: 'No access' },
      ],
    }),
  );
  await m('group_add', () =>
    call('POST', `/api/user_groups/${group}/members`, { user_ids: [member] }),
  );
  await m('group_remove', () =>
    call('DELETE', `/api/user_groups/${group}/members?user_ids[]=${member}`),
  );
  await m('grant_add', () =>
    call('PUT', `/api/projects/${project}/project_grants`, {
      project_grants: [{ assignment_type: 'User', assignment_id: member, project_role_id: role }],
    }),
  );
  const grants = await call('GET', `/api/projects/${project}/project_grants?page[size]=100`);
  await m('grant_remove', () => call('DELETE', `/api/project_grants/${grants.data[0].id}`));
  const userName = `end${round}@statements.example`;
  const user = await m('scim_user', () =>
    scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName,
      name: { givenName: 'Given', familyName: 'Family' },
      emails: [{ primary: true, value: userName, type: 'work' }],
      externalId: `ext${round}`,
      active: true,
    }),
  );
  await m('scim_group_patch_add', () =>
    scim('PATCH', `/Groups/${scimGroup}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }],
    }),
  );
  await m('scim_group_patch_remove', () =>
    scim('PATCH', `/Groups/${scimGroup}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: `members[value eq "${user.id}"]` }],
    }),
  );
  // The reads of the mixed load, as bench/mixed.mjs sends them.
  await m('list_members', () => call('GET', '/api/members?page[size]=50&page[number]=1'));
  await m('list_grants', () =>
    call('GET', `/api/projects/${project}/project_grants?page[size]=100`),
  );
  await m('list_audit', () => call('GET', '/api/audit_events?page[size]=50'));
  await m('list_projects', () => call('GET', `/api/access/projects?member_id=${member}`));
}

await app.close();
await store.close();
await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
await admin?.end();
rmSync(work, { recursive: true, force: true });

console.log(
  `${SQLITE ? 'SQLite statements sent to the writer thread' : 'PostgreSQL statements'} per write request (load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')})\n`,
);
console.log(
  '| kind | before the 5th round | before the 6th | before the 8th | now | of which waited for in turn |',
);
console.log('|---|---|---|---|---|---|');
for (const [kind, { log: statements, waits: waited }] of counted)
  console.log(
    `| ${kind} | ${(SQLITE ? undefined : BEFORE[kind]?.join(' | ')) ?? '— | — | —'} | ${statements.length} | ${waited} |`,
  );
if (REPEAT > 0) {
  console.log(
    `\nWhat each request costs PostgreSQL, over ${REPEAT} more rounds (backends' CPU from /proc/<pid>/schedstat; buffer hits from pg_stat_statements when loaded)\n`,
  );
  console.log('| kind | statements | backends’ CPU ms per request | buffer hits per request |');
  console.log('|---|---|---|---|');
  let all = { requests: 0, statements: 0, cpuMs: 0, hits: 0 };
  for (const [kind, cost] of costs) {
    const per = (n) => (n === null ? '—' : (n / cost.requests).toFixed(3));
    console.log(`| ${kind} | ${per(cost.statements)} | ${per(cost.cpuMs)} | ${per(cost.hits)} |`);
    all = {
      requests: all.requests + cost.requests,
      statements: all.statements + cost.statements,
      cpuMs: all.cpuMs === null || cost.cpuMs === null ? null : all.cpuMs + cost.cpuMs,
      hits: all.hits === null || cost.hits === null ? null : all.hits + cost.hits,
    };
  }
  const per = (n) => (n === null ? '—' : (n / all.requests).toFixed(3));
  console.log(
    `| **every kind, one request each** | ${per(all.statements)} | ${per(all.cpuMs)} | ${per(all.hits)} |`,
  );
}
if (args.verbose)
  for (const [kind, { log: statements }] of counted) {
    console.log(`\n${kind}: ${statements.length}`);
    for (const text of statements) console.log(`  ${text.slice(0, 160)}`);
  }
