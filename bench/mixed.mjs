/**
 * `npm run bench:mixed`: the mixed workload of a platform that embeds Roster, on a fresh database,
 * over HTTP on 127.0.0.1. CLIENTS clients in closed loops (no think time) each pick a request kind
 * by weight: access checks, lists (collaborators, audit events, a user's projects), invitations
 * (create, then accept from the outbox), role changes, group membership (add, remove), grants
 * (add, remove), SCIM end users and groups (create a user, PATCH a group's members).
 *
 * First the mixed phase for --duration seconds in closed loops (capacity), then --paced seconds of
 * the mixed load paced at --rate requests/s (default: 60% of the capacity just measured, so the
 * latency is the server's and not a queue), then checks only at the same rate (no writes). Prints
 * per-kind throughput and p50/p99, check p99 under writes next to check p99 with no writes, and
 * the throughput and the server's CPU per request per interval (per minute from 5 minutes on) so
 * a drift as the data grows is visible, and the server's CPU time per request and how long its event loop was held
 * (bench/mixed-server.mjs: the server, in its own process), with the issue's targets beside them.
 * Each phase also gives the whole machine's CPU (/proc/stat: how busy, the share the hypervisor
 * stole, the CPU per request of the server, PostgreSQL, this generator and the rest) and, on a
 * SQLite file, how much of the phase the write lock was held (/metrics' roster_sqlite_write_lock_*).
 *
 * Stores: SQLite (a fresh file) always; PostgreSQL too when ROSTER_BENCH_DATABASE_URL names a
 * database the bench may create databases from (a fresh one per run, dropped after).
 * `--store sqlite|postgres` runs one only. SQLite runs twice, its writes on the writer thread and
 * on the main thread (ROSTER_SQLITE_WRITER); `--sqlite-writer thread|main` runs one. PostgreSQL runs
 * with its driver on a worker thread (ROSTER_POSTGRES_DRIVER); `--postgres-driver main|both`. `--duration 600` for the 10-minute soak,
 * `--clients 20`; BENCH_KEEP_DATABASE=1 keeps the PostgreSQL database; `--grow N` adds N collaborators, grants, SCIM end users (~N/4 in each SCIM group) and audit events in bulk
 * before the timed phases (what a long soak grows, in seconds; `--grow 0,25000,100000` runs each
 * size in turn and prints each kind's cost side by side: `npm run bench:mixed:grown`); `--kinds 5` first runs each request
 * kind alone for 5 s and prints its p50, the server's CPU per request and how long that kind held the event loop (p99 / max: its longest turns) (`--only a,b`: those kinds only); `--pacing clients` for the earlier paced generator (one request at a time per client). BENCH_PROF=1 writes a CPU profile of the server to /tmp/perf (BENCH_PROF_DIR).
 *
 * What a soak grows (`npm run bench:mixed:soak`): `--kinds-after 3` runs each kind alone again
 * after the paced phases (its CPU per request beside the one before the soak); the per-interval
 * lines split the CPU per request into the main thread's and the rest (the SQLite writer's or
 * PostgreSQL driver's thread) and give the main thread's old space; `--profile-windows 30` takes
 * CPU profiles of the main thread early and late in the closed phase (bench/profile-diff.mjs);
 * `--profile-paced` one of the paced mixed phase (bench/profile-stretches.mjs: what the main thread
 * ran while checks waited); BENCH_KEEP_DATABASE=1 keeps the database, SQLite's file too (query plans on grown data).
 */
import { fork } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { LeanHttpClient } from './lib/lean-http.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The machine's CPU time so far (/proc/stat, all cores, in ms), busy and stolen apart: the server,
 * PostgreSQL, this load generator and everything else share the 2 cores, and a VM's `steal` is the
 * time the hypervisor gave the cores to someone else. Null where /proc/stat is missing.
 */
function machineCpu() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .map(Number);
    const tick = 1000 / 100; // USER_HZ is 100 on Linux
    return {
      busyMs: (user + nice + system + irq + softirq) * tick,
      idleMs: (idle + iowait) * tick,
      stealMs: steal * tick,
    };
  } catch {
    return null;
  }
}
function machineUse(before, after, requests) {
  if (before === null || after === null) return null;
  const busy = after.busyMs - before.busyMs;
  const idle = after.idleMs - before.idleMs;
  const steal = after.stealMs - before.stealMs;
  const total = busy + idle + steal;
  return {
    busyMsPerRequest: busy / requests,
    busyShare: busy / total,
    stealShare: steal / total,
  };
}
/** SQLite's write lock over a phase: its busy share, and per write the time held and waited. */
function lockUse(before, after, elapsedS) {
  const writes = after.acquisitions - before.acquisitions;
  const held = after.heldSeconds - before.heldSeconds;
  const waited = after.waitSeconds - before.waitSeconds;
  return {
    writes,
    heldShare: held / elapsedS,
    heldMsPerWrite: writes === 0 ? 0 : (held * 1000) / writes,
    waitedMsPerWrite: writes === 0 ? 0 : (waited * 1000) / writes,
  };
}
function lockRow(r) {
  if (r.writeLock === null) return [];
  const w = r.writeLock;
  return [
    `- SQLite write lock (/metrics): held ${(w.heldShare * 100).toFixed(0)}% of the phase; ${w.writes} writes, each holding it ${w.heldMsPerWrite.toFixed(2)} ms and waiting for it ${w.waitedMsPerWrite.toFixed(2)} ms`,
  ];
}
/** The machine's CPU per request and what took it: the server, PostgreSQL, this generator, the rest. */
function machineRow(r) {
  if (r.machine === null) return '- machine CPU: /proc/stat not readable';
  const server = r.cpuMsPerRequest;
  const database = r.databaseCpuMsPerRequest ?? 0;
  const generator = r.generatorCpuMsPerRequest;
  const rest = r.machine.busyMsPerRequest - server - database - generator;
  return `- machine (${cpus().length} cores, all processes): ${(r.machine.busyShare * 100).toFixed(0)}% busy, ${(r.machine.stealShare * 100).toFixed(1)}% stolen by the hypervisor; CPU per request ${r.machine.busyMsPerRequest.toFixed(3)} ms = server ${server.toFixed(3)}${r.databaseCpuMsPerRequest === null ? '' : ` + PostgreSQL backends ${database.toFixed(3)}`} + load generator ${generator.toFixed(3)} + other ${rest.toFixed(3)}`;
}
const TOKEN = 'rst_bench_admin_token_0123456789';
/** call()'s option for the requests whose answer the load does not read. */
const NO_PARSE = { parse: false };
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    paced: { type: 'string', default: '20' },
    rate: { type: 'string' },
    clients: { type: 'string', default: '20' },
    store: { type: 'string' },
    'sqlite-writer': { type: 'string', default: 'both' },
    'postgres-driver': { type: 'string', default: 'thread' },
    pacing: { type: 'string', default: 'open' },
    grow: { type: 'string', default: '0' },
    kinds: { type: 'string', default: '0' },
    'kinds-after': { type: 'string', default: '0' },
    'profile-windows': { type: 'string', default: '0' },
    'profile-paced': { type: 'boolean', default: false },
    only: { type: 'string' },
    client: { type: 'string', default: 'lean' },
  },
});
const DURATION_S = Number(args.duration);
const PACED_S = Number(args.paced);
/** The paced phases' offered rate: --rate, or this share of the capacity just measured. */
const RATE = args.rate === undefined ? undefined : Number(args.rate);
const RATE_SHARE = 0.6;
const WRITERS = args['sqlite-writer'] === 'both' ? ['thread', 'main'] : [args['sqlite-writer']];
if (!WRITERS.every((w) => w === 'thread' || w === 'main'))
  throw new Error('--sqlite-writer takes thread, main or both');
const DRIVERS = args['postgres-driver'] === 'both' ? ['thread', 'main'] : [args['postgres-driver']];
if (!DRIVERS.every((d) => d === 'thread' || d === 'main'))
  throw new Error('--postgres-driver takes thread, main or both');
const CLIENTS = Number(args.clients);
/** Rows added to each growing table (bulk SQL) before the timed phases: `--grow 100000`. */
const GROWS = args.grow.split(',').map(Number);
/** Seconds of each request kind alone (closed loops) before the mixed phase: `--kinds 5`. */
const KINDS_S = Number(args.kinds);
/**
 * Seconds of each kind alone again after the paced phases (`--kinds-after 5`): with --kinds, each
 * kind's CPU per request at the start and at the end of a soak side by side, on the data the soak
 * itself grew (what --grow may not seed).
 */
const KINDS_AFTER_S = Number(args['kinds-after']);
/** `--only scim_group_patch,check`: the kinds --kinds runs alone (default: every kind). */
const ONLY = args.only?.split(',');
if (!GROWS.every((n) => Number.isSafeInteger(n) && n >= 0))
  throw new Error('--grow takes a row count, or several separated by commas (a run for each)');
/**
 * `--profile-windows 30`: CPU profiles of the server's main thread for 30 s from the first minute
 * of the closed mixed phase on and for its last 30 s (BENCH_PROF_DIR, default /tmp/perf:
 * <store>-early.cpuprofile, <store>-late.cpuprofile); `node bench/profile-diff.mjs EARLY LATE`
 * prints which functions' self time per request grew.
 */
const PROFILE_S = Number(args['profile-windows']);
/**
 * `--profile-paced`: a CPU profile of the server's main thread over the paced mixed phase
 * (BENCH_PROF_DIR, default /tmp/perf: <store>[-grownN]-paced.cpuprofile);
 * `node bench/profile-stretches.mjs FILE` prints what ran in its long busy stretches, the time a
 * check arriving then waited through.
 */
const PROFILE_PACED = args['profile-paced'];
/**
 * How the paced phases send. `open` (default): request i leaves at i ÷ rate whatever the others
 * are doing, as independent callers would (a check never waits for an earlier write to be
 * answered). `clients`: the earlier generator, CLIENTS clients each on its own fixed schedule and
 * sending one request at a time, so a check scheduled after its client's slow write left late and
 * counted that write's time as its own (docs/performance.md, fourth round).
 */
const PACING = args.pacing;
/**
 * The generator's HTTP client. `lean` (default): bench/lib/lean-http.mjs, a fifth of node:http's
 * CPU a request, so that the generator takes less of the two cores the server is measured on.
 * `node`: node:http with a keep-alive Agent, as the rounds before the seventeenth measured.
 */
const CLIENT = args.client;
if (CLIENT !== 'lean' && CLIENT !== 'node') throw new Error('--client takes lean or node');
if (PACING !== 'open' && PACING !== 'clients') throw new Error('--pacing takes open or clients');
const PG_URL = process.env.ROSTER_BENCH_DATABASE_URL;
const stores = args.store ? [args.store] : PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
if (stores.includes('postgres') && !PG_URL)
  throw new Error('--store postgres needs ROSTER_BENCH_DATABASE_URL');
const log = (text) => process.stderr.write(`${text}\n`);

/** Share of each kind in the mixed phase (per 100 requests). */
const WEIGHTS = {
  check: 50,
  list_members: 5,
  list_audit: 3,
  list_projects: 4,
  invite: 4, // POST /api/member_invitations, then accept: two requests, counted apart
  role_change: 6,
  group_add: 6,
  group_remove: 4,
  grant_add: 6,
  grant_remove: 4,
  scim_user: 4,
  scim_group_patch: 4,
};
for (const kind of ONLY ?? [])
  if (!(kind in WEIGHTS))
    throw new Error(`--only: no request kind ${kind} (${Object.keys(WEIGHTS).join(', ')})`);

function percentile(sorted, q) {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * --grow N: N more collaborators, N project grants (to those collaborators, spread over the
 * bench's projects and roles), N SCIM end users of the bench's connection and N audit events, in
 * the bench's workspace, written in bulk SQL on the database itself (the server stopped): what a
 * long soak grows, in seconds. The same statements on both stores (a recursive CTE of numbers).
 * Each SCIM group the load patches gets ~N/4 of the grown end users as members (a quarter each,
 * overlapping), so scim_group_patch runs on groups that grew too. And the soak's shape: the grown
 * collaborators came through accepted invitations, hold roles, are in the bench's groups, which
 * hold grants on every project; N more audit events name them; and the load then picks among
 * them as among the invited ones (returns their IDs).
 */
async function growData(
  dialect,
  databaseUrl,
  n,
  { member, projects, roles, groups, connection, scimGroups },
) {
  // One second apart from 2025-01-01 on, as rows written over time are (a page is then ordered
  // by its index, not by ties), in the ISO format the server writes.
  const at = (i) =>
    dialect === 'sqlite'
      ? `strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', '+' || ${i} || ' seconds')`
      : `to_char(timestamp '2025-01-01' + ${i} * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const numbers = `n(i) as (select 1 union all select i + 1 from n where i < ${n})`;
  const list = (name, values) =>
    `${name}(k, id) as (values ${values.map((v, k) => `(${k}, ${typeof v === 'number' ? v : `'${v}'`})`).join(', ')})`;
  const statements = (w, prod) => [
    `with recursive ${numbers} insert into members (workspace_id, name, email, email_key, time_zone, grant_type, created_at, updated_at)
       select ${w}, 'Grown ' || i, 'grown' || i || '@grow.example', 'grown' || i || '@grow.example', 'UTC', 'team', ${at('i')}, ${at('i')} from n`,
    `with ${list('p', projects)}, ${list('r', roles)}
     insert into project_grants (id, workspace_id, project_id, project_role_id, member_id, created_at, updated_at)
       select 'pg-grown-' || m.id, ${w}, p.id, r.id, m.id, ${at('m.id')}, ${at('m.id')}
       from members m join p on p.k = m.id % ${projects.length} join r on r.k = m.id % ${roles.length}
       where m.workspace_id = ${w} and m.email_key like 'grown%@grow.example'`,
    `with recursive ${numbers} insert into audit_events (workspace_id, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, created_at)
       select ${w}, 'api_client', '1', 'Bench', 'member.roles_updated', 'member', cast(i as text), 'Grown ' || i, ${at('i')} from n`,
    `with recursive ${numbers} insert into end_users (workspace_id, name, email, email_key, status, mfa_enabled, source, created_at, updated_at)
       select ${w}, 'Grown end user ' || i, 'grown' || i || '@end.grow.example', 'grown' || i || '@end.grow.example', 'active', 0, 'scim', ${at('i')}, ${at('i')} from n`,
    `insert into end_user_environments (workspace_id, end_user_id, environment_id, created_at)
       select ${w}, id, ${prod}, created_at from end_users where workspace_id = ${w} and email_key like 'grown%@end.grow.example'`,
    `insert into scim_users (workspace_id, connection_id, end_user_id, user_name, user_name_key, external_id, display_name, given_name, family_name, emails_text, active, resource, version, created_at, updated_at)
       select ${w}, '${connection.id}', id, email, email_key, 'grown-ext-' || id, name, 'Grown', 'End user ' || id, '\n' || email_key || '\n', 1,
         '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' || email || '","active":true}', 1, created_at, created_at
       from end_users where workspace_id = ${w} and email_key like 'grown%@end.grow.example'`,
    `with ${list('g', scimGroups.map(Number))}
     insert into end_user_group_members (workspace_id, group_id, end_user_id, created_at, source)
       select ${w}, g.id, e.id, e.created_at, 'external' from end_users e join g on (e.id + g.k) % 4 = 0
       where e.workspace_id = ${w} and e.email_key like 'grown%@end.grow.example'`,
    // What a soak grows besides (the soak's shape, not only its row counts): each grown
    // collaborator came through an accepted invitation, holds the roles an invitation gives (the
    // bench's first member's), and is in one of the bench's groups (two for every third); each
    // group holds grants on every project (a soak's group grants saturate); audit events name
    // real members as targets with the load's actions.
    `insert into member_invitations (workspace_id, name, email, email_key, token_hash, env_roles, status, invited_by, created_at, expires_at, accepted_at, member_id)
       select ${w}, name, email, email_key, 'grown-' || id, '[]', 'accepted', 'api_client:1', created_at, created_at, created_at, id
       from members where workspace_id = ${w} and email_key like 'grown%@grow.example'`,
    `insert into member_environment_roles (workspace_id, member_id, environment_id, role_type, legacy_role_id, environment_role_id)
       select ${w}, m.id, r.environment_id, r.role_type, r.legacy_role_id, r.environment_role_id
       from members m cross join member_environment_roles r
       where m.workspace_id = ${w} and m.email_key like 'grown%@grow.example' and r.member_id = ${member}`,
    `with ${list('g', groups)}
     insert into group_memberships (workspace_id, group_id, member_id, created_at)
       select ${w}, g.id, m.id, m.created_at from members m join g on g.k = m.id % ${groups.length}
         or (m.id % 3 = 0 and g.k = (m.id / 3) % ${groups.length} and g.k <> m.id % ${groups.length})
       where m.workspace_id = ${w} and m.email_key like 'grown%@grow.example'`,
    `with ${list('g', groups)}, ${list('p', projects)}, ${list('r', roles)}
     insert into project_grants (id, workspace_id, project_id, project_role_id, group_id, created_at, updated_at)
       select 'pg-grown-g' || g.k || '-' || p.k, ${w}, p.id, r.id, g.id, ${at('p.k')}, ${at('p.k')}
       from g cross join p join r on r.k = (g.k + p.k) % ${roles.length}
       where not exists (select 1 from project_grants x where x.project_id = p.id and x.project_role_id = r.id and x.group_id = g.id)`,
    `insert into audit_events (workspace_id, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, created_at)
       select ${w}, 'api_client', '1', 'Bench', case m.id % 3 when 0 then 'member.roles_updated' when 1 then 'user_group.members_added' else 'project_grants.upserted' end,
         'member', cast(m.id as text), m.name, m.created_at
       from members m where m.workspace_id = ${w} and m.email_key like 'grown%@grow.example'`,
  ];
  const workspaceSql = `select workspace_id as w from members where id = ${member}`;
  const prodSql = (w) => `select id from environments where workspace_id = ${w} and type = 'prod'`;
  const grownSql = (w) =>
    `select id from members where workspace_id = ${w} and email_key like 'grown%@grow.example' order by id`;
  if (dialect === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(databaseUrl);
    const w = db.prepare(workspaceSql).get().w;
    const prod = db.prepare(prodSql(w)).get().id;
    db.transaction(() => {
      for (const statement of statements(w, prod)) db.prepare(statement).run();
    })();
    const grown = db.prepare(grownSql(w)).all();
    db.close();
    return grown.map((row) => row.id);
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const w = (await client.query(workspaceSql)).rows[0].w;
  const prod = (await client.query(prodSql(w))).rows[0].id;
  await client.query('begin');
  for (const statement of statements(w, prod)) await client.query(statement);
  await client.query('commit');
  // PostgreSQL plans by its statistics: take them now, as autovacuum would after such a load.
  await client.query('analyze');
  const grown = (await client.query(grownSql(w))).rows;
  await client.end();
  return grown.map((row) => Number(row.id));
}

async function runStore(dialect, writer, grow) {
  const work = mkdtempSync(path.join(tmpdir(), 'roster-bench-mixed-'));
  let databaseUrl = path.join(work, 'roster.db');
  let dropDatabase = async () => undefined;
  /** CPU time (ms) of each PostgreSQL backend serving the bench's database, by process ID. */
  let databaseCpu = async () => new Map();
  if (dialect === 'postgres') {
    const name = `roster_bench_mixed_${process.pid}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
    await admin.end();
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    // PostgreSQL's share of the work: its backends are processes on this machine (when the
    // server is local; otherwise no figure), their CPU time in /proc (clock ticks, 100 a second).
    const watcher = new pg.Client({ connectionString: PG_URL });
    await watcher.connect();
    databaseCpu = async () => {
      const { rows } = await watcher.query(
        'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [name],
      );
      const cpu = new Map();
      for (const { pid } of rows) {
        try {
          const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
          cpu.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
        } catch {
          // Not on this machine, or the backend just ended.
        }
      }
      return cpu;
    };
    dropDatabase = async () => {
      await watcher.end();
      // BENCH_KEEP_DATABASE=1: left for inspection (query plans on the grown data), named here.
      if (process.env.BENCH_KEEP_DATABASE) return log(`  kept database ${name}`);
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
  }
  let child;
  let origin;
  let agent;
  /** Starts the server on the database (again after --grow: its index then loads the grown data). */
  async function startServer() {
    child = fork(path.join(here, 'mixed-server.mjs'), [databaseUrl, TOKEN, work, writer], {
      execArgv: [
        ...(process.env.BENCH_PROF
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR ?? '/tmp/perf'}`]
          : []),
        // Node flags for the server only (e.g. BENCH_NODE_ARGS='--trace-gc').
        ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const started = child;
    const server = await new Promise((resolve, reject) => {
      started.on('message', (m) => m.type === 'ready' && resolve(m));
      started.on('exit', (code) => code !== 0 && reject(new Error(`server exited ${code}`)));
    });
    origin = `http://127.0.0.1:${server.port}`;
    // No cap on sockets: in the closed loops at most CLIENTS requests are out anyway, and in the
    // open-loop paced phases a capped pool would queue a check behind other callers' writes in this
    // process, which a server's independent callers never do.
    agent =
      CLIENT === 'lean'
        ? new LeanHttpClient(origin)
        : new http.Agent({ keepAlive: true, maxSockets: Infinity });
  }
  async function stopServer() {
    const stopping = child;
    const exited = new Promise((resolve) => stopping.on('exit', resolve));
    stopping.send('stop');
    await exited;
    agent.destroy();
  }
  await startServer();
  /** The server's CPU time so far and its event-loop delay since the last call. */
  const serverStats = () =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== 'stats') return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send('stats');
    });
  /**
   * The server's CPU time so far (ms: `cpuMs` all its threads, `mainCpuMs` its main thread) and
   * its main thread's old space in use, for the per-interval figures.
   */
  const serverCpu = () =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== 'cpu') return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
      child.send('cpu');
    });

  /**
   * Sends a request and answers its parsed JSON body; `{ parse: false }` answers nothing (a body
   * the load does not read is not decoded: list pages of 50 members or events cost this process
   * more to parse than the server to send, and this process shares the cores with the server).
   */
  function call(method, url, body, token = TOKEN, { parse = true } = {}) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (CLIENT === 'lean') {
      const headers = { authorization: `Bearer ${token}` };
      if (payload !== undefined)
        headers['content-type'] = url.startsWith('/scim/')
          ? 'application/scim+json'
          : 'application/json';
      return agent.request(method, url, headers, payload).then(({ status, body: answer }) => {
        if (status >= 400)
          throw new Error(`${method} ${url} → ${status} ${answer.toString('utf8').slice(0, 300)}`);
        if (!parse || answer.length === 0) return undefined;
        return JSON.parse(answer.toString('utf8'));
      });
    }
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
            else resolve(!parse || text === '' ? undefined : JSON.parse(text));
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  // Invitation tokens, read from the outbox file as it grows (only the new bytes each time).
  const outboxPath = path.join(work, 'outbox.jsonl');
  const tokens = new Map();
  let outboxFd = null;
  let outboxRest = '';
  function readOutbox() {
    if (outboxFd === null) {
      try {
        outboxFd = openSync(outboxPath, 'r');
      } catch {
        return;
      }
    }
    const buffer = Buffer.alloc(1 << 16);
    for (;;) {
      const n = readSync(outboxFd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      outboxRest += buffer.toString('utf8', 0, n);
    }
    const lines = outboxRest.split('\n');
    outboxRest = lines.pop();
    for (const line of lines) {
      if (line === '') continue;
      const mail = JSON.parse(line);
      const match = /\/invitations\/([A-Za-z0-9_-]+)/.exec(mail.text);
      if (match) tokens.set(mail.to, match[1]);
    }
  }
  async function tokenFor(email) {
    for (let i = 0; i < 100; i++) {
      readOutbox();
      const token = tokens.get(email);
      if (token !== undefined) {
        tokens.delete(email);
        return token;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no invitation mailed to ${email}`);
  }

  let invited = 0;
  async function invite() {
    const n = invited++;
    const email = `person${n}@mixed.example`;
    const timed = {};
    let t0 = performance.now();
    await call('POST', '/api/member_invitations', {
      name: `Person ${n}`,
      email,
      env_roles: [
        { environment_type: 'dev', name: 'No access' },
        { environment_type: 'prod', name: 'No access' },
      ],
    });
    timed.invite = performance.now() - t0;
    const token = await tokenFor(email);
    t0 = performance.now();
    const member = (await call('POST', `/invitations/${token}/accept`, { name: `Person ${n}` }))
      .data;
    timed.accept = performance.now() - t0;
    return { member, timed };
  }

  // --- seed: a small workspace the workload then grows ------------------------------------
  const loadAtStart = loadavg()[0];
  const label = `${dialect === 'sqlite' ? `sqlite (writer: ${writer})` : `${dialect} (driver: ${writer})`}${grow ? `, grown by ${grow.toLocaleString('en-US')} rows a table` : ''}`;
  log(`${label}: seeding (projects, roles, groups, 100 collaborators, SCIM connection) …`);
  const seedStarted = performance.now();
  const roles = [];
  for (let i = 0; i < 5; i++)
    roles.push(
      (
        await call('POST', '/api/project_roles', {
          project_role: { name: `Role ${i}`, config: { recipe: { privileges: ['run'] } } },
        })
      ).data.id,
    );
  const projects = [];
  for (let i = 0; i < 20; i++)
    projects.push(
      (
        await call('POST', '/api/projects', {
          name: `Project ${i}`,
          environment_type: i % 2 === 0 ? 'dev' : 'prod',
        })
      ).data.id,
    );
  const groups = [];
  for (let i = 0; i < 20; i++)
    groups.push(
      (await call('POST', '/api/user_groups', { user_group: { name: `Team ${i}` } })).data.id,
    );
  const members = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 10; i++) members.push((await invite()).member.id);
    }),
  );
  const connection = (
    await call('POST', '/api/scim_connections', { environment_type: 'prod', target: 'end_users' })
  ).data;
  const scim = (method, url, body, options) =>
    call(method, `/scim/v2/${connection.id}${url}`, body, connection.token, options);
  const scimUsers = [];
  const scimGroups = [];
  for (let i = 0; i < 10; i++)
    scimGroups.push(
      (
        await scim('POST', '/Groups', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: `SCIM group ${i}`,
          members: [],
        })
      ).id,
    );
  log(`  seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
  if (dialect === 'postgres' && !(grow > 0)) {
    // A fresh database has no planner statistics until autovacuum's first visit, up to a minute
    // later: the whole of a short run. Until then the server's prepared statements run plans made
    // for empty tables (a SCIM e-mail lookup scanning another index, the audit reads scanning the
    // log), which is a new database's first minute, not Roster's steady state. Take them now, as
    // autovacuum would; the grown runs take them after their bulk load (growData).
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query('analyze');
    await client.end();
  }
  if (grow > 0) {
    // The data a long soak ends with, in bulk SQL with the server stopped (its index then loads
    // it at the restart), so a short run shows what the tenth minute of a soak shows.
    log(`${label}: growing the data by ${grow} rows a table (bulk SQL, server stopped) …`);
    const grown = performance.now();
    await stopServer();
    const grownMembers = await growData(dialect, databaseUrl, grow, {
      member: members[0],
      projects,
      roles,
      groups,
      connection,
      scimGroups,
    });
    // The load picks among every collaborator, as in a soak (where it picks among all it
    // invited): checks, role changes, group and grant changes reach the grown ones too.
    for (const id of grownMembers) members.push(id);
    await startServer();
    log(`  grown in ${((performance.now() - grown) / 1000).toFixed(1)} s`);
  }

  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pickOf = (list) => list[Math.floor(random() * list.length)];
  const checkBody = () => ({
    subject: { member_id: pickOf(members) },
    project_id: pickOf(projects),
    resource: 'recipe',
    privilege: 'run',
  });
  let scimCount = 0;
  /** Requests answered so far, all phases (for --profile-windows' per-request figures). */
  let totalRequests = 0;

  /** One request of a kind; returns the [kind, ms] pairs it timed. */
  async function runKind(kind) {
    const t0 = performance.now();
    const done = (name = kind) => [[name, performance.now() - t0]];
    switch (kind) {
      case 'check':
        await call('POST', '/api/access/check', checkBody(), TOKEN, NO_PARSE);
        return done();
      case 'list_members':
        await call(
          'GET',
          `/api/members?page[size]=50&page[number]=${1 + Math.floor(random() * 3)}`,
          undefined,
          TOKEN,
          NO_PARSE,
        );
        return done();
      case 'list_audit':
        await call('GET', '/api/audit_events?page[size]=50', undefined, TOKEN, NO_PARSE);
        return done();
      case 'list_projects':
        await call(
          'GET',
          `/api/access/projects?member_id=${pickOf(members)}`,
          undefined,
          TOKEN,
          NO_PARSE,
        );
        return done();
      case 'invite': {
        const { member, timed } = await invite();
        members.push(member.id);
        return [
          ['invite', timed.invite],
          ['accept', timed.accept],
        ];
      }
      case 'role_change':
        await call(
          'PUT',
          `/api/members/${pickOf(members)}`,
          {
            env_roles: [
              { environment_type: 'dev', name: random() < 0.5 ? 'No access' : 'Analyst' },
              { environment_type: 'prod', name: 'No access' },
            ],
          },
          TOKEN,
          NO_PARSE,
        );
        return done();
      case 'group_add':
        await call(
          'POST',
          `/api/user_groups/${pickOf(groups)}/members`,
          { user_ids: [pickOf(members)] },
          TOKEN,
          NO_PARSE,
        );
        return done();
      case 'group_remove':
        await call(
          'DELETE',
          `/api/user_groups/${pickOf(groups)}/members?user_ids[]=${pickOf(members)}`,
          undefined,
          TOKEN,
          NO_PARSE,
        );
        return done();
      case 'grant_add': {
        const user = random() < 0.5;
        await call(
          'PUT',
          `/api/projects/${pickOf(projects)}/project_grants`,
          {
            project_grants: [
              {
                assignment_type: user ? 'User' : 'UserGroup',
                assignment_id: user ? pickOf(members) : pickOf(groups),
                project_role_id: pickOf(roles),
              },
            ],
          },
          TOKEN,
          NO_PARSE,
        );
        return done();
      }
      case 'grant_remove': {
        // The project's grants (a list, timed as its own kind), then one of them removed.
        const listed = await call(
          'GET',
          `/api/projects/${pickOf(projects)}/project_grants?page[size]=100`,
        );
        const timed = [['list_grants', performance.now() - t0]];
        if (listed.data.length === 0) return timed;
        const t1 = performance.now();
        await call(
          'DELETE',
          `/api/project_grants/${pickOf(listed.data).id}`,
          undefined,
          TOKEN,
          NO_PARSE,
        ).catch((error) => {
          // Another client may have removed it first: a 404 is that race, not the server.
          if (!/→ 404/.test(error.message)) throw error;
        });
        return [...timed, ['grant_remove', performance.now() - t1]];
      }
      case 'scim_user': {
        const n = scimCount++;
        const userName = `end${n}@mixed.example`;
        const created = await scim('POST', '/Users', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName,
          name: { givenName: `Given${n}`, familyName: `Family${n}` },
          emails: [{ primary: true, value: userName, type: 'work' }],
          externalId: `ext${n}`,
          active: true,
        });
        scimUsers.push(created.id);
        return done();
      }
      case 'scim_group_patch': {
        if (scimUsers.length === 0) return runKind('scim_user');
        await scim(
          'PATCH',
          `/Groups/${pickOf(scimGroups)}`,
          {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [
              random() < 0.7
                ? { op: 'add', path: 'members', value: [{ value: pickOf(scimUsers) }] }
                : { op: 'remove', path: `members[value eq "${pickOf(scimUsers)}"]` },
            ],
          },
          NO_PARSE,
        );
        return done();
      }
      default:
        throw new Error(kind);
    }
  }

  const table = Object.entries(WEIGHTS).flatMap(([kind, w]) => Array(w).fill(kind));
  /**
   * Runs the clients for `seconds`. Closed loop (rate 0): each sends its next request when the
   * last is answered, which measures capacity (latency is then the queue: clients ÷ throughput).
   * Paced (rate > 0 requests/s in total): each client sends on a fixed schedule, and a request's
   * latency counts from its scheduled time, so a server that falls behind is not flattered
   * (no coordinated omission).
   */
  async function phase(seconds, chooser, rate = 0) {
    const before = await serverStats();
    const databaseBefore = await databaseCpu();
    const machineBefore = machineCpu();
    const generatorBefore = process.cpuUsage();
    const result = await runPhase(seconds, chooser, rate);
    const generator = process.cpuUsage(generatorBefore);
    const machineAfter = machineCpu();
    const after = await serverStats();
    const databaseAfter = await databaseCpu();
    let databaseMs = 0;
    for (const [pid, ms] of databaseAfter) databaseMs += ms - (databaseBefore.get(pid) ?? 0);
    return {
      ...result,
      cpuMsPerRequest: (after.cpuMs - before.cpuMs) / result.total,
      cpuShare: (after.cpuMs - before.cpuMs) / (result.elapsed * 1000),
      databaseCpuMsPerRequest: databaseAfter.size === 0 ? null : databaseMs / result.total,
      statementsPerRequest:
        dialect === 'postgres' ? (after.statements - before.statements) / result.total : null,
      // The main thread's share (the one that answers checks) and the PostgreSQL driver thread's
      // busy time, both per request.
      mainCpuMsPerRequest:
        after.mainCpuMs === null ? null : (after.mainCpuMs - before.mainCpuMs) / result.total,
      driverBusyMsPerRequest: (after.driverBusyMs - before.driverBusyMs) / result.total,
      // The threads the server's process had before it started (V8's GC helpers and compilers).
      helperCpuMsPerRequest: ((after.helperCpuMs ?? 0) - (before.helperCpuMs ?? 0)) / result.total,
      // Time the main thread was runnable but waiting for a core (Linux schedstat), as a share of
      // the phase: what checks waited behind that is neither the event loop nor GC.
      mainRunQueueShare:
        after.mainRunQueueMs == null || before.mainRunQueueMs == null
          ? null
          : (after.mainRunQueueMs - before.mainRunQueueMs) / (result.elapsed * 1000),
      driverCpuMsPerRequest: ((after.driverCpuMs ?? 0) - (before.driverCpuMs ?? 0)) / result.total,
      driverCpuMsPerStatement:
        ((after.driverCpuMs ?? 0) - (before.driverCpuMs ?? 0)) /
        Math.max(1, after.statements - before.statements),
      loop: after.loop,
      gc: after.gc,
      writeLock:
        after.writeLock === null || before.writeLock === null
          ? null
          : lockUse(before.writeLock, after.writeLock, result.elapsed),
      // The whole machine's CPU (all processes) per request, and this generator's share of it.
      machine: machineUse(machineBefore, machineAfter, result.total),
      generatorCpuMsPerRequest: (generator.user + generator.system) / 1000 / result.total,
    };
  }
  let traceCount = 0;
  async function runPhase(seconds, chooser, rate) {
    const latencies = new Map();
    const errors = [];
    const bucketS = seconds >= 300 ? 60 : 10;
    const buckets = Array.from({ length: Math.ceil(seconds / bucketS) }, () => ({
      count: 0,
      checks: [],
    }));
    // The server's CPU time at each interval's boundary: CPU per request per interval shows a
    // cost that grows with the data even when the throughput holds (the server then just takes
    // more of the machine); the load average beside it says how busy the machine was.
    const cpuMarks = [await serverCpu()];
    const loads = [];
    // The machine's CPU at each boundary: the hypervisor's steal per interval (a dip it explains).
    const machineMarks = [machineCpu()];
    const sampler = setInterval(() => {
      loads.push(loadavg()[0]);
      machineMarks.push(machineCpu());
      void serverCpu().then((ms) => cpuMarks.push(ms));
    }, bucketS * 1000);
    const started = performance.now();
    const end = started + seconds * 1000;
    /** How late each paced request left (ms): this process's own delay, counted in its latency. */
    const lags = [];
    /** Checks' latency from their actual departure (without the lag above): the server's part. */
    const checksFromDeparture = [];
    /**
     * BENCH_CHECK_TRACE=DIR: each paced check's scheduled time (ms since the epoch), lag and
     * latency from departure (a TSV; bench/check-trace.mjs reads it with the server's GC trace).
     */
    const checkTrace = rate > 0 && process.env.BENCH_CHECK_TRACE ? [] : undefined;
    /** With BENCH_CHECK_TRACE, every paced request: kind, scheduled time, latency from it. */
    const requestTrace = checkTrace === undefined ? undefined : [];
    /** Sends one request of `kind` and records it, its latency counted from `scheduled`. */
    async function one(kind, scheduled) {
      const lag = rate > 0 ? Math.max(0, performance.now() - scheduled) : 0;
      if (rate > 0) lags.push(lag);
      try {
        const timed = await runKind(kind);
        if (kind === 'check') {
          checksFromDeparture.push(timed[0][1]);
          checkTrace?.push(
            `${(performance.timeOrigin + scheduled).toFixed(3)}\t${lag.toFixed(3)}\t${timed[0][1].toFixed(3)}`,
          );
        }
        timed[0][1] += lag;
        for (const [name, ms] of timed)
          requestTrace?.push(
            `${name}\t${(performance.timeOrigin + scheduled).toFixed(3)}\t${ms.toFixed(3)}`,
          );
        const at = Math.floor((performance.now() - started) / 1000 / bucketS);
        totalRequests += timed.length;
        for (const [name, ms] of timed) {
          let list = latencies.get(name);
          if (list === undefined) latencies.set(name, (list = []));
          list.push(ms);
          if (at < buckets.length) {
            buckets[at].count++;
            if (name === 'check') buckets[at].checks.push(ms);
          }
        }
      } catch (error) {
        errors.push(`${kind}: ${error.message}`);
      }
    }
    const sleepUntil = (t) =>
      t > performance.now()
        ? new Promise((resolve) => setTimeout(resolve, t - performance.now()))
        : undefined;
    if (rate > 0 && PACING === 'open') {
      // Open loop: request k leaves at k ÷ rate, without waiting for any earlier one.
      const pending = new Set();
      for (let k = 0; ; k++) {
        const scheduled = started + (k * 1000) / rate;
        if (scheduled >= end) break;
        await sleepUntil(scheduled);
        const sent = one(chooser(), scheduled);
        pending.add(sent);
        void sent.finally(() => pending.delete(sent));
      }
      await Promise.all(pending);
    } else {
      const intervalMs = rate > 0 ? (CLIENTS / rate) * 1000 : 0;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          for (let k = 0; ; k++) {
            const scheduled = started + (k + client / CLIENTS) * intervalMs;
            if (rate > 0) await sleepUntil(scheduled);
            if (performance.now() >= end) return;
            await one(chooser(), scheduled);
          }
        }),
      );
    }
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (cpuMarks.length <= buckets.length) cpuMarks.push(await serverCpu());
    if (machineMarks.length <= buckets.length) machineMarks.push(machineCpu());
    if (checkTrace !== undefined) {
      const file = path.join(
        process.env.BENCH_CHECK_TRACE,
        `${dialect}-${writer}-${(traceCount += 1)}.tsv`,
      );
      mkdirSync(process.env.BENCH_CHECK_TRACE, { recursive: true });
      writeFileSync(file, `at_ms\tlag_ms\tfrom_departure_ms\n${checkTrace.join('\n')}\n`);
      log(`  check trace: ${file}`);
      const requests = file.replace(/\.tsv$/, '-requests.tsv');
      writeFileSync(requests, `kind\tat_ms\tms\n${requestTrace.join('\n')}\n`);
    }
    const kinds = [...latencies].map(([kind, list]) => {
      const sorted = Float64Array.from(list).sort();
      return {
        kind,
        count: list.length,
        perSecond: list.length / elapsed,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
      };
    });
    const total = kinds.reduce((sum, k) => sum + k.count, 0);
    return {
      elapsed,
      kinds,
      total,
      perSecond: total / elapsed,
      errors,
      lagP99: percentile(Float64Array.from(lags).sort(), 0.99),
      checkFromDepartureP99: percentile(Float64Array.from(checksFromDeparture).sort(), 0.99),
      bucketS,
      buckets: buckets.map((bucket, i) => ({
        perSecond: bucket.count / bucketS,
        cpuMsPerRequest:
          cpuMarks[i + 1] === undefined || bucket.count === 0
            ? NaN
            : (cpuMarks[i + 1].cpuMs - cpuMarks[i].cpuMs) / bucket.count,
        mainCpuMsPerRequest:
          cpuMarks[i + 1]?.mainCpuMs == null || cpuMarks[i].mainCpuMs === null || bucket.count === 0
            ? NaN
            : (cpuMarks[i + 1].mainCpuMs - cpuMarks[i].mainCpuMs) / bucket.count,
        oldMb: (cpuMarks[i + 1]?.oldBytes ?? NaN) / 2 ** 20,
        load: loads[i] ?? loadavg()[0],
        stealShare:
          machineMarks[i] == null || machineMarks[i + 1] == null
            ? NaN
            : machineUse(machineMarks[i], machineMarks[i + 1], 1).stealShare,
        checkP99: percentile(Float64Array.from(bucket.checks).sort(), 0.99),
      })),
    };
  }

  // Each kind alone (--kinds S seconds each, closed loops): the server's CPU per request of that
  // kind, which the mixed phase cannot split, on the data as it stands (after --grow).
  const perKind = [];
  // The workspace's index loads on its first check (after --grow, the grown data's): not a cost
  // of the timed phases. A first check that outwaits the bounded load answers 503 (on a busy
  // machine): the load goes on, and the check is asked again.
  for (let tries = 1; ; tries++) {
    try {
      await runKind('check');
      break;
    } catch (error) {
      if (tries >= 60 || !/→ 503/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  if (KINDS_S > 0)
    for (const kind of ONLY ?? Object.keys(WEIGHTS)) {
      log(`${label}: ${KINDS_S} s of ${kind} alone …`);
      perKind.push({ kind, load: loadavg()[0], ...(await phase(KINDS_S, () => kind)) });
    }
  log(
    `${label}: ${DURATION_S} s of the mixed load in closed loops (capacity), ${CLIENTS} clients …`,
  );
  /**
   * Starts a CPU profile of the server's main thread (--profile-windows, --profile-paced);
   * `stop(when)` writes it, with beside it the requests answered meanwhile (per-request figures
   * in bench/profile-diff.mjs).
   */
  function profileStart() {
    const dir = process.env.BENCH_PROF_DIR ?? '/tmp/perf';
    mkdirSync(dir, { recursive: true });
    const at = totalRequests;
    child.send('profile-start');
    return {
      stop: (when) =>
        new Promise((resolve) => {
          const requests = totalRequests - at;
          const file = path.join(
            dir,
            `${dialect}-${writer}${grow ? `-grown${grow}` : ''}-${when}.cpuprofile`,
          );
          const on = (m) => {
            if (m.type !== 'profiled') return;
            child.off('message', on);
            writeFileSync(`${file}.requests`, `${requests}\n`);
            log(`  ${when} profile: ${file} (${requests} requests)`);
            resolve();
          };
          child.on('message', on);
          child.send(`profile-stop ${file}`);
        }),
    };
  }
  // --profile-windows: the early window from the first minute on (from a quarter in, on a run
  // shorter than 2 minutes), the late one ending with the phase.
  const windows = [];
  if (PROFILE_S > 0) {
    const early = Math.min(60, DURATION_S / 4);
    for (const [when, startS] of [
      ['early', early],
      ['late', Math.max(early + PROFILE_S, DURATION_S - PROFILE_S - 1)],
    ])
      windows.push(
        new Promise((resolve) => {
          setTimeout(() => {
            const profile = profileStart();
            setTimeout(() => resolve(profile.stop(when)), PROFILE_S * 1000);
          }, startS * 1000);
        }),
      );
  }
  const mixed = await phase(DURATION_S, () => pickOf(table));
  await Promise.all(windows);
  // Paced below capacity (by default a share of what was just measured, so the same on every
  // store and machine): latency there is the server's, not a queue of requests it cannot serve.
  const rate = RATE ?? Math.max(1, Math.round(RATE_SHARE * mixed.perSecond));
  const rateNote =
    RATE === undefined
      ? `${(RATE_SHARE * 100).toFixed(0)}% of the ${mixed.perSecond.toFixed(0)} requests/s capacity just measured`
      : '--rate';
  log(`${label}: ${PACED_S} s of the mixed load paced at ${rate} requests/s (${rateNote}) …`);
  const pacedProfile = PROFILE_PACED ? profileStart() : null;
  const paced = await phase(PACED_S, () => pickOf(table), rate);
  if (pacedProfile !== null) await pacedProfile.stop('paced');
  log(`${label}: ${PACED_S} s of checks only paced at ${rate} requests/s (no writes) …`);
  const baseline = await phase(PACED_S, () => 'check', rate);
  const perKindAfter = [];
  if (KINDS_AFTER_S > 0)
    for (const kind of ONLY ?? Object.keys(WEIGHTS)) {
      log(`${label}: ${KINDS_AFTER_S} s of ${kind} alone, after the soak …`);
      perKindAfter.push({ kind, load: loadavg()[0], ...(await phase(KINDS_AFTER_S, () => kind)) });
    }
  const load = loadavg()[0];
  const loadBefore = loadAtStart;
  const rows = await call('GET', '/api/audit_events?page[size]=1');
  await stopServer();
  await dropDatabase();
  // BENCH_KEEP_DATABASE=1 keeps the SQLite file too (query plans on the data a soak grew).
  if (process.env.BENCH_KEEP_DATABASE && dialect === 'sqlite') log(`  kept ${databaseUrl}`);
  else rmSync(work, { recursive: true, force: true });
  return {
    dialect,
    writer,
    perKind,
    perKindAfter,
    label,
    rate,
    rateNote,
    baseline,
    mixed,
    paced,
    load,
    loadBefore,
    grow: grow,
    members: members.length,
    scimUsers: scimUsers.length,
    auditEvents: rows.meta?.total ?? rows.total ?? null,
  };
}

const results = [];
for (const dialect of stores)
  for (const writer of dialect === 'sqlite' ? WRITERS : DRIVERS)
    for (const grow of GROWS) results.push(await runStore(dialect, writer, grow));

const ms = (v) => (Number.isNaN(v) ? '–' : `${v.toFixed(2)} ms`);
const kindTable = (phase) => [
  '| Kind | Requests | Requests/s | p50 | p99 |',
  '| --- | ---: | ---: | ---: | ---: |',
  ...[...phase.kinds]
    .sort((a, b) => b.count - a.count)
    .map(
      (k) => `| ${k.kind} | ${k.count} | ${k.perSecond.toFixed(1)} | ${ms(k.p50)} | ${ms(k.p99)} |`,
    ),
  `| **total** | ${phase.total} | **${phase.perSecond.toFixed(0)}** | | |`,
];
/** Of the server's CPU per request: its main thread's, and the PostgreSQL driver thread's busy time. */
const threads = (phase) =>
  `- of which the main thread: ${phase.mainCpuMsPerRequest?.toFixed(3) ?? '?'} ms a request${phase.driverBusyMsPerRequest > 0 ? `; PostgreSQL driver thread busy: ${phase.driverBusyMsPerRequest.toFixed(3)} ms a request` : ''}${phase.driverCpuMsPerRequest > 0 ? `; driver thread CPU: ${phase.driverCpuMsPerRequest.toFixed(3)} ms a request, ${(phase.driverCpuMsPerStatement * 1000).toFixed(0)} µs a statement` : ''}${phase.helperCpuMsPerRequest > 0 ? `; V8's helper threads: ${phase.helperCpuMsPerRequest.toFixed(3)} ms a request` : ''}${phase.mainRunQueueShare != null ? `; main thread runnable but waiting for a core: ${(phase.mainRunQueueShare * 100).toFixed(1)}% of the phase` : ''}`;
/** The main thread's garbage collection in a phase, per request (bench/lib/gc-report.mjs). */
const gcRow = (phase) => {
  const g = phase.gc;
  if (!g) return '- main thread GC: not reported by this server';
  const per1k = (n) => ((n * 1000) / phase.total).toFixed(1);
  return `- main thread GC: ${per1k(g.scavenges)} scavenges and ${per1k(g.markCompacts)} mark-compacts per 1,000 requests; pauses p50 / p99 / max ${ms(g.pauseMs.p50)} / ${ms(g.pauseMs.p99)} / ${ms(g.pauseMs.max)} (${(g.pauseMs.total / phase.total).toFixed(3)} ms a request); **${(g.allocatedBytes / phase.total / 1024).toFixed(1)} KB allocated, ${(g.promotedBytes / phase.total / 1024).toFixed(2)} KB promoted a request**; ${(g.survivedBytesPerScavenge / 2 ** 20).toFixed(2)} MB survive each scavenge; new space ${(g.newSpaceBytes / 2 ** 20).toFixed(0)} MB, old ${(g.oldBytes / 2 ** 20).toFixed(0)} MB, RSS ${(g.rssBytes / 2 ** 20).toFixed(0)} MB`;
};
const out = [];
out.push(
  `Command: \`npm run bench:mixed -- --duration ${DURATION_S} --paced ${PACED_S}${args.grow === '0' ? '' : ` --grow ${args.grow}`}${KINDS_S ? ` --kinds ${KINDS_S}` : ''}${KINDS_AFTER_S ? ` --kinds-after ${KINDS_AFTER_S}` : ''}${RATE === undefined ? '' : ` --rate ${RATE}`}${PACING === 'open' ? '' : ` --pacing ${PACING}`}${CLIENT === 'lean' ? '' : ` --client ${CLIENT}`}\` (${CLIENTS} clients, ${CLIENT === 'lean' ? 'lean HTTP client' : 'node:http client'}; targets: check p99 ≤ 5 ms under the mixed load, ≥ 1,000 requests/s in total, no downward drift)`,
);
out.push(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}`);
for (const r of results) {
  const check = (phase) => phase.kinds.find((k) => k.kind === 'check');
  out.push('', `### ${r.label}`, '');
  const aloneTable = (list, seconds, when, before) => [
    `**Each kind alone${when}**: ${seconds} s each, ${CLIENTS} clients in closed loops, on the data as it stood${r.grow ? ` after --grow ${r.grow}` : ''} (target: the same CPU per request whatever the data size${before ? "; the last column: this CPU per request over the same kind's before the soak" : ''})`,
    '',
    `| Kind alone | Requests | p50 | p99 | Server CPU per request |${r.dialect === 'postgres' ? " PostgreSQL backends' CPU per request |" : ''} Main thread KB allocated / promoted per request | Event loop held p99 / max | Load (1 min) |${before ? ' after ÷ before |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: |${r.dialect === 'postgres' ? ' ---: |' : ''} ---: | ---: | ---: |${before ? ' ---: |' : ''}`,
    ...list.map((k, i) => {
      const cpu = (x) =>
        x.cpuMsPerRequest + (r.dialect === 'postgres' ? (x.databaseCpuMsPerRequest ?? 0) : 0);
      const ratio = before?.[i]
        ? ` ${(cpu(k) / cpu(before[i])).toFixed(2)} |`
        : before
          ? ' – |'
          : '';
      return `| ${k.kind} (${k.kinds.map((x) => x.kind).join(' + ')}) | ${k.total} | ${k.kinds.map((x) => ms(x.p50)).join(' / ')} | ${k.kinds.map((x) => ms(x.p99)).join(' / ')} | ${k.cpuMsPerRequest.toFixed(3)} ms (main ${k.mainCpuMsPerRequest?.toFixed(3) ?? '?'}) |${r.dialect === 'postgres' ? ` ${k.databaseCpuMsPerRequest?.toFixed(3) ?? '–'} ms |` : ''} ${k.gc ? `${(k.gc.allocatedBytes / k.total / 1024).toFixed(1)} / ${(k.gc.promotedBytes / k.total / 1024).toFixed(2)}` : '–'} | ${k.loop ? `${ms(k.loop.p99)} / ${ms(k.loop.max)}` : '–'} | ${k.load.toFixed(1)} |${ratio}`;
    }),
    '',
  ];
  if (r.perKind.length > 0) out.push(...aloneTable(r.perKind, KINDS_S, '', undefined));
  out.push(
    `**Capacity**: ${DURATION_S} s, ${CLIENTS} clients in closed loops (each sends when answered; latency here is mostly the queue)`,
    '',
    ...kindTable(r.mixed),
    '',
    `- throughput per ${r.mixed.bucketS} s (requests/s): ${r.mixed.buckets.map((b) => b.perSecond.toFixed(0)).join(', ')}`,
    `- server CPU per request per ${r.mixed.bucketS} s (ms; target: no upward drift as the data grows): ${r.mixed.buckets.map((b) => b.cpuMsPerRequest.toFixed(3)).join(', ')}`,
    `- of which the main thread, per ${r.mixed.bucketS} s (ms a request; the rest is the SQLite writer's or PostgreSQL driver's thread): ${r.mixed.buckets.map((b) => b.mainCpuMsPerRequest.toFixed(3)).join(', ')}`,
    `- main thread's old space in use at each interval's end (MB; what a mark-compact walks): ${r.mixed.buckets.map((b) => b.oldMb.toFixed(0)).join(', ')}`,
    `- load average (1 min) at each interval's end: ${r.mixed.buckets.map((b) => b.load.toFixed(1)).join(', ')}`,
    `- CPU stolen by the hypervisor, per ${r.mixed.bucketS} s (% of the machine's): ${r.mixed.buckets.map((b) => (b.stealShare * 100).toFixed(1)).join(', ')}`,
    `- server CPU: ${r.mixed.cpuMsPerRequest.toFixed(3)} ms a request, ${(r.mixed.cpuShare * 100).toFixed(0)}% of a core${r.mixed.databaseCpuMsPerRequest === null ? '' : `; PostgreSQL backends' CPU: ${r.mixed.databaseCpuMsPerRequest.toFixed(3)} ms a request`}${r.mixed.statementsPerRequest === null ? '' : `; ${r.mixed.statementsPerRequest.toFixed(2)} statements a request`}; event loop held p99 / max: ${ms(r.mixed.loop.p99)} / ${ms(r.mixed.loop.max)}`,
    threads(r.mixed),
    ...lockRow(r.mixed),
    machineRow(r.mixed),
    gcRow(r.mixed),
    `- errors: ${r.mixed.errors.length}${r.mixed.errors.length ? ` (first: ${r.mixed.errors[0]})` : ''}`,
    '',
    `- **capacity ${r.mixed.perSecond.toFixed(0)} requests/s** (target ≥ 1,000); check p50 / p99 in closed loops: ${ms(check(r.mixed)?.p50)} / ${ms(check(r.mixed)?.p99)} (target p99 ≤ 5 ms)`,
    '',
    `**Paced**: ${PACED_S} s at ${r.rate} requests/s offered (${r.rateNote}; ${PACING === 'open' ? 'open loop: each request leaves at its time whatever the others do' : `${CLIENTS} clients, each on its own schedule, one request at a time`}; latency from the scheduled send)`,
    '',
    ...kindTable(r.paced),
    '',
    `- **check p50 / p99 under writes: ${ms(check(r.paced)?.p50)} / ${ms(check(r.paced)?.p99)}** (target p99 ≤ 5 ms); checks only, same rate, same data, no writes: ${ms(check(r.baseline)?.p50)} / ${ms(check(r.baseline)?.p99)}`,
    `- server CPU: ${r.paced.cpuMsPerRequest.toFixed(3)} ms a request (checks only: ${r.baseline.cpuMsPerRequest.toFixed(3)})${r.paced.statementsPerRequest === null ? '' : `, ${r.paced.statementsPerRequest.toFixed(2)} PostgreSQL statements a request`}; event loop held p99 / max: ${ms(r.paced.loop.p99)} / ${ms(r.paced.loop.max)} (checks only: ${ms(r.baseline.loop.p99)} / ${ms(r.baseline.loop.max)})`,
    threads(r.paced),
    ...lockRow(r.paced),
    machineRow(r.paced),
    gcRow(r.paced),
    `- checks only: ${gcRow(r.baseline).slice(2)}`,
    `- check p99 per ${r.paced.bucketS} s under writes: ${r.paced.buckets.map((b) => ms(b.checkP99)).join(', ')}; CPU stolen by the hypervisor per ${r.paced.bucketS} s: ${r.paced.buckets.map((b) => `${(b.stealShare * 100).toFixed(1)}%`).join(', ')}`,
    `- requests' departure after their scheduled time (the generator's own delay, counted in the latencies), p99: ${ms(r.paced.lagP99)} (checks only: ${ms(r.baseline.lagP99)}); check p99 from its actual departure: ${ms(r.paced.checkFromDepartureP99)} (checks only: ${ms(r.baseline.checkFromDepartureP99)})`,
    `- errors: ${r.paced.errors.length + r.baseline.errors.length}${r.paced.errors.length ? ` (first: ${r.paced.errors[0]})` : ''}`,
    `- data at the end: ${r.members} collaborators, ${r.scimUsers} SCIM end users, ${r.auditEvents ?? '?'} audit events (the list's total, counted up to 10,000)`,
    `- load average (1 min) at the start / end: ${r.loadBefore.toFixed(2)} / ${r.load.toFixed(2)}`,
  );
  if (r.perKindAfter.length > 0)
    out.push(
      '',
      ...aloneTable(
        r.perKindAfter,
        KINDS_AFTER_S,
        ', after the soak',
        r.perKind.length > 0 ? r.perKind : undefined,
      ),
    );
}
// Several sizes (--grow 0,25000,100000) with --kinds: each kind's cost side by side, per store.
if (GROWS.length > 1 && KINDS_S > 0) {
  out.push('', '### Each kind alone, by data size', '');
  for (const setup of new Set(results.map((r) => `${r.dialect}|${r.writer}`))) {
    const runs = results.filter((r) => `${r.dialect}|${r.writer}` === setup);
    const [dialect, writer] = setup.split('|');
    out.push(
      `**${dialect === 'sqlite' ? `sqlite (writer: ${writer})` : dialect}**: server CPU per request (p50) after --grow ${runs.map((r) => r.grow.toLocaleString('en-US')).join(' / ')} (target: the same whatever the data size; the last over the first in the last column${dialect === 'postgres' ? ", server and PostgreSQL backends' CPU together" : ''})`,
      '',
      `| Kind alone | ${runs.map((r) => `+${r.grow.toLocaleString('en-US')} rows`).join(' | ')} | last ÷ first |`,
      `| --- | ${runs.map(() => '---:').join(' | ')} | ---: |`,
      ...runs[0].perKind.map((first, i) => {
        const cells = runs.map((r) => r.perKind[i]);
        const p50 = (k) => k.kinds.map((x) => ms(x.p50)).join(' / ');
        // On PostgreSQL the database's own backends' CPU per request too (+ db), when measurable.
        const cpu = (k) =>
          k.cpuMsPerRequest + (dialect === 'postgres' ? (k.databaseCpuMsPerRequest ?? 0) : 0);
        return `| ${first.kind} | ${cells.map((k) => `${k.cpuMsPerRequest.toFixed(3)} (main ${k.mainCpuMsPerRequest?.toFixed(3) ?? '?'})${dialect === 'postgres' ? ` + db ${k.databaseCpuMsPerRequest?.toFixed(3) ?? '–'}` : ''} ms (${p50(k)})`).join(' | ')} | ${(cpu(cells.at(-1)) / cpu(first)).toFixed(2)} |`;
      }),
      '',
      `- load average (1 min) during each size's kinds: ${runs
        .map((r) => {
          const loads = r.perKind.map((k) => k.load);
          return `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
        })
        .join(' / ')}`,
      '',
    );
  }
}
const text = out.join('\n');
console.log(text);
writeFileSync(path.join(here, `mixed-results.md`), `${text}\n`);
