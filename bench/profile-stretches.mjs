/**
 * `node bench/profile-stretches.mjs FILE.cpuprofile [MIN_MS] [TOP]`: what the main thread ran in
 * its long busy stretches — runs of consecutive samples with no idle one between them (several
 * event-loop turns back to back when work was queued), at least MIN_MS (default 3) long. A check
 * that arrives during one waits for the rest of it, so these, not the average CPU, make its p99.
 * `bench/mixed.mjs --profile-paced` writes a profile of the paced mixed phase for it.
 *
 * Prints how much of the profile the long stretches cover, the functions with the most self time
 * inside them, the outermost frames of the server's own code they ran (which request or job),
 * and the TOP (default 12) longest stretches with what filled each.
 */
import { readFileSync } from 'node:fs';

const [file, minArg, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/profile-stretches.mjs FILE.cpuprofile [MIN_MS] [TOP]');
  process.exit(2);
}
const MIN_MS = Number(minArg ?? 3);
const TOP = Number(topArg ?? 12);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parentOf.set(child, node.id);

const OWN = /packages\/server\/dist\//;
function label(node) {
  const frame = node.callFrame;
  const url = frame.url.replace(/^.*\/(packages|node_modules)\//, '$1/');
  return `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
}
/** The frames from the root down to the sampled one. */
function stackOf(id) {
  const frames = [];
  for (let at = id; at !== undefined; at = parentOf.get(at)) frames.push(byId.get(at));
  return frames.reverse();
}

// timeDeltas[i] is the time before sample i: sample i lasts until the next one.
const { samples, timeDeltas } = profile;
const times = [];
let clock = profile.startTime;
for (let i = 0; i < samples.length; i++) {
  clock += timeDeltas[i];
  times.push(clock);
}
const lengthMs = (i) => (timeDeltas[i + 1] ?? 0) / 1000;

const stretches = [];
let current = null;
for (let i = 0; i < samples.length; i++) {
  if (byId.get(samples[i]).callFrame.functionName === '(idle)') {
    if (current !== null) stretches.push(current);
    current = null;
    continue;
  }
  current ??= { start: times[i], end: times[i], samples: [] };
  current.end = times[i + 1] ?? times[i];
  current.samples.push(i);
}
if (current !== null) stretches.push(current);

const ms = (stretch) => (stretch.end - stretch.start) / 1000;
const long = stretches.filter((stretch) => ms(stretch) >= MIN_MS);
const totalMs = (times.at(-1) - times[0]) / 1000;
const coveredMs = long.reduce((sum, stretch) => sum + ms(stretch), 0);
console.log(
  `${file}: ${(totalMs / 1000).toFixed(1)} s profiled, ${stretches.length} busy stretches; ` +
    `${long.length} of at least ${MIN_MS} ms cover ${(coveredMs / 1000).toFixed(2)} s ` +
    `(${((100 * coveredMs) / totalMs).toFixed(1)}% of the time: a check arriving then waited)`,
);

const self = new Map();
const outermost = new Map();
const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);
for (const stretch of long)
  for (const i of stretch.samples) {
    const stack = stackOf(samples[i]);
    add(self, label(stack.at(-1)), lengthMs(i));
    // The server's own code: its two outermost frames say which request or job ran.
    const own = stack.filter((node) => OWN.test(node.callFrame.url)).map(label);
    add(outermost, own.length > 0 ? own.slice(0, 2).join(' > ') : label(stack.at(-1)), lengthMs(i));
  }
const print = (title, map, count) => {
  console.log(`\n${title}`);
  for (const [name, value] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count))
    console.log(`${value.toFixed(1).padStart(9)} ms  ${name}`);
};
print('Self time inside the long stretches:', self, 25);
print('Outermost frames of the server’s own code inside them:', outermost, 25);

console.log(`\nThe ${TOP} longest (when, from the profile's start; what filled them):`);
for (const stretch of [...long].sort((a, b) => ms(b) - ms(a)).slice(0, TOP)) {
  const filled = new Map();
  for (const i of stretch.samples) {
    const stack = stackOf(samples[i]);
    const own = stack.find(
      (node) =>
        OWN.test(node.callFrame.url) ||
        /^\((garbage collector|program)\)$/.test(node.callFrame.functionName),
    );
    add(filled, label(own ?? stack.at(-1)), lengthMs(i));
  }
  const parts = [...filled]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, value]) => `${name} ${value.toFixed(1)}`);
  console.log(
    `${ms(stretch).toFixed(1).padStart(7)} ms at ${((stretch.start - times[0]) / 1e6).toFixed(2)} s: ${parts.join(' | ')}`,
  );
}
