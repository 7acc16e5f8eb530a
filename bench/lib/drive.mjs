/**
 * The parent side of the HTTP check benchmarks (bench/ceiling.mjs, bench/batch-ab.mjs): the bench
 * admin token, the server process forked with its message protocol (`ready`, `cpu`, `stop`), the
 * check bodies `npm run bench` sends, one autocannon run, and the load average printed with
 * every figure.
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { PROJECT_RESOURCES } from '../../packages/contracts/dist/index.js';
import { prng, SIZES } from '../generate.mjs';

export const TOKEN = 'rst_bench_admin_token_0123456789';

/** Progress lines go to stderr, so that stdout holds only the results. */
export const log = (text) => process.stderr.write(`${text}\n`);

/** The machine's load average (1/5/15 min), as the result tables print it. */
export const loadAverage = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ');

/**
 * Forks a bench server script that sends `{ type: 'ready', … }` once it listens, answers 'cpu'
 * with `{ type: 'cpu', cpuMs }` and exits on 'stop'; it is killed if this process exits first.
 */
export function forkServer(script, args) {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  process.on('exit', () => child.kill());
  const next = (type) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
    });
  return {
    ready: next('ready'),
    /** The server process's CPU time so far (ms). */
    async cpuMs() {
      child.send('cpu');
      return (await next('cpu')).cpuMs;
    },
    stop: () => child.send('stop'),
  };
}

/**
 * Random checks as `npm run bench` makes them: a member, a project and a privilege of the
 * generated data set, from the benches' own seed (the same bodies from run to run).
 */
export function randomChecks() {
  const random = prng(99);
  const pairs = Object.entries(PROJECT_RESOURCES).flatMap(([resource, def]) =>
    def.privileges.map((privilege) => [resource, privilege]),
  );
  return () => {
    const [resource, privilege] = pairs[Math.floor(random() * pairs.length)];
    return {
      subject: { member_id: 1 + Math.floor(random() * SIZES.users) },
      project_id: 1 + Math.floor(random() * SIZES.projects),
      resource,
      privilege,
    };
  };
}

/**
 * One autocannon run of POSTs to `path` on 127.0.0.1:`port` with the bench token, the bodies
 * taken in turn; resolves with autocannon's result.
 */
export function postRun({ port, path, bodies, duration, connections }) {
  let n = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        method: 'POST',
        duration,
        connections,
        requests: [
          {
            method: 'POST',
            path,
            setupRequest: (req) => ({ ...req, body: bodies[n++ % bodies.length] }),
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
  });
}
