/**
 * The server of bench/batch-ab.mjs: the build under ROOT on a data set its own bench/generate.mjs
 * made, listening on 127.0.0.1; answers 'cpu' with its process CPU time, 'stop' by exiting.
 */
import path from 'node:path';
import process from 'node:process';
import { processCpuMs, startRosterApp, waitForWorkspace } from './lib/roster-app.mjs';

const [root, file, token, dataDir] = process.argv.slice(2);
const { app, services, store } = await startRosterApp({
  dist: path.join(path.resolve(root), 'packages/server/dist'),
  databaseUrl: file,
  dataDir,
  token,
});
await app.ready();
await waitForWorkspace(services);
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ type: 'ready', port: app.server.address().port });
process.on('message', async (message) => {
  if (message === 'cpu') process.send({ type: 'cpu', cpuMs: processCpuMs() });
  if (message === 'stop') {
    await app.close();
    await store.close();
    process.exit(0);
  }
});
