/**
 * SQLite's WAL checkpoints, off the writer thread (docs/performance.md, "Eleventh round").
 *
 * SQLite checkpoints by itself every 1,000 pages of WAL, in the COMMIT that crosses the mark: that
 * COMMIT copies the pages into the database file and syncs it, 5–20 ms on this project's machine
 * under the mixed load. It ran on the writer thread (sqlite-writer.ts), so the transaction that
 * took the write lock next waited behind it, and so did every write queued for the lock.
 *
 * Here a thread of its own, with a connection of its own, runs a PASSIVE checkpoint every
 * CHECKPOINT_EVERY_MS: in WAL mode that copies what it can beside the writer, without taking the
 * write lock or waiting for readers. The writer's own automatic checkpoint stays as a safety net,
 * at SAFETY_NET_PAGES while this thread runs (it should never be reached) and back at SQLite's
 * 1,000 if the thread stops. The thread starts once the server has written STARTS_AFTER_WRITES
 * transactions: a server that mostly reads (and `npm run bench`'s RSS) does without it.
 */
import { Worker } from 'node:worker_threads';
import {
  LOWER_OWN_PRIORITY,
  storeWorkerOptions,
  threadErrorText,
  type StoreThreadOptions,
} from './store-threads.js';

export const CHECKPOINT_EVERY_MS = 100;
export const STARTS_AFTER_WRITES = 200;
/** The writer's automatic checkpoint while this thread runs (pages of WAL; SQLite's is 1,000). */
export const SAFETY_NET_PAGES = 10_000;
export const SQLITE_AUTOCHECKPOINT_PAGES = 1_000;

/** What the checkpoints did since start (/metrics, `roster_sqlite_checkpoint*`). */
export interface CheckpointTotals {
  /** Whether the checkpoint thread runs. */
  running: boolean;
  /** Its checkpoints that copied pages. */
  checkpoints: number;
  /** Pages copied into the database file. */
  pagesCopied: number;
  /** Pages in the WAL at its last checkpoint. */
  walPages: number;
}

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driverPath);
${LOWER_OWN_PRIORITY}
const db = new SQLite(workerData.file);
db.pragma('busy_timeout = 0');
let copiedBefore = 0;
let lastLog = -1;
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    // The WAL's pages copied so far; it starts again from 0 when the writer restarts the WAL.
    const copied = result.checkpointed >= copiedBefore ? result.checkpointed - copiedBefore : result.checkpointed;
    copiedBefore = result.checkpointed;
    if (copied > 0 || result.log !== lastLog) parentPort.postMessage({ copied, log: result.log });
    lastLog = result.log;
  } catch {
    // SQLITE_BUSY (another checkpoint, a second server's) or a disk error: the next turn retries.
  }
}, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message === 'close') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

/** After this many stops, the writer checkpoints by itself for good (no restart loop). */
const MAX_STARTS = 3;

export class Checkpointer {
  private worker: Worker | undefined;
  private closed = false;
  private starts = 0;
  private readonly totals: CheckpointTotals = {
    running: false,
    checkpoints: 0,
    pagesCopied: 0,
    walPages: 0,
  };

  /**
   * @param setWriterAutocheckpoint sets the writer connection's automatic checkpoint (pages):
   *   the safety net while this thread runs, SQLite's own when it stops.
   */
  constructor(
    private readonly file: string,
    private readonly driverPath: string,
    private readonly threads: StoreThreadOptions,
    private readonly setWriterAutocheckpoint: (pages: number) => void,
  ) {}

  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Starts the thread (once; again after it stopped, up to MAX_STARTS times in all). */
  start(): void {
    if (this.worker !== undefined || this.closed || this.starts >= MAX_STARTS) return;
    this.starts += 1;
    const worker = new Worker(SOURCE, {
      eval: true,
      workerData: {
        file: this.file,
        driverPath: this.driverPath,
        everyMs: CHECKPOINT_EVERY_MS,
        nice: this.threads.nice,
      },
      ...storeWorkerOptions(this.threads),
    });
    // Never what keeps the process alive.
    worker.unref();
    worker.on('message', (report: { copied: number; log: number }) => {
      if (report.copied > 0) {
        this.totals.checkpoints += 1;
        this.totals.pagesCopied += report.copied;
      }
      this.totals.walPages = report.log;
    });
    const stopped = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.totals.running = false;
      if (this.closed) return;
      this.setWriterAutocheckpoint(SQLITE_AUTOCHECKPOINT_PAGES);
      process.emitWarning(
        `The SQLite checkpoint thread stopped (${why}); the writer checkpoints by itself again.`,
      );
    };
    worker.on('error', (error) => {
      stopped(threadErrorText(error));
    });
    worker.on('exit', (code) => {
      stopped(`exit code ${code}`);
    });
    this.worker = worker;
    this.totals.running = true;
    this.setWriterAutocheckpoint(SAFETY_NET_PAGES);
  }

  report(): CheckpointTotals {
    return { ...this.totals };
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.totals.running = false;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) =>
      worker.once('exit', () => {
        resolve();
      }),
    );
    worker.postMessage('close');
    await Promise.race([
      exited,
      new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref()),
    ]);
    await worker.terminate();
  }
}
