#!/usr/bin/env node
// Runs the vitest suite once per storage dialect: SQLite always, PostgreSQL when
// ROSTER_TEST_DATABASE_URL names a server (an admin URL; tests create and drop their own databases).
// First builds the server (tsc -b, incremental: under a second when up to date), because
// tests/api/server-start.test.ts runs packages/server/dist/main.js as `npm start` does and a fresh
// `npm install` has no dist/. (The browser tests build the console themselves when it is stale.)
// Extra arguments go to vitest (e.g. `npm test -- tests/members.test.ts`).
// Closes with one line `N passed, M failed[, K skipped]` summed over both runs; exits non-zero if any run failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const vitestPackage = require.resolve('vitest/package.json', { paths: [root] });
const vitestBin = path.join(path.dirname(vitestPackage), require(vitestPackage).bin.vitest);
const extraArgs = process.argv.slice(2);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'roster-test-'));

let child;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (child) child.kill(signal);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function runVitest(dialect) {
  const report = path.join(tmp, `${dialect}.json`);
  const args = [
    vitestBin,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...extraArgs,
  ];
  console.log(`\n=== vitest on ${dialect} ===`);
  const started = Date.now();
  return new Promise((resolve) => {
    child = spawn(process.execPath, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ROSTER_TEST_DIALECT: dialect },
    });
    child.on('error', (error) => {
      console.error(`could not start vitest: ${error.message}`);
      resolve({ dialect, code: 1, report, seconds: 0 });
    });
    child.on('exit', (code, signal) => {
      child = undefined;
      resolve({
        dialect,
        code: code ?? (signal ? 1 : 0),
        report,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

function count(run) {
  const counts = { passed: 0, failed: 0, skipped: 0, note: '' };
  if (existsSync(run.report)) {
    const json = JSON.parse(readFileSync(run.report, 'utf8'));
    counts.passed = json.numPassedTests ?? 0;
    counts.failed = json.numFailedTests ?? 0;
    counts.skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0);
    // A file that failed outside any test (import error, failing beforeAll) has no failed test case:
    // count it as one failure, so the totals never say "0 failed" for a failed run.
    const brokenFiles = (json.testResults ?? []).filter(
      (file) =>
        file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
    ).length;
    if (brokenFiles > 0) {
      counts.failed += brokenFiles;
      counts.note = `${brokenFiles} test file(s) failed outside a test case`;
    }
  }
  if (run.code !== 0 && counts.failed === 0) {
    counts.failed = 1;
    counts.note = existsSync(run.report)
      ? `vitest exited ${run.code} (e.g. an unhandled error or no test files matched)`
      : `vitest exited ${run.code} without writing a report`;
  }
  return counts;
}

/** `tsc -b packages/server` (and the contracts it references); resolves to its exit code. */
function buildServer() {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  // tsc -b trusts its .tsbuildinfo files: with them present and dist/ deleted it would build
  // nothing, so a missing output forces a full build.
  const outputs = ['packages/contracts/dist/index.js', 'packages/server/dist/main.js'];
  const force = outputs.some((file) => !existsSync(path.join(root, file)));
  const args = [tsc, '-b', 'packages/server', ...(force ? ['--force'] : [])];
  console.log(`=== build: tsc ${args.slice(1).join(' ')} ===`);
  return new Promise((resolve) => {
    child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    child.on('error', (error) => {
      console.error(`could not start tsc: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      child = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const buildCode = await buildServer();
if (buildCode !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  console.log(`\n=== summary ===\nbuild failed (tsc exit ${buildCode}): no test ran`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const runs = [];
runs.push(await runVitest('sqlite'));
const postgresUrl = process.env.ROSTER_TEST_DATABASE_URL;
let postgresSkipped = false;
if (postgresUrl) {
  runs.push(await runVitest('postgres'));
} else {
  postgresSkipped = true;
}

const total = { passed: 0, failed: 0, skipped: 0 };
console.log('\n=== summary ===');
for (const run of runs) {
  const counts = count(run);
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
  const note = counts.note ? `; ${counts.note}` : '';
  console.log(
    `${run.dialect.padEnd(8)} exit ${run.code} in ${run.seconds.toFixed(1)}s: ` +
      `passing ${counts.passed}, failing ${counts.failed}, skipping ${counts.skipped}${note}`,
  );
}
rmSync(tmp, { recursive: true, force: true });
if (postgresSkipped) console.log('PostgreSQL half SKIPPED: ROSTER_TEST_DATABASE_URL is not set');
// The same folder tests/scim/helpers.ts looks in: Okta's and Microsoft's suites are not in the repo.
const conformanceDir = path.resolve(
  process.env.ROSTER_SCIM_CONFORMANCE_DIR ?? path.join(root, '../shared/conformance/scim'),
);
if (!existsSync(conformanceDir)) {
  console.log(
    `SCIM conformance suites SKIPPED: ${conformanceDir} not found (set ROSTER_SCIM_CONFORMANCE_DIR)`,
  );
}
const failedRun = runs.some((run) => run.code !== 0);
console.log(
  `${total.passed} passed, ${total.failed} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ''}`,
);
process.exit(failedRun ? 1 : 0);
