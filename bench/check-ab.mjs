/**
 * `node bench/check-ab.mjs OTHER_ROOT OTHER_DB THIS_DB`: the check path of another build (a
 * checkout whose packages are built, e.g. `git worktree add /tmp/base a4722f8`) and of this one,
 * in ONE process, timed in alternating rounds, so that the machine's drift hits both alike. Each
 * build reads a data set its own bench/generate.mjs made (bench/check.mjs makes one). Prints, per
 * build, the p50 of single timed checks and the CPU time per check of an untimed loop, per round.
 */
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng, SIZES } from './generate.mjs';

const TOKEN = 'rst_bench_admin_token_0123456789';
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [otherRoot, otherDb, thisDb] = process.argv.slice(2);
if (thisDb === undefined) throw new Error('usage: check-ab.mjs OTHER_ROOT OTHER_DB THIS_DB');

async function load(root, file) {
  const dist = `${path.resolve(root)}/packages`;
  const { buildApp } = await import(`${dist}/server/dist/app.js`);
  const { loadConfig } = await import(`${dist}/server/dist/config.js`);
  const { openStore } = await import(`${dist}/server/dist/storage/connect.js`);
  const { PROJECT_RESOURCES } = await import(`${dist}/contracts/dist/index.js`);
  const config = loadConfig({
    PORT: '0',
    ROSTER_DATA_DIR: path.dirname(file),
    ROSTER_DATABASE_URL: file,
    ROSTER_ADMIN_TOKEN: TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_PUBLIC_URL: 'http://127.0.0.1',
  });
  const store = openStore({ url: config.databaseUrl });
  const { app, services } = await buildApp({ store, config, logger: false });
  await app.ready();
  const index = services.accessIndex;
  const ws = index.workspace(1);
  // Before the access-index split the rule was a method of the index; after it, a function.
  const check =
    typeof ws.allowsProject === 'function'
      ? (c) =>
          ws.allowsProject(
            ws.memberById(c.memberId),
            c.projectId,
            ws.bitOf(c.resource, c.privilege),
            index.nowMs(),
          )
      : await import(`${dist}/server/dist/modules/decisions/privilege-evaluation.js`).then(
          ({ allowsProject }) =>
            (c) =>
              allowsProject(
                ws,
                ws.memberById(c.memberId),
                c.projectId,
                ws.bitOf(c.resource, c.privilege),
                index.nowMs(),
              ),
        );
  return { check, PROJECT_RESOURCES };
}

const builds = { other: await load(otherRoot, otherDb), this: await load(here, thisDb) };
const random = prng(7);
const pick = (n) => Math.floor(random() * n);
const pairs = Object.entries(builds.this.PROJECT_RESOURCES).flatMap(([resource, def]) =>
  def.privileges.map((privilege) => [resource, privilege]),
);
const N = 100_000;
const checks = Array.from({ length: N }, () => {
  const [resource, privilege] = pairs[pick(pairs.length)];
  return {
    memberId: 1 + pick(SIZES.users),
    projectId: 1 + pick(SIZES.projects),
    resource,
    privilege,
  };
});
for (const build of Object.values(builds))
  for (let i = 0; i < 300_000; i++) build.check(checks[i % N]);

const results = { other: { p50: [], cpuNs: [] }, this: { p50: [], cpuNs: [] } };
for (let round = 0; round < 8; round++) {
  const order = round % 2 === 0 ? ['other', 'this'] : ['this', 'other'];
  for (const name of order) {
    const { check } = builds[name];
    const latencies = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const t0 = process.hrtime.bigint();
      check(checks[i]);
      latencies[i] = Number(process.hrtime.bigint() - t0);
    }
    latencies.sort();
    const cpuStarted = process.cpuUsage();
    for (let k = 0; k < 5; k++) for (let i = 0; i < N; i++) check(checks[i]);
    const cpu = process.cpuUsage(cpuStarted);
    results[name].p50.push(latencies[N / 2] / 1000);
    results[name].cpuNs.push(((cpu.user + cpu.system) * 1000) / (5 * N));
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [name, { p50, cpuNs }] of Object.entries(results))
  console.log(
    `${name}: p50 µs ${p50.map((v) => v.toFixed(3)).join(' ')} (median ${median(p50).toFixed(3)}); ` +
      `CPU ns/check ${cpuNs.map((v) => v.toFixed(0)).join(' ')} (median ${median(cpuNs).toFixed(0)})`,
  );
process.exit(0);
