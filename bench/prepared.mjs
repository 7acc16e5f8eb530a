/**
 * `npm run bench:prepared`: what storage/prepared.ts saves the main thread per query, in process
 * CPU time (robust on a shared machine): a hot select and a hot upsert built and compiled by
 * Kysely per call, as the repositories did, against the same query prepared once and only bound
 * per call (the parameters filled by position). On an in-memory SQLite store (the SQL text is
 * the dialect's; neither side executes, the driver's cost is the same for both).
 */
import { loadavg } from 'node:os';
import { openStore, migrateToLatest } from '../packages/server/dist/storage/connect.js';
import { prepared } from '../packages/server/dist/storage/prepared.js';
const store = openStore({ url: ':memory:' });
await migrateToLatest(store);
const db = store.db;
const built = (workspaceId, id) =>
  db
    .selectFrom('collaborator_groups')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .compile();
const once = prepared((db, p) =>
  db
    .selectFrom('collaborator_groups')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('id', '=', p.id),
);
const insertBuilt = (v) =>
  db
    .insertInto('group_memberships')
    .values({
      workspace_id: v,
      group_id: 'g',
      member_id: v,
      created_at: 'x',
      expires_at: null,
      invitation_id: null,
    })
    .onConflict((oc) =>
      oc
        .columns(['group_id', 'member_id'])
        .doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') })),
    )
    .compile();
const insertOnce = prepared((db, p) =>
  db
    .insertInto('group_memberships')
    .values({
      workspace_id: p.v,
      group_id: 'g',
      member_id: p.v,
      created_at: 'x',
      expires_at: null,
      invitation_id: null,
    })
    .onConflict((oc) =>
      oc
        .columns(['group_id', 'member_id'])
        .doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') })),
    ),
);
/** CPU time per call of f, after a warm-up (the JIT's work is not the query's). */
function time(label, f) {
  for (let i = 0; i < 20000; i++) f(i);
  const t = process.cpuUsage();
  const N = 200000;
  for (let i = 0; i < N; i++) f(i);
  const c = process.cpuUsage(t);
  console.log(`${label}: ${(((c.user + c.system) / N) * 1000).toFixed(0)} ns CPU a call`);
}
time('select built+compiled per call', (i) => built(1, 'g' + (i & 7)));
time('select prepared (bind only)', (i) => once.compile(db, { workspaceId: 1, id: 'g' + (i & 7) }));
time('upsert built+compiled per call', (i) => insertBuilt(i));
time('upsert prepared (bind only)', (i) => insertOnce.compile(db, { v: i }));
console.log(
  'load',
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' '),
);
await store.close();
