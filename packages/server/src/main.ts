/**
 * Starts Roster: configuration → storage → migrations → first-start defaults → HTTP server.
 */
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { loadConfig } from './config.js';
import { migrateToLatest, openStore } from './storage/connect.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const store = openStore({
    url: config.databaseUrl,
    sqliteWriter: config.sqliteWriter,
    postgresDriver: config.postgresDriver,
    threadHeapMb: config.storeThreadHeapMb,
    threadNice: config.storeThreadNice,
  });
  await migrateToLatest(store);
  const { app, services } = await buildApp({ store, config, logger: { level: config.logLevel } });

  const bootstrap = await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  if (bootstrap.created && config.adminToken === undefined && bootstrap.token !== undefined) {
    // Printed once, on the first start only, and before listening (a busy port must not lose it):
    // the token is stored hashed and cannot be shown again.
    process.stdout.write(
      `\nRoster created the default workspace. Its admin API token is shown this once (it is stored hashed; keep it safe):\n  Admin API token: ${bootstrap.token}\n`,
    );
  }

  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ port: config.port, host: config.host });
  // For the person who started it, in plain words among the JSON logs: where to open the console.
  process.stdout.write(
    startBanner({
      listening: listeningUrl(app.server.address(), config.host),
      // With PORT=0 the configured URL names port 0: the real one is where it listens.
      open: config.port === 0 ? undefined : config.publicUrl,
      setupRequired: await services.console.setupRequired(),
    }),
  );
  app.log.info(
    {
      database: store.dialect,
      mail: services.mailer.describe(),
      platformApi: config.platformToken !== undefined,
    },
    `Roster listening on ${config.publicUrl}`,
  );
}

/** The address the server listens on (the real port when PORT=0 picked one). */
function listeningUrl(address: AddressInfo | string | null, host: string): string {
  if (address === null || typeof address === 'string') return `http://${host}`;
  const name = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${name}:${String(address.port)}`;
}

/**
 * What start-up tells a person: where Roster listens, and where to open the console
 * (ROSTER_PUBLIC_URL, the address users reach) for the first thing to do there.
 */
function startBanner(start: {
  listening: string;
  open: string | undefined;
  setupRequired: boolean;
}): string {
  const base = (start.open ?? start.listening).replace(/\/+$/, '');
  const next = start.setupRequired
    ? `open ${base}/setup to create the first console admin with the admin API token`
    : `open ${base}/ to sign in to the console`;
  return `\nRoster is listening on ${start.listening} — ${next}.\nAPI reference: ${base}/api/docs\n\n`;
}

/** A start-up failure's cause: an Error or a primitive as String() prints it, any other object inspected. */
function describeCause(cause: unknown): string {
  if (cause instanceof Error) return String(cause);
  if (typeof cause === 'object' && cause !== null) return inspect(cause);
  return String(cause);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Roster failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  if (error instanceof Error && error.cause !== undefined)
    process.stderr.write(`  cause: ${describeCause(error.cause)}\n`);
  process.exit(1);
});
