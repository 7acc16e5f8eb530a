/**
 * Several Roster servers on ONE database, as a deployment with more than one instance runs them,
 * and a server whose database the test can open too (to compare answers with plain SQL).
 *
 * On PostgreSQL every instance opens the same fresh database. On SQLite the database is a file in
 * a temporary directory (not `:memory:`), so the test can open it as well; SQLite deployments run
 * a single instance, so tests that need two skip there.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import {
  migrateToLatest,
  openStore,
  type Store,
} from '../../packages/server/src/storage/connect.js';
import { createTestDatabase, testDialect } from './database.js';
import { ADMIN_TOKEN, PLATFORM_TOKEN, TestClock, httpClient, type Roster } from './roster.js';

export type Instance = Roster & {
  stop(): Promise<void>;
  /**
   * As a killed process: stops listening and heartbeating without leaving the membership table,
   * so the others notice only when its lease runs out (or a forward to it fails).
   */
  crash(): Promise<void>;
};

export interface Cluster {
  /** The servers, in start order; the first one created the default workspace. */
  instances: Instance[];
  /** Opens the database the servers use (a new connection; close it with `store.close()`). */
  openDatabase(): Store;
  /**
   * Starts one more server on the database as it is now: its index is built from scratch, so its
   * answers are what a full rebuild gives (stop it with `stop()`; close() stops it too). `env`
   * adds to or overrides the cluster's environment for this instance only.
   */
  addInstance(env?: Record<string, string>): Promise<Instance>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  instances?: number;
  env?: Record<string, string>;
  /**
   * PostgreSQL only: the instances form a cluster with home instances (ROSTER_INSTANCE_URL on a
   * port picked beforehand, a shared ROSTER_SECRET_KEY, a fast heartbeat; docs/operations.md).
   */
  homes?: boolean;
}

/** The cluster settings of a `homes` cluster: a quick heartbeat so a lost instance drops out in 1 s. */
export const HOME_CLUSTER_ENV = {
  ROSTER_SECRET_KEY: 'cluster-test-secret-key-0123456789abcdef',
  ROSTER_CLUSTER_HEARTBEAT_MS: '200',
  ROSTER_CLUSTER_LEASE_MS: '1000',
};

/** A free loopback port: the instance's URL must be known before it listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function homeEnv(homes: boolean | undefined): Promise<Record<string, string>> {
  if (homes !== true) return {};
  const port = await freePort();
  return {
    ...HOME_CLUSTER_ENV,
    PORT: String(port),
    ROSTER_INSTANCE_URL: `http://127.0.0.1:${port}`,
  };
}

/** Starts `instances` servers (default 1) on one fresh database of this run's dialect. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.instances ?? 1;
  const root = await mkdtemp(path.join(tmpdir(), 'roster-cluster-'));
  const database =
    testDialect === 'sqlite'
      ? { url: path.join(root, 'roster.db'), drop: async () => {} }
      : await createTestDatabase();
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < count; i++)
      instances.push(
        await startInstance(database.url, path.join(root, `instance-${i}`), i === 0, {
          // `env` may set the cluster's timing (a longer lease) over HOME_CLUSTER_ENV's.
          ...(await homeEnv(options.homes)),
          ...options.env,
        }),
      );
  } catch (error) {
    for (const instance of instances) await instance.stop();
    await database.drop();
    throw error;
  }
  return {
    instances,
    openDatabase: () => openStore({ url: database.url, poolSize: 2 }),
    async addInstance(env?: Record<string, string>) {
      const instance = await startInstance(
        database.url,
        path.join(root, `instance-${instances.length}`),
        false,
        { ...(await homeEnv(options.homes)), ...options.env, ...env },
      );
      instances.push(instance);
      return {
        ...instance,
        async stop() {
          instances.splice(instances.indexOf(instance), 1);
          await instance.stop();
        },
        async crash() {
          instances.splice(instances.indexOf(instance), 1);
          await instance.crash();
        },
      };
    },
    async close() {
      for (const instance of instances) await instance.stop();
      await database.drop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function startInstance(
  databaseUrl: string,
  dataDir: string,
  first: boolean,
  env: Record<string, string> | undefined,
): Promise<Instance> {
  const config = loadConfig({
    PORT: '0',
    ROSTER_DATA_DIR: dataDir,
    ROSTER_DATABASE_URL: databaseUrl,
    ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    ROSTER_PLATFORM_TOKEN: PLATFORM_TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_PUBLIC_URL: 'http://roster.test',
    ...env,
  });
  const store = openStore({
    url: config.databaseUrl,
    poolSize: 4,
    sqliteWriter: config.sqliteWriter,
    postgresDriver: config.postgresDriver,
  });
  // Instances start one after the other: only the first migrates and creates the workspace.
  if (first) await migrateToLatest(store);
  const clock = new TestClock();
  const { app, services, routes } = await buildApp({ store, config, clock });
  if (first) await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  await app.listen({ port: config.port, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  const url = `http://127.0.0.1:${address.port}`;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await store.close();
  };
  const crash = async () => {
    services.membership?.halt();
    app.server.closeAllConnections();
    await stop();
  };
  return {
    url,
    clock,
    adminToken: ADMIN_TOKEN,
    ...httpClient(url),
    routes,
    async outbox() {
      try {
        const text = await readFile(path.join(dataDir, 'outbox.jsonl'), 'utf8');
        return text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { to: string; subject: string; text: string });
      } catch {
        return [];
      }
    },
    close: stop,
    stop,
    crash,
  };
}
