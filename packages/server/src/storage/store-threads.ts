/**
 * How the store's worker threads run: the SQLite writer thread (sqlite-writer.ts) and the
 * PostgreSQL driver thread (postgres-thread.ts).
 *
 * **Their scheduling priority.** Access checks are answered from memory on the main thread; the
 * store's thread runs the writes and reads' I/O. When the cores are all busy (2 cores shared with
 * PostgreSQL's backends and the clients on the bench machine, or a small container), a check that
 * arrives while the main thread waits for a core waits for the scheduler, which shows in neither
 * the event loop's delay nor the CPU time. Lowering the store thread's priority (its nice value,
 * ROSTER_STORE_THREAD_NICE) gives the main thread the core first whenever both want one. The
 * store thread still gets every idle cycle; a lower priority only decides who goes first when
 * there are none. The default depends on the thread (`defaultStoreThreads`).
 *
 * Linux lets a thread change its own nice value (it is per thread there), and an unprivileged
 * process may lower its priority but not raise it back. Elsewhere, or if the call fails, the
 * thread keeps the process's priority: this is tuning, never a reason not to start.
 */
import type { WorkerOptions } from 'node:worker_threads';

export interface StoreThreadOptions {
  /**
   * ROSTER_STORE_THREAD_HEAP_MB: the thread's old-generation heap, in MB (0: Node's default). A
   * statement whose result outgrows it stops that thread only (docs/operations.md).
   */
  heapMb: number;
  /**
   * ROSTER_STORE_THREAD_NICE: how much lower the thread's priority is than the process's (0–19;
   * unset: DEFAULT_STORE_THREAD_NICE).
   */
  nice: number;
}

/** Which store thread: SQLite's writer (sqlite-writer.ts) or PostgreSQL's driver (postgres-thread.ts). */
export type StoreThreadKind = 'sqlite-writer' | 'postgres-driver';

/**
 * The nice value each thread takes when ROSTER_STORE_THREAD_NICE is unset.
 *
 * - **SQLite's writer: 0.** Every write of the instance runs on it, one at a time, holding the
 *   database's write lock: a lower priority slows all writes once the machine is saturated
 *   (the mixed load's capacity: 1,275 requests/s at 0, 1,091 at 10; docs/performance.md, "Eighth
 *   round").
 * - **PostgreSQL's driver: 10.** It only carries statements to and from the backends, which hold
 *   no instance-wide lock: with it at 10 the main thread waited for a core a third less often,
 *   closed-loop checks took half as long at p50 and the paced checks' p99 fell in every pair, for
 *   the same capacity and write latency (docs/performance.md, "Eighth round" and "Fourteenth
 *   round").
 */
export const DEFAULT_STORE_THREAD_NICE: Readonly<Record<StoreThreadKind, number>> = {
  'sqlite-writer': 0,
  'postgres-driver': 10,
};

/** The options of a store thread whose settings were left unset. */
export function defaultStoreThreads(kind: StoreThreadKind): StoreThreadOptions {
  return { heapMb: 0, nice: DEFAULT_STORE_THREAD_NICE[kind] };
}

/** The Worker options these settings give (the nice value travels in workerData). */
export function storeWorkerOptions(
  threads: StoreThreadOptions,
): Pick<WorkerOptions, 'resourceLimits'> {
  return threads.heapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: threads.heapMb } } : {};
}

/**
 * The first lines of a store worker's source (plain JavaScript, run with `eval`): lowers the
 * thread's own priority by `workerData.nice`, relative to what it inherited, and defines `tid`,
 * the thread's ID in the process (Linux; undefined elsewhere).
 */
export const LOWER_OWN_PRIORITY = `
let tid;
try { tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
if (tid !== undefined && workerData.nice > 0) {
  try {
    const os = require('node:os');
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + workerData.nice));
  } catch {}
}
`;

/**
 * What a store thread's uncaught error says, for the warning that reports the thread stopped. An
 * error crosses from the thread as a copy, and a driver's own error class (better-sqlite3's
 * SqliteError) arrives as a plain object with its `code` only, no message.
 */
export function threadErrorText(error: unknown): string {
  if (error instanceof Error && error.message !== '') return error.message;
  if (typeof error === 'object' && error !== null) {
    const { message, code } = error as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && message !== '') return message;
    if (typeof code === 'string') return code;
  }
  return String(error);
}
