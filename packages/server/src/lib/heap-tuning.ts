/**
 * Turns off V8's allocation-site pretenuring for the whole process (V8's flags are per process).
 * Called by openStore (storage/connect.ts) when it opens PostgreSQL with the driver on the main
 * thread (ROSTER_POSTGRES_DRIVER=main), before the first statement: the only store where it
 * measurably helps, and the only place that knows which store runs.
 *
 * Why (docs/performance.md, sixth round): V8 decides per object or array literal ("allocation
 * site") whether to allocate its objects straight in the old generation, from how many of them
 * survived the last scavenge. While the process starts (migrations, the first index load) the
 * statements' results live across scavenges, so literals on node-postgres's path get that
 * decision (pg's `Result` with its `this.rows = []` among them), and V8 keeps it for the
 * process's life. Each request's rows array was then born old: dead after the response, but only
 * a mark-compact finds that, and until one runs every scavenge treats the rows it points to as
 * live, copies them twice and promotes them (list_members: ~40 KB promoted a request, against
 * 0.4 KB without pretenuring). With the driver on its worker thread (the default) the rows the
 * main thread sees are parsed from JSON text, no pg literal is involved, and the flag changes
 * nothing measurable (2.14 vs 2.16 KB); on SQLite nothing either (0.48 vs 0.42 KB). Elsewhere it
 * is left on because turning it off cost 4–7 MB of RSS after the single-workspace index build
 * (`npm run bench`, two pairs: 296/299 MB with it, 301/303 MB without), where the index's
 * long-lived arrays do benefit from being born old.
 *
 * setFlagsFromString works at run time because V8 reads this flag at each scavenge; it does not
 * undo a decision already taken, hence it runs before the store's first statement.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

let off = false;

export function turnOffPretenuring(): void {
  if (off) return;
  off = true;
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

/**
 * Gives the old generation room to grow by about `slackMb` past what was alive after each
 * mark-compact before the next one starts (V8's --heap-growing-percent, recomputed from the live
 * heap after every full collection: slack ÷ live, between 10% and 200%). 0 leaves V8's own choice.
 *
 * Why (docs/performance.md, seventeenth round): V8 sizes the old generation's next limit by how
 * fast it collects against how fast the program fills the old generation, aiming at 3% of the time
 * in GC. Roster promotes little (0.3 KB a request) and V8 marks fast, so V8 chose a factor of
 * ~1.16: after a mark-compact left 61 MB alive, the next started 10 MB later, every ~12 s under
 * the mixed load. Each one is ~30 ms of incremental marking on the main thread and an 8–12 ms
 * pause within ~100 ms, while concurrent markers take the cores from the request threads; the
 * checks that arrive then wait, and in a 30 s paced run three of them made 148 of the 185 checks
 * over 5 ms. Throughput, not latency, is what V8's rule weighs; a server answering checks within
 * milliseconds needs the full collections rare, for a bounded amount of memory.
 *
 * V8 reads the flag when it sets the next limit, at the end of each full collection, so a value
 * set now applies from the collection after next: close enough, as the live heap moves slowly.
 * Process-wide and installed once (later calls with another value are ignored).
 */
export function keepOldGenerationSlack(slackMb: number): void {
  if (slackInstalled || slackMb <= 0) return;
  slackInstalled = true;
  const slackBytes = slackMb * 2 ** 20;
  let current = 0;
  const apply = (): void => {
    const live = Math.max(1, v8.getHeapStatistics().used_heap_size);
    const percent = Math.round(Math.min(200, Math.max(10, (slackBytes / live) * 100)));
    if (percent === current) return;
    current = percent;
    v8.setFlagsFromString(`--heap-growing-percent=${String(percent)}`);
  };
  apply();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      // A full collection is reported as major, or as incremental when it finished a marking
      // that ran in steps (the usual way).
      if (
        kind === constants.NODE_PERFORMANCE_GC_MAJOR ||
        kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL
      ) {
        apply();
        return;
      }
    }
  }).observe({ entryTypes: ['gc'] });
}
let slackInstalled = false;
