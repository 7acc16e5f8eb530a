/**
 * `node bench/audit-scope.mjs [BASE_DIST]`: what scoping the audit log (issue 13) costs, on SQLite,
 * in one process. For this build (and, given the `packages/server/dist` of another build, for it
 * too, in alternating rounds so the machine's drift hits both alike): the CPU time of a write that
 * records an audit event (`POST /api/features`, DEV and PROD alternately; the insert now derives
 * the event's environment), and of `GET /api/audit_events` (a page of 100) for a full-scope token
 * and, on this build, for a PROD-only API client, on a log of BENCH_AUDIT_EVENTS events. Prints
 * os.loadavg() with the figures. No target was set for this cost: the figures say what it is.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const TOKEN = 'rst_bench_admin_token_0123456789';
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const baseDist = process.argv[2];
const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_AUDIT_ROUNDS ?? 4);
const WRITES = 300;
const LISTS = 200;
const dir = mkdtempSync(path.join(os.tmpdir(), 'roster-audit-scope-'));

async function load(name, dist) {
  const { buildApp } = await import(`${dist}/app.js`);
  const { loadConfig } = await import(`${dist}/config.js`);
  const { openStore, migrateToLatest } = await import(`${dist}/storage/connect.js`);
  const file = path.join(dir, `${name}.sqlite`);
  const config = loadConfig({
    PORT: '0',
    ROSTER_DATA_DIR: dir,
    ROSTER_DATABASE_URL: file,
    ROSTER_ADMIN_TOKEN: TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_PUBLIC_URL: 'http://127.0.0.1',
  });
  const store = openStore({ url: config.databaseUrl });
  await migrateToLatest(store);
  const { app, services } = await buildApp({ store, config, logger: false });
  await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  await app.ready();
  const call = async (method, url, body, token = TOKEN) => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body }),
    });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const prod = await call('POST', '/api/api_clients', {
    name: 'prod',
    environment_types: ['prod'],
  });
  let n = 0;
  const write = () =>
    call('POST', '/api/features', {
      name: `f${name}${n}`,
      kind: 'assistant',
      environment_type: n++ % 2 === 0 ? 'dev' : 'prod',
    });
  // The log: a third DEV, a third PROD, a third workspace-level (collaborator groups).
  for (let i = 0; i < EVENTS; i++) {
    if (i % 3 === 2)
      await call('POST', '/api/user_groups', { user_group: { name: `g${name}${i}` } });
    else await write();
  }
  return { name, app, call, write, prodToken: prod.data.token };
}

/** CPU microseconds per operation over `count` runs of `op`. */
async function cpuPer(count, op) {
  const start = process.cpuUsage();
  for (let i = 0; i < count; i++) await op();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / count;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const builds = [await load('this', path.join(here, 'packages/server/dist'))];
if (baseDist !== undefined) builds.push(await load('base', path.resolve(baseDist)));
const figures = Object.fromEntries(
  builds.map((b) => [b.name, { write: [], listFull: [], listProd: [] }]),
);
for (let round = 0; round < ROUNDS; round++) {
  for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
    const f = figures[build.name];
    f.write.push(await cpuPer(WRITES, build.write));
    f.listFull.push(
      await cpuPer(LISTS, () => build.call('GET', '/api/audit_events?page[size]=100')),
    );
    if (build.name === 'this')
      f.listProd.push(
        await cpuPer(LISTS, () =>
          build.call('GET', '/api/audit_events?page[size]=100', undefined, build.prodToken),
        ),
      );
  }
}
const ms = (us) => `${(us / 1000).toFixed(3)} ms`;
console.log(
  `audit scope, SQLite, ${EVENTS} events in the log, ${ROUNDS} rounds (median of rounds); loadavg ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const [name, f] of Object.entries(figures)) {
  console.log(`${name}: CPU per write (POST /api/features) ${ms(median(f.write))}`);
  console.log(
    `${name}: CPU per GET /api/audit_events page of 100, full scope ${ms(median(f.listFull))}`,
  );
  if (f.listProd.length > 0)
    console.log(
      `${name}: CPU per GET /api/audit_events page of 100, PROD-only client ${ms(median(f.listProd))}`,
    );
}
for (const build of builds) await build.app.close();
rmSync(dir, { recursive: true, force: true });
