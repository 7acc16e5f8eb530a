/**
 * Reads a sampling heap profile (BENCH_HEAP_SAMPLE of bench/mixed-server.mjs, or --heap-prof) and
 * prints the functions that allocated most (self bytes) and, for each of the top ones, the
 * Roster frames above it (the request path that led there). `node bench/heap-top.mjs FILE [N]`.
 */
import { readFileSync } from 'node:fs';

const [file, top = '30'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const self = new Map();
const paths = new Map();
let total = 0;
/** Walks the tree; `roster` is the nearest packages/server frame above. */
function walk(node, roster) {
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^.*\/(node_modules|packages\/server\/dist)\//, '$1/');
  const name = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  const here = url.includes('packages/server/dist') ? name : roster;
  const bytes = node.selfSize;
  if (bytes > 0) {
    total += bytes;
    self.set(name, (self.get(name) ?? 0) + bytes);
    const key = `${here ?? '(no Roster frame)'}`;
    paths.set(key, (paths.get(key) ?? 0) + bytes);
  }
  for (const child of node.children) walk(child, here);
}
walk(profile.head, undefined);
const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MB ${((b * 100) / total).toFixed(1)}%`;
console.log(`total sampled ${mb(total)}\n\nTop allocating functions (self):`);
for (const [name, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
  console.log(`  ${mb(bytes).padStart(18)}  ${name}`);
console.log('\nBy the nearest Roster frame:');
for (const [name, bytes] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
  console.log(`  ${mb(bytes).padStart(18)}  ${name}`);
