/**
 * The server for `npm run bench:scim`, in its own process so the load generator's CPU is not
 * counted: a fresh database (SQLite file, or ROSTER_DATABASE_URL), migrated, the default workspace
 * with a known admin token, listening on 127.0.0.1; tells the parent its port.
 */
import { buildApp } from '../packages/server/dist/app.js';
import { loadConfig } from '../packages/server/dist/config.js';
import { migrateToLatest, openStore } from '../packages/server/dist/storage/connect.js';

const [databaseUrl, token, dataDir] = process.argv.slice(2);
const config = loadConfig({
  PORT: '0',
  ROSTER_DATA_DIR: dataDir,
  ROSTER_DATABASE_URL: databaseUrl,
  ROSTER_ADMIN_TOKEN: token,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_PUBLIC_URL: 'http://127.0.0.1',
});
const store = openStore({ url: config.databaseUrl });
await migrateToLatest(store);
const { app, services } = await buildApp({ store, config, logger: false });
await services.workspaces.ensureDefaultWorkspace(config.adminToken);
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ type: 'ready', port: app.server.address().port, dialect: store.dialect });
process.on('message', async (message) => {
  if (message === 'stop') {
    await app.close();
    await store.close();
    process.exit(0);
  }
});
