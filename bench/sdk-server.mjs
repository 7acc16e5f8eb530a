/**
 * The server of `npm run bench:sdk`, in its own process (the SDK's checks and the stream clients
 * run in the parent, so their CPU is not the server's): builds the app on the generated SQLite
 * file, listens on 127.0.0.1 and tells the parent its port; stops when the parent says so.
 */
import process from 'node:process';
import { buildApp } from '../packages/server/dist/app.js';
import { loadConfig } from '../packages/server/dist/config.js';
import { openStore } from '../packages/server/dist/storage/connect.js';

const [file, token, dataDir] = process.argv.slice(2);
const config = loadConfig({
  PORT: '0',
  ROSTER_DATA_DIR: dataDir,
  ROSTER_DATABASE_URL: file,
  ROSTER_ADMIN_TOKEN: token,
  ROSTER_RATE_LIMIT_PER_MINUTE: '0',
  ROSTER_PUBLIC_URL: 'http://127.0.0.1',
});
const store = openStore({ url: config.databaseUrl });
const { app, services } = await buildApp({ store, config, logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ port: app.server.address().port });
process.on('message', async (message) => {
  if (message === 'clients') {
    process.send({ clients: services.eventStream.clientCount() });
    return;
  }
  await app.close();
  await store.close();
  process.exit(0);
});
