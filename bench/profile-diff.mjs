/**
 * `node bench/profile-diff.mjs EARLY.cpuprofile LATE.cpuprofile [TOP]`: which functions' self
 * time per request grew between two CPU profiles of the same server (bench/mixed.mjs
 * --profile-windows writes one early and one late in a soak, each with a `.requests` file beside
 * it holding the requests answered in its window). Without those files, per second of profile.
 * Prints the TOP (default 25) functions by growth, then by late self time, and the totals.
 */
import { existsSync, readFileSync } from 'node:fs';

const [earlyFile, lateFile, topArg] = process.argv.slice(2);
if (earlyFile === undefined || lateFile === undefined) {
  console.error('usage: node bench/profile-diff.mjs EARLY.cpuprofile LATE.cpuprofile [TOP]');
  process.exit(2);
}
const TOP = Number(topArg ?? 25);

/** Self time (µs) per function (name, file, line), the profile's length, and its divisor. */
function read(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  // timeDeltas[i] is the time before sample i: each sample's node gets the delta after it.
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const node = byNode.get(samples[i]);
    const frame = node.callFrame;
    const url = frame.url.replace(/^.*\/(packages|node_modules)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
    const delta = timeDeltas[i + 1] ?? 0;
    self.set(key, (self.get(key) ?? 0) + delta);
  }
  const durationUs = profile.endTime - profile.startTime;
  const requestsFile = `${file}.requests`;
  const requests = existsSync(requestsFile) ? Number(readFileSync(requestsFile, 'utf8')) : null;
  return { self, durationUs, requests };
}

const early = read(earlyFile);
const late = read(lateFile);
const unit = early.requests && late.requests ? 'µs a request' : 'ms a second of profile';
/** A function's self time in the unit above. */
const per = (run, us) => (run.requests ? us / run.requests : (us / run.durationUs) * 1000);
const rows = [...new Set([...early.self.keys(), ...late.self.keys()])].map((key) => {
  const a = per(early, early.self.get(key) ?? 0);
  const b = per(late, late.self.get(key) ?? 0);
  return { key, a, b, growth: b - a };
});
const total = (run) =>
  per(
    run,
    [...run.self.values()].reduce((sum, us) => sum + us, 0),
  );
const idle = (run) =>
  per(
    run,
    [...run.self].filter(([key]) => key.startsWith('(idle)')).reduce((sum, [, us]) => sum + us, 0),
  );
const fmt = (v) => v.toFixed(2).padStart(9);
const line = (r) => `${fmt(r.a)} ${fmt(r.b)} ${fmt(r.growth)}  ${r.key}`;
console.log(
  `Self time, ${unit}: early (${early.requests ?? '?'} requests, ${(early.durationUs / 1e6).toFixed(1)} s) → late (${late.requests ?? '?'} requests, ${(late.durationUs / 1e6).toFixed(1)} s)`,
);
console.log(
  `Total without (idle): ${(total(early) - idle(early)).toFixed(2)} → ${(total(late) - idle(late)).toFixed(2)}`,
);
console.log(`\nGrew most (early, late, growth):`);
for (const r of [...rows].sort((x, y) => y.growth - x.growth).slice(0, TOP)) console.log(line(r));
console.log(`\nShrank most:`);
for (const r of [...rows].sort((x, y) => x.growth - y.growth).slice(0, 8)) console.log(line(r));
console.log(`\nLargest late (early, late, growth):`);
for (const r of [...rows].sort((x, y) => y.b - x.b).slice(0, TOP)) console.log(line(r));
