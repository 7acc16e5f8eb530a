/**
 * The main thread's garbage collection between two calls of `take()`, in figures that do not
 * depend on how busy the machine is: how many scavenges and mark-compacts, their pauses, and the
 * bytes allocated and promoted (divide by the requests served in between for "per request").
 *
 * Two sources, each for what it measures exactly:
 * - pauses: perf_hooks 'gc' entries (one per collection, its duration on the main thread; kinds
 *   minor = scavenge, major = mark-compact, incremental = a marking step, weakcb = weak callbacks);
 * - bytes: v8.GCProfiler, which records each collection's heap-space statistics before and after
 *   it. Bytes allocated = what the young generation (new_space + new_large_object_space) held at
 *   each scavenge's start less what it held after the collection before, plus the same at both
 *   ends of the interval: young objects are only freed by collections, so this counts every byte
 *   allocated there (not what V8 pretenures straight into the old space, which is small on these
 *   paths). Bytes promoted = growth of the old generation across each scavenge: what survived
 *   long enough to leave the young generation, the work a scavenge copies and a mark-compact
 *   later pays for again. (The heap totals of v8.getHeapStatistics sampled now and then would
 *   miss what a collection freed between two samples; --trace-gc-nvp prints the same per
 *   collection, but to stdout and not per phase.)
 * Both are the isolate's own: the main thread only, not the store's worker threads.
 */
import { appendFileSync } from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

const YOUNG = new Set(['new_space', 'new_large_object_space']);
/** How often the GCProfiler's records are folded into the running totals (see startGcReport). */
const FOLD_MS = 2_000;

/** Bytes the young and the old generation hold in one set of heap-space statistics. */
function generations(spaces, name = 'spaceName', used = 'spaceUsedSize') {
  let young = 0;
  let old = 0;
  for (const space of spaces) {
    if (YOUNG.has(space[name])) young += space[used];
    else old += space[used];
  }
  return { young, old };
}
const nowGenerations = () =>
  generations(v8.getHeapSpaceStatistics(), 'space_name', 'space_used_size');

function percentile(sorted, q) {
  return sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function startGcReport() {
  let pauses = { minor: [], major: [], incremental: [], weak: [] };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind ?? entry.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.minor.push(entry.duration);
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) pauses.major.push(entry.duration);
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL)
        pauses.incremental.push(entry.duration);
      else pauses.weak.push(entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  let profiler = new v8.GCProfiler();
  profiler.start();
  // The bytes' running totals since the last take(), folded in from the GCProfiler every
  // FOLD_MS. Its stop() builds every recorded collection's statistics at once on the main
  // thread: ~20 ms per 1,000 collections, so a 10-minute phase's (~7,400) cost a 150 ms stall
  // and the collections of its garbage right where the next phase began (docs/performance.md,
  // "Twenty-first round"). Folded every 2 s, each stop() has a few dozen.
  let allocated = 0;
  let promoted = 0;
  let survived = 0;
  let scavenges = 0;
  let youngAfter = nowGenerations().young;

  function fold() {
    const { statistics } = profiler.stop();
    profiler = new v8.GCProfiler();
    profiler.start();
    if (process.env.BENCH_GC_DUMP && statistics.length > 0) {
      appendFileSync(process.env.BENCH_GC_DUMP, `${JSON.stringify(statistics)}\n`);
    }
    for (const gc of statistics) {
      const before = generations(gc.beforeGC.heapSpaceStatistics);
      const after = generations(gc.afterGC.heapSpaceStatistics);
      allocated += Math.max(0, before.young - youngAfter);
      if (gc.gcType === 'Scavenge') {
        promoted += Math.max(0, after.old - before.old);
        survived += after.young;
        scavenges += 1;
      }
      youngAfter = after.young;
    }
  }
  setInterval(fold, FOLD_MS).unref();

  /** The figures since the last call (or the start), then starts counting anew. */
  async function take() {
    const end = nowGenerations();
    fold();
    allocated += Math.max(0, end.young - youngAfter);
    // Entries still queued in the observer belong to this interval.
    for (const entry of observer.takeRecords?.() ?? []) {
      const kind = entry.detail?.kind ?? entry.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.minor.push(entry.duration);
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) pauses.major.push(entry.duration);
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL)
        pauses.incremental.push(entry.duration);
      else pauses.weak.push(entry.duration);
    }
    const all = Float64Array.from([
      ...pauses.minor,
      ...pauses.major,
      ...pauses.incremental,
      ...pauses.weak,
    ]).sort();
    const minor = Float64Array.from(pauses.minor).sort();
    const heap = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    const report = {
      scavenges: pauses.minor.length,
      markCompacts: pauses.major.length,
      incrementalSteps: pauses.incremental.length,
      pauseMs: {
        total: all.reduce((sum, d) => sum + d, 0),
        p50: percentile(all, 0.5),
        p99: percentile(all, 0.99),
        max: all.length === 0 ? 0 : all[all.length - 1],
      },
      scavengeMs: { p50: percentile(minor, 0.5), p99: percentile(minor, 0.99) },
      allocatedBytes: allocated,
      promotedBytes: promoted,
      // What each scavenge copied within the young generation (its cost grows with it).
      survivedBytesPerScavenge: scavenges === 0 ? 0 : survived / scavenges,
      oldBytes: end.old,
      newSpaceBytes: heap?.space_size ?? 0,
      rssBytes: process.memoryUsage.rss(),
    };
    pauses = { minor: [], major: [], incremental: [], weak: [] };
    allocated = 0;
    promoted = 0;
    survived = 0;
    scavenges = 0;
    youngAfter = end.young;
    return report;
  }
  return { take };
}
