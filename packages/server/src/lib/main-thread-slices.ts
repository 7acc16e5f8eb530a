/**
 * Main-thread work run in short slices between the event loop's reads of its sockets, so that an
 * access check answered on arrival (http/lean-path.ts) waits for at most one slice of it.
 *
 * With a SQLite file (its writes on the writer thread, its reads on this one) two kinds of work
 * come here: the start of each request Fastify serves (routing, hooks, validation, up to its
 * first wait) and each read of the database with what the request does on its answer (row
 * mapping, the next statement, the answer's serialization). Node reads every ready socket in one
 * go, and each callback queued in that go, by `setImmediate`, runs in the same check phase: twenty
 * collaborator pages read together ran their reads back to back, 20–30 ms in one turn of the
 * loop, and a check that arrived meanwhile waited for all of them (docs/performance.md, "Eighth
 * round" and "Twelfth round").
 *
 * Here a slice starts tasks one after the other, each after the previous one's continuations
 * (the promise callbacks it resolved, which run as microtasks), until SLICE_MS has passed; the
 * rest waits for the loop's next check phase, after it has read its sockets. A slice always runs
 * one task, so the work never stalls however slow the machine. Work in flight goes first:
 * `resume` (a read of a request already started) before `admit` (a new request), so that under
 * overload the requests begun finish rather than more of them begin. Within each, first come,
 * first served.
 */

/** How long one slice may start tasks before the loop reads its sockets again. */
export const SLICE_MS = 1;

type Task = () => void;

/**
 * A first-in, first-out list that drops its consumed head in blocks, not one shift at a time. A
 * task taken is cleared from its slot at once: it holds its request (the promise it settles and
 * everything waiting on it), which would otherwise live on until the block is dropped, through
 * scavenges, and be promoted to the old generation (four times the bytes promoted a request
 * under the mixed load, when it was kept).
 */
class TaskQueue {
  private readonly tasks: (Task | undefined)[] = [];
  private head = 0;
  push(task: Task): void {
    this.tasks.push(task);
  }
  shift(): Task | undefined {
    const task = this.tasks[this.head];
    if (task === undefined) {
      this.tasks.length = 0;
      this.head = 0;
      return undefined;
    }
    this.tasks[this.head] = undefined;
    this.head += 1;
    if (this.head >= 1024) {
      this.tasks.splice(0, this.head);
      this.head = 0;
    }
    return task;
  }
  get empty(): boolean {
    return this.head >= this.tasks.length;
  }
}

class MainThreadSlices {
  private readonly resumed = new TaskQueue();
  private readonly admitted = new TaskQueue();
  private scheduled = false;
  private sliceEnds = 0;
  private startedInSlice = 0;

  /** Continues work already under way (a request's read), before any new request. */
  resume(task: Task): void {
    this.resumed.push(task);
    this.schedule();
  }

  /** Starts new work (a request), after the work under way. */
  admit(task: Task): void {
    this.admitted.push(task);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.startSlice);
  }

  private readonly startSlice = (): void => {
    this.sliceEnds = performance.now() + SLICE_MS;
    this.startedInSlice = 0;
    this.next();
  };

  /**
   * Runs the next task, then queues itself as a microtask: it runs after the microtasks the task
   * queued (the continuations of the promise it settled), so the slice's clock counts them too.
   */
  private readonly next = (): void => {
    if (this.resumed.empty && this.admitted.empty) {
      this.scheduled = false;
      return;
    }
    if (this.startedInSlice > 0 && performance.now() >= this.sliceEnds) {
      // The rest after the loop's next reads: an immediate queued during the check phase runs in
      // the next one.
      setImmediate(this.startSlice);
      return;
    }
    const task = this.resumed.shift() ?? this.admitted.shift();
    this.startedInSlice += 1;
    try {
      task?.();
    } finally {
      // Queued after what the task queued. A task that throws (it should settle its own promise
      // instead) still lets the others run, and its error reaches the process as it would have
      // without the queue.
      queueMicrotask(this.next);
    }
  };
}

/** One per process: the main thread is one, and so is its event loop. */
export const mainThreadSlices = new MainThreadSlices();
