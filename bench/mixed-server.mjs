/**
 * The server for `npm run bench:mixed` (bench/mixed.mjs), in its own process: a fresh database
 * (SQLite file, its writes on the writer thread or the main thread: ROSTER_SQLITE_WRITER, the
 * fourth argument; or a PostgreSQL URL), migrated, the default workspace with a known admin token,
 * listening on 127.0.0.1. On request it reports its CPU time and how long its event loop was held
 * (perf_hooks.monitorEventLoopDelay: the delay a timer saw, i.e. how long a check arriving at that
 * moment waited before the server could even read it), then resets the histogram.
 */
import process from 'node:process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { buildApp } from '../packages/server/dist/app.js';
import { loadConfig } from '../packages/server/dist/config.js';
import { migrateToLatest, openStore } from '../packages/server/dist/storage/connect.js';

const [databaseUrl, token, dataDir, writer = 'thread'] = process.argv.slice(2);
// Statements sent to PostgreSQL (each a round trip: a socket write that wakes a backend), counted
// where every query of the server's pool passes: a figure the machine's load does not change.
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  statements += 1;
  return query.apply(this, args);
};
const config = loadConfig({
  PORT: '0',
  ROSTER_DATA_DIR: dataDir,
  ROSTER_DATABASE_URL: databaseUrl,
  ROSTER_ADMIN_TOKEN: token,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_PUBLIC_URL: 'http://127.0.0.1',
  ROSTER_SQLITE_WRITER: writer,
});
const store = openStore({ url: config.databaseUrl, sqliteWriter: config.sqliteWriter });
await migrateToLatest(store);
const { app, services } = await buildApp({ store, config, logger: false });
await services.workspaces.ensureDefaultWorkspace(config.adminToken);
await app.listen({ port: 0, host: '127.0.0.1' });
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
process.send({ type: 'ready', port: app.server.address().port, dialect: store.dialect });
process.on('message', async (message) => {
  if (message === 'stats') {
    const usage = process.cpuUsage();
    process.send({
      type: 'stats',
      cpuMs: (usage.user + usage.system) / 1000,
      statements,
      loop: {
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      },
    });
    loop.reset();
  }
  if (message === 'cpu') {
    // CPU time only (the per-interval figures), without resetting the event-loop histogram.
    const usage = process.cpuUsage();
    process.send({ type: 'cpu', cpuMs: (usage.user + usage.system) / 1000 });
  }
  if (message === 'stop') {
    loop.disable();
    await app.close();
    await store.close();
    process.exit(0);
  }
});
