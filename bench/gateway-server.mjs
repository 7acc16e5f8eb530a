/**
 * A Roster instance for `npm run bench:gateway`, in its own process so that its CPU time is the
 * gateway's alone: builds the app from packages/server/dist on the given database, listens on
 * 127.0.0.1, tells the parent its port, and answers `cpu` messages with process.cpuUsage().
 * Arguments: database URL (a SQLite file or postgres://), data directory, `first` (migrate and
 * create the default workspace) or `next`. BENCH_DIST picks another build (below).
 */
import { createServer } from 'node:http';
import process from 'node:process';
import { startRosterApp } from './lib/roster-app.mjs';

const [databaseUrl, dataDir, role, token] = process.argv.slice(2);
const { app, services, store } = await startRosterApp({
  // BENCH_DIST=<dir>: another build of the server (a path from the repository root, e.g. a copy
  // of packages/server/dist built from an earlier commit), for back-to-back comparisons.
  dist: new URL(`../${process.env.BENCH_DIST ?? 'packages/server/dist'}/`, import.meta.url),
  databaseUrl,
  dataDir,
  token,
  env: {
    // Every instance of a cluster needs the same key (upstream headers are sealed with it).
    ROSTER_SECRET_KEY: 'bench-secret-key-0123456789-abcdefghij',
  },
  migrate: role === 'first',
});
await app.listen({ port: 0, host: '127.0.0.1' });
// The same app on a second port with Fastify's router only (no lean path in front): the gateway
// as it answered tools/call before the lean path, for the back-to-back comparison.
const viaFastify = createServer((req, res) => app.routing(req, res));
viaFastify.keepAliveTimeout = 72_000;
await new Promise((resolve) => viaFastify.listen(0, '127.0.0.1', resolve));
process.send({
  type: 'ready',
  port: app.server.address().port,
  fastifyPort: viaFastify.address().port,
});
// BENCH_PROF=dir: a CPU profile of the measured calls only (between the parent's cpu readings).
let profiler;
if (process.env.BENCH_PROF) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  let rows = 0;
  process.on('message', async (m) => {
    if (m.type === 'profile-start') await profiler.post('Profiler.start');
    if (m.type === 'profile-stop') {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(
        `${process.env.BENCH_PROF}/gateway-${process.pid}-${(rows += 1)}.cpuprofile`,
        JSON.stringify(profile),
      );
    }
  });
}
process.on('message', (m) => {
  if (m.type === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
  if (m.type === 'stats') process.send({ type: 'stats', toolCalls: services.toolCalls.stats });
});
process.on('disconnect', () => {
  viaFastify.close();
  void app
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
