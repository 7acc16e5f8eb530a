/**
 * What an end user's check costs as a feature's direct grants grow: `node --expose-gc
 * bench/feature-grant-checks.mjs [--dist PATH]`. In one process, no HTTP: an end-user slice
 * (modules/decisions/end-user-index.ts) of N users in PROD, each granted the feature directly,
 * then 20,000 checks of users picked across the slice, for N = 10, 5,000 and 100,000; printed:
 * the CPU time a check and the heap the first check added (the checks' grant lookup, built once
 * per change of the feature's grants). `--dist PATH` runs another build's packages/server/dist
 * (a worktree of an earlier commit: the before of a before/after pair).
 */
import { parseArgs } from 'node:util';
import { THIS_DIST, distUrl } from './lib/roster-app.mjs';

const { values: args } = parseArgs({ options: { dist: { type: 'string' } } });
const dist = args.dist === undefined ? THIS_DIST : distUrl(args.dist);
const { EndUserSlice, evaluateEndUser } = await import(
  new URL('modules/decisions/end-user-index.js', dist).href
);
const gc = globalThis.gc ?? (() => undefined);
const CHECKS = 20_000;
const prod = { id: 1, type: 'prod' };

console.log(
  `build ${dist.pathname}${globalThis.gc === undefined ? ' (no --expose-gc: no heap figure)' : ''}`,
);
console.log('');
console.log('| direct grants on the feature | CPU a check | heap the first check added |');
console.log('| ---: | ---: | ---: |');
for (const n of [10, 5_000, 100_000]) {
  const rows = {
    users: [],
    environmentAccess: [],
    groups: [{ id: 1, environment_id: 1, name: 'Everyone', managed_by: 'roster', system: 1 }],
    groupMembers: [],
    features: [{ id: 1, environment_id: 1, name: 'Bench feature' }],
    featureGrants: [],
    policies: [],
    policyTargets: [],
  };
  for (let i = 1; i <= n; i++) {
    rows.users.push({
      id: i,
      name: `User ${i}`,
      email: `u${i}@x.example`,
      email_key: `u${i}@x.example`,
      status: 'active',
    });
    rows.environmentAccess.push({ end_user_id: i, environment_id: 1 });
    rows.featureGrants.push({ id: i, feature_id: 1, end_user_id: i, group_id: null });
  }
  const slice = new EndUserSlice(rows);
  const feature = slice.features.get(1);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  evaluateEndUser(slice, slice.users.get(1), prod, feature, null);
  gc();
  const heapAdded = process.memoryUsage().heapUsed - heapBefore;
  let allowed = 0;
  const started = process.cpuUsage();
  for (let i = 0; i < CHECKS; i++) {
    const user = slice.users.get(1 + ((i * 7919) % n));
    if (evaluateEndUser(slice, user, prod, feature, null).kind === 'allow') allowed += 1;
  }
  const used = process.cpuUsage(started);
  if (allowed !== CHECKS) throw new Error(`${allowed} of ${CHECKS} checks allowed`);
  console.log(
    `| ${n.toLocaleString('en')} | ${((used.user + used.system) / CHECKS).toFixed(2)} µs | ${
      globalThis.gc === undefined ? '—' : `${(heapAdded / 1024).toFixed(0)} KB`
    } |`,
  );
}
