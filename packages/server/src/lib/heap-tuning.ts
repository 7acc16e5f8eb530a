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
import v8 from 'node:v8';

let off = false;

export function turnOffPretenuring(): void {
  if (off) return;
  off = true;
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}
