/**
 * Starts Roster: configuration → storage → migrations → first-start defaults → HTTP server.
 */
import { inspect } from 'node:util';
import { loadConfig } from './config.js';
import { migrateToLatest, openStore } from './storage/connect.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const store = openStore({ url: config.databaseUrl });
  await migrateToLatest(store);
  const { app, services } = await buildApp({ store, config, logger: { level: config.logLevel } });

  const bootstrap = await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  if (bootstrap.created && config.adminToken === undefined && bootstrap.token !== undefined) {
    // Printed once, on the first start only: the token is stored hashed and cannot be shown again.
    process.stdout.write(
      `\nRoster created the default workspace. Its admin API token (shown once, keep it safe):\n\n  ${bootstrap.token}\n\n`,
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
  app.log.info(
    {
      database: store.dialect,
      mail: services.mailer.describe(),
      platformApi: config.platformToken !== undefined,
    },
    `Roster listening on ${config.publicUrl}`,
  );
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
