/**
 * The server for `npm run bench:scim`, in its own process so the load generator's CPU is not
 * counted: a fresh database (SQLite file, or ROSTER_DATABASE_URL), migrated, the default workspace
 * with a known admin token, listening on 127.0.0.1; tells the parent its port.
 */
import { startRosterApp } from './lib/roster-app.mjs';

const [databaseUrl, token, dataDir] = process.argv.slice(2);
const { app, store } = await startRosterApp({ databaseUrl, dataDir, token, migrate: true });
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ type: 'ready', port: app.server.address().port, dialect: store.dialect });
process.on('message', async (message) => {
  if (message === 'stop') {
    await app.close();
    await store.close();
    process.exit(0);
  }
});
