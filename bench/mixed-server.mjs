/**
 * The server for `npm run bench:mixed` (bench/mixed.mjs), in its own process: a fresh database
 * (SQLite file, its writes on the writer thread or the main thread: ROSTER_SQLITE_WRITER, the
 * fourth argument; or a PostgreSQL URL, its driver on a worker thread or the main thread:
 * ROSTER_POSTGRES_DRIVER, the same argument), migrated, the default workspace with a known admin token,
 * listening on 127.0.0.1. On request it reports its CPU time and how long its event loop was held
 * (perf_hooks.monitorEventLoopDelay: the delay a timer saw, i.e. how long a check arriving at that
 * moment waited before the server could even read it) and its main thread's garbage collection
 * since the last report (bench/lib/gc-report.mjs), then resets both.
 *
 * What survives scavenges (docs/performance.md, sixth round): BENCH_HEAP_SAMPLE=FILE writes V8's
 * sampling heap profile of the run at the stop, every allocation sampled;
 * BENCH_HEAP_SAMPLE_LIVE=promoted keeps only the samples that survived the young generation,
 * =1 only what is still in the heap at the end of the first timed phase. `node bench/heap-top.mjs
 * FILE` prints the top allocating functions. BENCH_GC_DUMP=FILE appends each report's per
 * collection heap-space statistics (v8.GCProfiler) as a JSON line.
 */
import process from 'node:process';
import v8 from 'node:v8';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import pg from 'pg';
import { startRosterApp } from './lib/roster-app.mjs';
import { startGcReport } from './lib/gc-report.mjs';
import { postgresThreadStats } from '../packages/server/dist/storage/postgres-thread.js';

const [databaseUrl, token, dataDir, writer = 'thread'] = process.argv.slice(2);
// Statements sent to PostgreSQL (each a round trip: a socket write that wakes a backend), counted
// where every query of the server's pool passes: a figure the machine's load does not change.
// With the driver on its thread (ROSTER_POSTGRES_DRIVER=thread), the driver counts them instead.
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  statements += 1;
  return query.apply(this, args);
};
/** The main thread's own CPU time (ms): its thread ID is the process ID (Linux; else null). */
function mainThreadCpuMs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}
/**
 * How long the main thread has waited for a CPU while runnable (ms, Linux schedstat: the second
 * field, the run queue's delay; else null). On this 2-core machine the main thread shares the
 * cores with the store's thread, PostgreSQL's backends and the load generator: a check that
 * arrives while the main thread is runnable but descheduled waits that long, and neither the
 * event-loop delay nor the CPU time shows it.
 */
function mainThreadRunQueueMs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return Number(fields[1]) / 1e6;
  } catch {
    return null;
  }
}
/**
 * BENCH_OTHER_THREADS_NICE=N: before the server starts, lowers by N the priority of every thread
 * the process has then besides the main one (V8's platform workers: concurrent marking, parallel
 * scavenge helpers, compilers; Node's own helper threads). The store's thread starts later and is
 * not touched. An experiment: does the main thread wait for a core less when they yield to it?
 */
const otherThreadsNice = Number(process.env.BENCH_OTHER_THREADS_NICE ?? 0);
/** The threads besides the main one before the server starts (Linux; else empty). */
const helperThreads = (() => {
  try {
    return readdirSync('/proc/self/task')
      .map(Number)
      .filter((tid) => tid !== process.pid);
  } catch {
    return [];
  }
})();
if (otherThreadsNice > 0) {
  const os = await import('node:os');
  for (const tid of helperThreads)
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + otherThreadsNice));
  process.stderr.write(`reniced ${helperThreads.length} threads by ${otherThreadsNice}\n`);
}
/** Those threads' CPU time (ms) together: V8's GC helpers and compilers, mostly. */
function helperThreadsCpuMs() {
  let ms = 0;
  for (const tid of helperThreads) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // The thread has ended.
    }
  }
  return ms;
}
const { app, store } = await startRosterApp({
  databaseUrl,
  dataDir,
  token,
  env: { ROSTER_SQLITE_WRITER: writer, ROSTER_POSTGRES_DRIVER: writer },
  migrate: true,
});
await app.listen({ port: 0, host: '127.0.0.1' });
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const gc = startGcReport();
// BENCH_CHECK_TRACE=DIR: every collection's start (ms since the epoch), pause and kind, written at
// the stop beside the generator's trace of the paced checks (bench/check-trace.mjs joins them).
const gcTrace = process.env.BENCH_CHECK_TRACE ? [] : undefined;
if (gcTrace !== undefined)
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      gcTrace.push(
        `${(performance.timeOrigin + entry.startTime).toFixed(3)}\t${entry.duration.toFixed(3)}\t${entry.detail?.kind ?? entry.kind}`,
      );
  }).observe({ entryTypes: ['gc'] });
// BENCH_CHECK_TRACE=DIR also: the main thread's stalls, a timer every 2 ms that notes each gap of
// 4 ms or more (its start, length, and the main thread's CPU time and run-queue wait within it,
// from schedstat): whether a slow check waited behind our own work (CPU), behind other threads and
// processes on the two cores (run queue), or behind neither (the thread blocked or asleep).
const stallTrace = process.env.BENCH_CHECK_TRACE ? [] : undefined;
if (stallTrace !== undefined) {
  const schedstatFile = `/proc/self/task/${process.pid}/schedstat`;
  const sample = () => {
    const [cpuNs, waitNs] = readFileSync(schedstatFile, 'utf8').split(' ');
    return { at: performance.now(), cpu: Number(cpuNs) / 1e6, wait: Number(waitNs) / 1e6 };
  };
  let last = sample();
  setInterval(() => {
    const now = sample();
    const gap = now.at - last.at;
    if (gap >= 4)
      stallTrace.push(
        `${(performance.timeOrigin + last.at).toFixed(3)}\t${gap.toFixed(3)}\t${(now.cpu - last.cpu).toFixed(3)}\t${(now.wait - last.wait).toFixed(3)}`,
      );
    last = now;
  }, 2).unref();
}
// BENCH_HEAP_SAMPLE=file: V8's sampling heap profiler over the whole run, keeping the samples of
// objects that scavenges and mark-compacts collected too (what was allocated, not only what is
// left), written at the stop (a .heapprofile, for Chrome DevTools or bench/heap-top.mjs).
const heapSample = process.env.BENCH_HEAP_SAMPLE;
let inspector;
let statsCalls = 0;
/** The inspector session of a --profile-windows window in progress. */
let profiler;
if (heapSample) {
  const { Session } = await import('node:inspector/promises');
  inspector = new Session();
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    // BENCH_HEAP_SAMPLE_LIVE=promoted: without what scavenges collected, i.e. what survived the
    // young generation (promoted, whether a mark-compact freed it later or not).
    includeObjectsCollectedByMinorGC: process.env.BENCH_HEAP_SAMPLE_LIVE === undefined,
    includeObjectsCollectedByMajorGC: process.env.BENCH_HEAP_SAMPLE_LIVE !== '1',
  });
}
process.send({ type: 'ready', port: app.server.address().port, dialect: store.dialect });
process.on('message', async (message) => {
  if (message === 'stats') {
    statsCalls += 1;
    // BENCH_HEAP_SNAPSHOT=FILE: a heap snapshot BENCH_HEAP_SNAPSHOT_AT seconds (default 5) into
    // the first timed phase, under load (what in-flight work holds).
    if (process.env.BENCH_HEAP_SNAPSHOT && statsCalls === 1) {
      const file = process.env.BENCH_HEAP_SNAPSHOT;
      setTimeout(
        () => {
          v8.writeHeapSnapshot(file);
        },
        Number(process.env.BENCH_HEAP_SNAPSHOT_AT ?? 5) * 1000,
      );
    }
    // BENCH_HEAP_SAMPLE_LIVE=1: only what was still in the heap (promoted objects included, until
    // a mark-compact frees them) at the end of the first timed phase (the second report).
    if (inspector && process.env.BENCH_HEAP_SAMPLE_LIVE === '1' && statsCalls === 2) {
      const { profile } = await inspector.post('HeapProfiler.getSamplingProfile');
      writeFileSync(heapSample, JSON.stringify(profile));
    }
    const usage = process.cpuUsage();
    process.send({
      type: 'stats',
      cpuMs: (usage.user + usage.system) / 1000,
      mainCpuMs: mainThreadCpuMs(),
      mainRunQueueMs: mainThreadRunQueueMs(),
      helperCpuMs: helperThreadsCpuMs(),
      driverBusyMs: postgresThreadStats().busyMs,
      driverCpuMs: postgresThreadStats().cpuMs,
      statements: statements + postgresThreadStats().statements,
      // SQLite with its writer thread: what the write lock did (the writes go one at a time).
      writeLock: store.sqliteWriteLock?.() ?? null,
      loop: {
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      },
      gc: await gc.take(),
    });
    loop.reset();
  }
  if (message === 'cpu') {
    // CPU time only (the per-interval figures), without resetting the event-loop histogram: the
    // process's and the main thread's (the rest is the SQLite writer's or PostgreSQL driver's
    // thread, and libuv's), and the main thread's heap (old space: what each mark-compact walks).
    const usage = process.cpuUsage();
    const old = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space');
    process.send({
      type: 'cpu',
      cpuMs: (usage.user + usage.system) / 1000,
      mainCpuMs: mainThreadCpuMs(),
      oldBytes: old?.space_used_size ?? null,
      heapBytes: process.memoryUsage().heapUsed,
    });
  }
  // A CPU profile of a window of the run (bench/mixed.mjs --profile-windows): 'profile-start',
  // then 'profile-stop FILE' writes it (.cpuprofile; bench/profile-diff.mjs compares two).
  if (message === 'profile-start') {
    const { Session } = await import('node:inspector/promises');
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
    await profiler.post('Profiler.start');
  }
  if (typeof message === 'string' && message.startsWith('profile-stop ')) {
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(message.slice('profile-stop '.length), JSON.stringify(profile));
      profiler.disconnect();
      profiler = undefined;
    }
    process.send({ type: 'profiled' });
  }
  if (message === 'stop') {
    loop.disable();
    if (gcTrace !== undefined) {
      const file = path.join(process.env.BENCH_CHECK_TRACE, `server-gc-${process.pid}.tsv`);
      mkdirSync(process.env.BENCH_CHECK_TRACE, { recursive: true });
      writeFileSync(file, `at_ms\tpause_ms\tkind\n${gcTrace.join('\n')}\n`);
      writeFileSync(
        path.join(process.env.BENCH_CHECK_TRACE, `server-stalls-${process.pid}.tsv`),
        `at_ms\tgap_ms\tcpu_ms\trun_queue_ms\n${stallTrace.join('\n')}\n`,
      );
    }
    if (inspector && process.env.BENCH_HEAP_SAMPLE_LIVE !== '1') {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(heapSample, JSON.stringify(profile));
    }
    await app.close();
    await store.close();
    process.exit(0);
  }
});
