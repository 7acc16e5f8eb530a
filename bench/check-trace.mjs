/**
 * What the slow checks of a paced phase waited behind: `node bench/check-trace.mjs CHECKS.tsv
 * [SERVER-GC.tsv [SERVER-STALLS.tsv]]`, the traces `BENCH_CHECK_TRACE=DIR node bench/mixed.mjs …`
 * writes (the generator's paced checks; the server's garbage collections; its main thread's
 * stalls).
 *
 * Prints how the checks over 5 ms (from their scheduled time: lag + latency) fall: how many, in
 * how many bursts (slow checks less than 20 ms apart are one burst), and how many of those bursts
 * began within 20 ms after a collection's pause of 2 ms or more (the pause, then the queue it left
 * behind). A p99 set by a few bursts is pauses of the main thread; slow checks spread evenly are
 * the queue of a busy one. With the stalls, each burst is put down to what the server's main
 * thread did in the stalls around it: ran (our own work: CPU), waited for a core (run queue: other
 * threads and processes), or neither (blocked or asleep); a burst without a stall is the
 * generator's (its lag) or the network's.
 */
import { readFileSync } from 'node:fs';

const [checksFile, gcFile, stallsFile] = process.argv.slice(2);
if (checksFile === undefined) {
  console.error('usage: node bench/check-trace.mjs CHECKS.tsv [SERVER-GC.tsv [SERVER-STALLS.tsv]]');
  process.exit(2);
}
const rows = (file) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t'));
const checks = rows(checksFile).map(([at, lag, latency]) => ({
  at: Number(at),
  total: Number(lag) + Number(latency),
  lag: Number(lag),
}));
const SLOW_MS = 5;
const BURST_GAP_MS = 20;
const slow = checks.filter((c) => c.total > SLOW_MS);
const sorted = Float64Array.from(checks.map((c) => c.total)).sort();
const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
console.log(
  `${checks.length} checks; p50 / p99 / max ${p(0.5).toFixed(2)} / ${p(0.99).toFixed(2)} / ${sorted.at(-1)?.toFixed(2)} ms; ${slow.length} over ${SLOW_MS} ms (${((100 * slow.length) / checks.length).toFixed(2)}%)`,
);
const bursts = [];
for (const check of slow) {
  const last = bursts.at(-1);
  if (last !== undefined && check.at - last.end <= BURST_GAP_MS) {
    last.end = check.at;
    last.count += 1;
    last.worst = Math.max(last.worst, check.total);
  } else bursts.push({ start: check.at, end: check.at, count: 1, worst: check.total });
}
const pauses =
  gcFile === undefined
    ? []
    : rows(gcFile)
        .map(([at, pause, kind]) => ({ at: Number(at), pause: Number(pause), kind: Number(kind) }))
        .filter((g) => g.pause >= 2);
const KIND = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak callbacks' };
let afterPause = 0;
let inPausedBursts = 0;
for (const burst of bursts) {
  // A check scheduled up to its latency before the pause began could be waiting through it.
  const cause = pauses.find(
    (g) => g.at <= burst.end && g.at + g.pause + BURST_GAP_MS >= burst.start - burst.worst,
  );
  burst.cause = cause;
  if (cause !== undefined) {
    afterPause += 1;
    inPausedBursts += burst.count;
  }
}
console.log(
  `${bursts.length} bursts; ${gcFile === undefined ? 'no GC trace given' : `${afterPause} of them (${inPausedBursts} slow checks) at a collection's pause of 2 ms or more (${pauses.length} such pauses in the run)`}`,
);
const stalls =
  stallsFile === undefined
    ? []
    : rows(stallsFile).map(([at, gap, cpu, wait]) => ({
        at: Number(at),
        gap: Number(gap),
        cpu: Number(cpu),
        wait: Number(wait),
      }));
if (stallsFile !== undefined) {
  const byCause = new Map();
  for (const burst of bursts) {
    const around = stalls.filter(
      (s) => s.at <= burst.end && s.at + s.gap + BURST_GAP_MS >= burst.start - burst.worst,
    );
    const sum = (key) => around.reduce((total, s) => total + s[key], 0);
    const gap = sum('gap');
    const lagged = slow.filter(
      (c) => c.at >= burst.start && c.at <= burst.end && c.lag > c.total / 2,
    ).length;
    burst.stall =
      around.length === 0
        ? lagged > burst.count / 2
          ? 'generator lag'
          : 'no stall'
        : sum('cpu') >= gap / 2
          ? 'cpu'
          : sum('wait') >= gap / 2
            ? 'run queue'
            : sum('cpu') + sum('wait') >= gap / 2
              ? 'cpu + run queue'
              : 'blocked';
    burst.stallMs = gap;
    const entry = byCause.get(burst.stall) ?? { bursts: 0, checks: 0 };
    entry.bursts += 1;
    entry.checks += burst.count;
    byCause.set(burst.stall, entry);
  }
  const total = (key) => stalls.reduce((sum, s) => sum + s[key], 0);
  console.log(
    `${stalls.length} main-thread stalls of 4 ms or more (${total('gap').toFixed(0)} ms: ${total('cpu').toFixed(0)} ms running, ${total('wait').toFixed(0)} ms waiting for a core)`,
  );
  for (const [cause, entry] of [...byCause].sort((a, b) => b[1].checks - a[1].checks))
    console.log(`  ${cause}: ${entry.bursts} bursts, ${entry.checks} slow checks`);
}
const origin = checks[0]?.at ?? 0;
console.log(
  '\nThe 15 largest bursts (s from the phase start, slow checks, worst, GC pause there):',
);
for (const burst of [...bursts].sort((a, b) => b.count - a.count).slice(0, 15))
  console.log(
    `  ${((burst.start - origin) / 1000).toFixed(3)} s  ${String(burst.count).padStart(4)} checks  worst ${burst.worst.toFixed(2)} ms  ${burst.cause ? `${KIND[burst.cause.kind] ?? burst.cause.kind} ${burst.cause.pause.toFixed(2)} ms` : ''}${burst.stall ? `  [${burst.stall}${burst.stallMs ? ` ${burst.stallMs.toFixed(1)} ms` : ''}]` : ''}`,
  );
