/**
 * The server side of the benchmarks that run Roster in a process of their own (so that its CPU
 * time and memory are the server's alone): the app built from a build's packages/server/dist on a
 * database, configured as every benchmark configures it, and the wait for a workspace's index.
 * Shared by bench/batch-ab-server.mjs, ceiling-server.mjs, sdk-server.mjs, gateway-server.mjs,
 * mixed-server.mjs and scim-server.mjs.
 */
import process from 'node:process';
import { pathToFileURL } from 'node:url';

/** This checkout's build. */
export const THIS_DIST = new URL('../../packages/server/dist/', import.meta.url);

/** A build's dist folder as a URL: a path (absolute, or from the current directory) or a URL. */
export function distUrl(dist) {
  if (dist instanceof URL) return dist;
  const url = pathToFileURL(dist);
  return url.href.endsWith('/') ? url : new URL(`${url.href}/`);
}

/**
 * Builds the app of the build at `dist` (this one by default) on `databaseUrl` (a SQLite file or
 * postgres://), with the bench admin token and no rate limit unless `env` says otherwise, and
 * `migrate` first when the database is new (the default workspace is then created too).
 * Returns what buildApp returns, with the store and the config.
 */
export async function startRosterApp({
  dist = THIS_DIST,
  databaseUrl,
  dataDir,
  token,
  env = {},
  migrate = false,
}) {
  const base = distUrl(dist);
  const { buildApp } = await import(new URL('app.js', base).href);
  const { loadConfig } = await import(new URL('config.js', base).href);
  const { migrateToLatest, openStore } = await import(new URL('storage/connect.js', base).href);
  const config = loadConfig({
    PORT: '0',
    ROSTER_DATA_DIR: dataDir,
    ROSTER_DATABASE_URL: databaseUrl,
    ROSTER_ADMIN_TOKEN: token,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_PUBLIC_URL: 'http://127.0.0.1',
    // The store threads' priority as the bench was started with (A/B: ROSTER_STORE_THREAD_NICE=0).
    ...(process.env.ROSTER_STORE_THREAD_NICE === undefined
      ? {}
      : { ROSTER_STORE_THREAD_NICE: process.env.ROSTER_STORE_THREAD_NICE }),
    // The old generation's slack likewise (A/B: ROSTER_HEAP_SLACK_MB=0, V8's own choice).
    ...(process.env.ROSTER_HEAP_SLACK_MB === undefined
      ? {}
      : { ROSTER_HEAP_SLACK_MB: process.env.ROSTER_HEAP_SLACK_MB }),
    ...env,
  });
  // ROSTER_SQLITE_WRITER and ROSTER_POSTGRES_DRIVER in `env` reach the store as they do in
  // main.ts (a build from before either setting has neither: undefined is its default).
  const store = openStore({
    url: config.databaseUrl,
    sqliteWriter: config.sqliteWriter,
    postgresDriver: config.postgresDriver,
    threadNice: config.storeThreadNice,
  });
  if (migrate) await migrateToLatest(store);
  const { app, services } = await buildApp({ store, config, logger: false });
  if (migrate) await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  return { app, services, store, config, buildApp };
}

/**
 * Waits until the workspace's index is loaded. Older builds load every workspace at ready; newer
 * ones on first use, warmed in the background from start, and answer 503 past their wait bound
 * while the load goes on.
 */
export async function waitForWorkspace(services, workspaceId = 1) {
  for (;;) {
    try {
      await services.accessIndex.ready(workspaceId);
      return;
    } catch (error) {
      if (error?.status !== 503) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** This process's CPU time so far (user + system, all threads), in milliseconds. */
export function processCpuMs() {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
