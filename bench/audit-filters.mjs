/**
 * What a page of the audit log costs, filtered each way, as the log grows: `node
 * bench/audit-filters.mjs [--events 200000] [--store sqlite|postgres] [--repeat 15] [--dist PATH]`.
 *
 * One workspace's log of N events in bulk SQL (50 actors, 20,000 targets: each target ~N/20,000
 * events, each actor N/50; one event every 10 s from 2025-01-01), then `GET /api/audit_events` (a
 * page of 100, with its `total`) timed over HTTP `--repeat` times per filter: none, an action, a
 * target or an actor by type and ID (the peers: the indexes of migrations 0001 and 0013 serve
 * them), a target or an actor by ID alone (migration 0036), and time windows (`since`, `until`:
 * migration 0038 and audit.repository.ts SMALL_WINDOW_EVENTS). On SQLite the page is read on the
 * main thread, so its time is also how long every check waits behind it. `--dist PATH` runs another build's packages/server/dist (a
 * worktree of an earlier commit: the before of a before/after pair). PostgreSQL: a fresh database
 * made from ROSTER_BENCH_DATABASE_URL, analyzed after the load, dropped after.
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { LeanHttpClient } from './lib/lean-http.mjs';
import { freshDatabase } from './lib/fresh-database.mjs';
import { startRosterApp, THIS_DIST, distUrl } from './lib/roster-app.mjs';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    store: { type: 'string', default: 'sqlite' },
    repeat: { type: 'string', default: '15' },
    dist: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const REPEAT = Number(args.repeat);
const TOKEN = 'rst_bench_admin_token_0123456789';

const {
  work,
  databaseUrl,
  drop: dropDatabase,
} = await freshDatabase({
  store: args.store,
  name: 'audit-filters',
});

const dist = args.dist === undefined ? THIS_DIST : distUrl(args.dist);
const { app, store } = await startRosterApp({
  dist,
  databaseUrl,
  dataDir: work,
  token: TOKEN,
  migrate: true,
});
try {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${app.server.address().port}`;
  const workspaceId = (await sql`select id from workspaces order by id limit 1`.execute(store.db))
    .rows[0].id;
  const numbers =
    args.store === 'postgres'
      ? `generate_series(1, ${EVENTS}) as n(i)`
      : `(with recursive n(i) as (select 1 union all select i + 1 from n where i < ${EVENTS}) select i from n) as n`;
  const time =
    args.store === 'postgres'
      ? `to_char(timestamp '2025-01-01' + i * interval '10 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"')`
      : `strftime('%Y-%m-%dT%H:%M:%S.000Z', '2025-01-01', '+' || (i * 10) || ' seconds')`;
  /** The time of bulk event i (1-based). */
  const at = (i) => new Date(Date.UTC(2025, 0, 1) + i * 10_000).toISOString();
  const loadStarted = performance.now();
  await sql
    .raw(
      `insert into audit_events (workspace_id, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, created_at)
       select ${workspaceId}, 'member', cast(i % 50 as text), 'Bench', 'member.roles_updated', 'member',
         cast(i % 20000 as text), 'Target', ${time} from ${numbers}`,
    )
    .execute(store.db);
  // Statistics on PostgreSQL; on SQLite the bulk insert's pages moved from the WAL to the file,
  // as the checkpointer thread does after writes (a read through a 60 MB WAL is slower).
  if (args.store === 'postgres') await sql`analyze`.execute(store.db);
  else await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db);
  console.log(
    `${args.store}, ${EVENTS} audit events loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s; build ${dist.pathname}`,
  );

  const filters = [
    ['none (the newest page)', ''],
    ['an action matching nothing', 'action=member.nothing'],
    ['target by type and ID (peer)', 'target_type=member&target_id=77'],
    ['target by ID alone', 'target_id=77'],
    ['target by ID alone, matching nothing', 'target_id=absent'],
    ['actor by type and ID (peer)', 'actor_type=member&actor_id=7'],
    ['actor by ID alone', 'actor_id=7'],
    ['actor by ID alone, matching nothing', 'actor_id=absent'],
    ['since a time after every event', 'since=2030-01-01T00:00:00Z'],
    ['until a time before every event', 'until=2020-01-01T00:00:00Z'],
    ['since the last 100 events (a poller)', `since=${at(EVENTS - 99)}`],
    ['a window of 1,000 events, mid-log', `since=${at(EVENTS / 2)}&until=${at(EVENTS / 2 + 1000)}`],
    [
      'one action in that window, matching nothing',
      `action=member.nothing&since=${at(EVENTS / 2)}&until=${at(EVENTS / 2 + 1000)}`,
    ],
    ['since mid-log (half the events)', `since=${at(EVENTS / 2)}`],
    ['until mid-log (half the events)', `until=${at(EVENTS / 2)}`],
  ];
  // The mixed load's HTTP/1.1 client (bench/lib/lean-http.mjs): little of its own in the figures.
  const client = new LeanHttpClient(origin);
  const page = async (query) => {
    const res = await client.request('GET', `/api/audit_events?page[size]=100&${query}`, {
      authorization: `Bearer ${TOKEN}`,
    });
    return { status: res.status, body: JSON.parse(res.body.toString('utf8')) };
  };
  // The change feed reads the bulk events as any others (they name 20,000 members): a write's
  // answer waits until the index has applied every event before its own, so the timed pages do
  // not share the main thread with that catching up.
  const write = await client.request(
    'POST',
    '/api/features',
    { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    JSON.stringify({ environment_type: 'dev', kind: 'assistant', name: 'After the load' }),
  );
  if (write.status !== 201) throw new Error(`POST /api/features: ${write.status}`);
  // One untimed pass first: the first reads after the load pay for its pages and the server's
  // first compilations, which the figures below are not about.
  for (const [, query] of filters) await page(query);
  console.log('');
  console.log(`| Filter (${EVENTS} events, ${args.store}) | total | p50 | max |`);
  console.log('| --- | ---: | ---: | ---: |');
  for (const [label, query] of filters) {
    const times = [];
    let total;
    for (let i = 0; i < REPEAT; i++) {
      const started = performance.now();
      const { status, body } = await page(query);
      times.push(performance.now() - started);
      if (status !== 200) throw new Error(`${query}: ${status} ${JSON.stringify(body)}`);
      total = body.total;
    }
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length / 2)];
    console.log(
      `| ${label} | ${total} | ${p50.toFixed(2)} ms | ${times[times.length - 1].toFixed(2)} ms |`,
    );
  }
  client.destroy();
} finally {
  await app.close();
  await store.close();
  await dropDatabase();
}
