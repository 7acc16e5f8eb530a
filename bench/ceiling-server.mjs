/**
 * The server for `npm run bench:ceiling` (bench/ceiling.mjs): Roster on the generated data set,
 * and in the SAME process a bare Fastify (same version, default JSON parser) whose one route
 * answers a constant to the same request, and a second Roster app on the same store whose check
 * goes through Fastify's route (ROSTER_LEAN_CHECKS=false). All listen on 127.0.0.1; the parent
 * drives them in turn.
 */
import process from 'node:process';
import Fastify from 'fastify';
import { processCpuMs, startRosterApp, waitForWorkspace } from './lib/roster-app.mjs';

const [file, token, dataDir] = process.argv.slice(2);
const {
  app,
  services: rosterServices,
  store,
  config,
  buildApp,
} = await startRosterApp({
  databaseUrl: file,
  dataDir,
  token,
  env: {
    // Off unless set (bench/ceiling.mjs passes it on): a limit high enough for the run measures
    // what counting each check costs (the lean check counts in the plugin's counter).
    ROSTER_RATE_LIMIT_PER_MINUTE: process.env.ROSTER_RATE_LIMIT_PER_MINUTE ?? '0',
  },
});
await app.listen({ port: 0, host: '127.0.0.1' });
// The same check answered by Fastify's route (ROSTER_LEAN_CHECKS=false), for the record: Roster
// above serves it below Fastify (packages/server/src/http/lean-path.ts).
const viaFastify = await buildApp({
  store,
  config: { ...config, leanChecks: false },
  logger: false,
});
await viaFastify.app.listen({ port: 0, host: '127.0.0.1' });

// Each app loads the workspace in the background once it listens: wait for both loads, so that
// neither runs during a measured (or the other's warm-up) run.
for (const services of [rosterServices, viaFastify.services]) await waitForWorkspace(services);

const bare = Fastify({ logger: false });
const answer = { data: { allowed: true } };
bare.post('/api/access/check', async () => answer);
await bare.listen({ port: 0, host: '127.0.0.1' });

process.send({
  type: 'ready',
  roster: app.server.address().port,
  viaFastify: viaFastify.app.server.address().port,
  bare: bare.server.address().port,
});
process.on('message', async (message) => {
  if (message === 'cpu') process.send({ type: 'cpu', cpuMs: processCpuMs() });
  if (message === 'stop') {
    await bare.close();
    await viaFastify.app.close();
    await app.close();
    await store.close();
    process.exit(0);
  }
});
