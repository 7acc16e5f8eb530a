/**
 * The server of bench/batch-ab.mjs: the build under ROOT on a data set its own bench/generate.mjs
 * made, listening on 127.0.0.1; answers 'cpu' with its process CPU time, 'stop' by exiting.
 */
import process from 'node:process';
import path from 'node:path';

const [root, file, token, dataDir] = process.argv.slice(2);
const dist = `${path.resolve(root)}/packages/server/dist`;
const { buildApp } = await import(`${dist}/app.js`);
const { loadConfig } = await import(`${dist}/config.js`);
const { openStore } = await import(`${dist}/storage/connect.js`);
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
await app.ready();
// Older builds load every workspace at ready; newer ones on first use (503 past the wait bound).
for (;;) {
  try {
    await services.accessIndex.ready(1);
    break;
  } catch (error) {
    if (error?.status !== 503) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ type: 'ready', port: app.server.address().port });
process.on('message', async (message) => {
  if (message === 'cpu') {
    const usage = process.cpuUsage();
    process.send({ type: 'cpu', cpuMs: (usage.user + usage.system) / 1000 });
  }
  if (message === 'stop') {
    await app.close();
    await store.close();
    process.exit(0);
  }
});
