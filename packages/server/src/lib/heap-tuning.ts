/**
 * Turns off V8's allocation-site pretenuring for the whole process (both threads: V8's flags are
 * per process). Imported for this side effect as main.ts's first import, so that it runs before
 * anything else is loaded, and by the benchmarks' launcher (bench/lib/roster-app.mjs) before it
 * opens a store.
 *
 * Why (docs/performance.md, sixth round): V8 decides per object or array literal ("allocation
 * site") whether to allocate its objects straight in the old generation, from how many of them
 * survived the last scavenge. While the process starts (migrations, the first index load) the
 * statements' results live across scavenges, so literals on the statements' path get that
 * decision (about fifty sites, pg's `Result` with its `this.rows = []` among them), and V8 kept
 * it for the process's life. Each request's objects from those literals were then born old:
 * dead after the response, but only a mark-compact finds that, and until one runs every
 * scavenge treats what they point to (the rows, their strings) as live, copies it twice and
 * promotes it. That was list_members's ~40 KB promoted per request with the PostgreSQL driver on
 * the main thread, against 0.4 KB on SQLite, whose rows come from native code with no
 * allocation site. Without pretenuring nothing is born old and each request's objects die young.
 *
 * setFlagsFromString works here because V8 reads this flag at each scavenge; it does not undo a
 * decision already taken, hence the place it runs from.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-allocation-site-pretenuring');
