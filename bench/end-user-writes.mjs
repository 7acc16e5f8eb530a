/**
 * What an end-user write costs as a workspace's end users grow: `node bench/end-user-writes.mjs
 * [--users 20000] [--store sqlite|postgres] [--repeat 15] [--dist PATH]`.
 *
 * A workspace with N end users (bulk SQL: each with PROD access, each in one of 20 groups, one in
 * 20 granted the feature directly), its end-user slice loaded (one end-user check), then each
 * kind of write timed over HTTP, `--repeat` times: the write's answer waits for the index to
 * apply it (docs/decisions.md, "Staleness bound"), so its latency includes what the index reloads.
 * Printed: each kind's p50 and max, and the process's CPU per write. The writes that reloaded the
 * whole slice (features, policies, deletions, an environment revoked) grow with N; the ones
 * reloaded alone (a user, a group) do not. `--dist PATH` runs another build's packages/server/dist
 * (a worktree of an earlier commit: the before of a before/after pair, same data, same machine).
 * PostgreSQL: a fresh database made from ROSTER_BENCH_DATABASE_URL, dropped after.
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { freshDatabase } from './lib/fresh-database.mjs';
import { processCpuMs, startRosterApp, THIS_DIST, distUrl } from './lib/roster-app.mjs';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    store: { type: 'string', default: 'sqlite' },
    repeat: { type: 'string', default: '15' },
    dist: { type: 'string' },
  },
});
const USERS = Number(args.users);
const REPEAT = Number(args.repeat);
const TOKEN = 'rst_bench_admin_token_0123456789';
const GROUPS = 20;

const {
  work,
  databaseUrl,
  drop: dropDatabase,
} = await freshDatabase({
  store: args.store,
  name: 'end-user-writes',
});

const dist = args.dist === undefined ? THIS_DIST : distUrl(args.dist);
const { app, store } = await startRosterApp({
  dist,
  databaseUrl,
  dataDir: work,
  token: TOKEN,
  migrate: true,
});
await app.listen({ port: 0, host: '127.0.0.1' });
let origin = `http://127.0.0.1:${app.server.address().port}`;

async function call(method, route, body) {
  const res = await fetch(`${origin}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400)
    throw new Error(`${method} ${route} → ${res.status} ${text.slice(0, 300)}`);
  return text === '' ? undefined : JSON.parse(text);
}

// The workspace: a feature, 20 groups, then N end users in bulk SQL on the server's own store.
const feature = (
  await call('POST', '/api/features', {
    environment_type: 'prod',
    kind: 'mcp_server',
    name: 'Bench MCP',
  })
).data.id;
// A group has at least one member: this one, in each.
const founder = (
  await call('POST', '/api/end_users', {
    name: 'Founder',
    email: 'founder@euw.example',
    environment_types: ['prod'],
  })
).data.id;
const groups = [];
for (let i = 0; i < GROUPS; i++)
  groups.push(
    (
      await call('POST', '/api/end_user_groups', {
        environment_type: 'prod',
        name: `Team ${i}`,
        end_user_ids: [founder],
      })
    ).data.id,
  );
const seedStarted = performance.now();
const workspaceId = (await sql`select id from workspaces order by id limit 1`.execute(store.db))
  .rows[0].id;
const prod = (
  await sql`select id from environments where workspace_id = ${workspaceId} and type = 'prod'`.execute(
    store.db,
  )
).rows[0].id;
const at = "'2025-01-01T00:00:00.000Z'";
const numbers = `n(i) as (select 1 union all select i + 1 from n where i < ${USERS})`;
const groupList = `g(k, id) as (values ${groups.map((id, k) => `(${k}, ${id})`).join(', ')})`;
for (const statement of [
  `with recursive ${numbers} insert into end_users (workspace_id, name, email, email_key, status, mfa_enabled, source, created_at, updated_at)
     select ${workspaceId}, 'Bench user ' || i, 'bench' || i || '@euw.example', 'bench' || i || '@euw.example', 'active', 0, 'manual', ${at}, ${at} from n`,
  `insert into end_user_environments (workspace_id, end_user_id, environment_id, created_at)
     select ${workspaceId}, id, ${prod}, ${at} from end_users where workspace_id = ${workspaceId} and email_key like 'bench%@euw.example'`,
  `with ${groupList} insert into end_user_group_members (workspace_id, group_id, end_user_id, created_at, source)
     select ${workspaceId}, g.id, e.id, ${at}, 'manual' from end_users e join g on g.k = e.id % ${GROUPS}
     where e.workspace_id = ${workspaceId} and e.email_key like 'bench%@euw.example'`,
  `insert into feature_grants (workspace_id, feature_id, end_user_id, created_at)
     select ${workspaceId}, ${feature}, id, ${at} from end_users
     where workspace_id = ${workspaceId} and email_key like 'bench%@euw.example' and id % 20 = 0`,
])
  await sql.raw(statement).execute(store.db);
if (args.store === 'postgres') await sql`analyze`.execute(store.db);
const userIds = (
  await sql`select id from end_users where workspace_id = ${workspaceId} and email_key like 'bench%@euw.example' order by id`.execute(
    store.db,
  )
).rows.map((row) => row.id);
console.log(
  `${args.store}, ${USERS} end users seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s; build ${dist.pathname}`,
);
// The server has not seen the bulk rows (no events): started again, its first check loads them.
await app.close();
await store.close();
const restarted = await startRosterApp({ dist, databaseUrl, dataDir: work, token: TOKEN });
await restarted.app.listen({ port: 0, host: '127.0.0.1' });
origin = `http://127.0.0.1:${restarted.app.server.address().port}`;
const loadStarted = performance.now();
const first = await call('POST', '/api/access/check', {
  subject: { end_user_id: userIds[0] },
  environment_type: 'prod',
  feature_id: feature,
});
if (typeof first.data.allowed !== 'boolean') throw new Error('no answer');
console.log(
  `slice loaded by the first check in ${(performance.now() - loadStarted).toFixed(0)} ms`,
);

/** Each kind: a setup (not timed) and the write (timed). */
let next = 1;
const pickUser = () => userIds[(next++ * 7919) % userIds.length];
const kinds = {
  'end user renamed (reloads the user)': async () => {
    const id = pickUser();
    return () => call('PATCH', `/api/end_users/${id}`, { name: `Renamed ${next}` });
  },
  'group member added (reloads the user)': async () => {
    const id = pickUser();
    return () =>
      call('POST', `/api/end_user_groups/${groups[next % GROUPS]}/members`, {
        end_user_ids: [id],
      });
  },
  'feature granted to a user': async () => {
    const id = pickUser();
    return () => call('POST', `/api/features/${feature}/access`, { end_user_ids: [id] });
  },
  'policy created': async () => {
    const id = pickUser();
    return () =>
      call('POST', '/api/policies', {
        name: `Policy ${next++}`,
        environment_type: 'prod',
        feature_id: feature,
        scope: { type: 'users', ids: [id] },
        effect: 'deny',
      });
  },
  'policy deleted': async () => {
    const policy = (
      await call('POST', '/api/policies', {
        name: `Doomed policy ${next++}`,
        environment_type: 'prod',
        feature_id: feature,
        scope: { type: 'all' },
        effect: 'allow',
      })
    ).data.id;
    return () => call('DELETE', `/api/policies/${policy}`);
  },
  'environment revoked': async () => {
    const id = pickUser();
    return () =>
      call('PUT', `/api/end_users/${id}/environments`, {
        environment_type: 'prod',
        access: false,
        confirm: true,
      });
  },
  'end user deleted': async () => {
    const id = pickUser();
    return () => call('DELETE', `/api/end_users/${id}`);
  },
  'group deleted (5 members)': async () => {
    const group = (
      await call('POST', '/api/end_user_groups', {
        environment_type: 'prod',
        name: `Doomed group ${next++}`,
        end_user_ids: [pickUser(), pickUser(), pickUser(), pickUser(), pickUser()],
      })
    ).data.id;
    return () => call('DELETE', `/api/end_user_groups/${group}`);
  },
};

const rows = [];
for (const [kind, prepare] of Object.entries(kinds)) {
  const times = [];
  let cpu = 0;
  for (let i = 0; i < REPEAT; i++) {
    const write = await prepare();
    const cpuBefore = processCpuMs();
    const started = performance.now();
    await write();
    times.push(performance.now() - started);
    cpu += processCpuMs() - cpuBefore;
  }
  times.sort((a, b) => a - b);
  rows.push(
    `| ${kind} | ${times[Math.floor(times.length / 2)].toFixed(2)} ms | ${times.at(-1).toFixed(2)} ms | ${(cpu / REPEAT).toFixed(2)} ms |`,
  );
}
console.log(
  `\n| Write (${USERS} end users, ${args.store}) | p50 | max | process CPU a write |\n| --- | ---: | ---: | ---: |`,
);
for (const row of rows) console.log(row);
await restarted.app.close();
await restarted.store.close();
await dropDatabase();
