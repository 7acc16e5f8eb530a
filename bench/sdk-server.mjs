/**
 * The server of `npm run bench:sdk`, in its own process (the SDK's checks and the stream clients
 * run in the parent, so their CPU is not the server's): builds the app on the generated SQLite
 * file, listens on 127.0.0.1 and tells the parent its port; stops when the parent says so.
 */
import process from 'node:process';
import { startRosterApp } from './lib/roster-app.mjs';

const [file, token, dataDir] = process.argv.slice(2);
const { app, services, store } = await startRosterApp({ databaseUrl: file, dataDir, token });
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
