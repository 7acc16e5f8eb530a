/**
 * The change stream: the audit log sent to clients as it is written (GET /api/events/stream,
 * Server-Sent Events). A client resumes after the last ID it saw and must get every later event
 * once, in ID order. On SQLite IDs commit in order (one writer at a time); on PostgreSQL a
 * transaction can commit after a later one, so an ID that is not visible yet may still appear.
 *
 * How that is handled: the stream keeps its own view of the log's order (the change feed wakes it;
 * it then reads which IDs exist, as the feed does). A missing ID holds back every later event for
 * at most `gapGraceMs` (1 s on PostgreSQL), long enough for an in-flight transaction to commit;
 * `horizon` is the ID up to which the log is final, and clients are sent events up to it only, so
 * the ID a client resumes after has no gap below it. A rolled-back transaction leaves a gap that
 * never fills: it delays later events by the grace period once. An event that commits after the
 * grace period (a transaction open for longer than a second) is still sent to the clients that
 * are connected, but without an `id:` line, so that their `Last-Event-ID` stays the ordered
 * position (docs/integration.md, "Events stream").
 *
 * Nothing here runs inside the writer's request: the feed's listener only schedules a read, so
 * stream clients do not slow writes down. A client that goes away is dropped at once, and the
 * stream unsubscribes from the feed when its last client leaves.
 */
import type { Db, Row } from '../../storage/database.js';
import { findLastEventId, listChangeEvents } from './audit.repository.js';
import type { ChangeSubscriptions } from './change-feed.js';
import { isVisible, type AuditVisibility } from './audit-visibility.js';
import {
  findEventsByIds,
  listEventIdsBetween,
  listWorkspaceEventsBetween,
} from './event-stream.repository.js';

export type AuditEventRow = Row<'audit_events'>;

/** Where a client's events go. `late`: an event below the client's position (sent without an ID). */
export interface StreamSink {
  send(row: AuditEventRow, late: boolean): void;
  /** The stream failed for this client (it should reconnect with its Last-Event-ID). */
  fail(error: unknown): void;
  /** The server is closing: end the connection. */
  close(): void;
}

export interface EventStreamOptions {
  db: Db;
  changes: ChangeSubscriptions;
  /** How long a missing ID holds back later events (0 on SQLite, where IDs commit in order). */
  gapGraceMs: number;
  onError?: ((error: unknown) => void) | undefined;
}

interface Client {
  readonly workspaceId: number;
  /** Which of the workspace's events this client's credential may see (audit-visibility.ts). */
  readonly visibility: AuditVisibility;
  readonly sink: StreamSink;
  /** Every event of the workspace with an ID up to this one has been sent (or was before `after`). */
  caughtUpTo: number;
  /** Set once the stream has started: until then it has no position to send from. */
  ready: boolean;
  pumping: boolean;
  /** Late events that arrived while the client was reading: sent after the read, unless it had them. */
  lateDuringPump: AuditEventRow[];
  closed: boolean;
}

/** IDs this far below the log's end are checked for in-flight transactions when the stream starts. */
const START_WINDOW = 1_000;
const EVENTS_PER_READ = 5_000;
const EVENTS_PER_CLIENT_READ = 500;
/** How long an ID that never appeared is still watched for, to send it late (as the change feed). */
const MISSING_ID_TTL_MS = 60_000;
/**
 * Past its grace period (or a second, whichever is longer) a missing ID holds nothing back and is
 * only watched for a late send: read once a second then, not at every read (nearly all are
 * rolled-back inserts' spent IDs; as the change feed, change-feed.ts MISSING_ID_EAGER_MS).
 */
const MISSING_ID_READ_MS = 1_000;

export class EventStream {
  private readonly clients = new Set<Client>();
  private unsubscribe: (() => void) | null = null;
  private activating: Promise<void> | null = null;
  /** The highest ID read. */
  private seen = 0;
  /** Every ID up to this one is committed or given up: clients are sent events up to it. */
  private horizon = 0;
  /** IDs below `seen` not committed yet, with when they were first missed. */
  private readonly missing = new Map<number, number>();
  /** When a read last asked for every missing ID. */
  private missingReadAt = 0;
  /** Committed IDs above the horizon, waiting for the gaps below them. */
  private readonly pending = new Set<number>();
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Counters for tests and operators. */
  readonly stats = { reads: 0, lateEvents: 0 };

  constructor(private readonly options: EventStreamOptions) {}

  /** How many clients are connected (tests check that a closed connection leaves none behind). */
  clientCount(): number {
    return this.clients.size;
  }

  /** Whether the stream follows the change feed now (only while it has clients). */
  isSubscribed(): boolean {
    return this.unsubscribe !== null;
  }

  /**
   * Adds a client of one workspace that has seen every event up to `after` (absent: only events
   * from now on); it is sent the events `visibility` lets it see, and no other. Earlier events it has not seen are sent first. Returns at once the function that
   * removes the client (call it when the connection closes), so that a connection that drops, or
   * a server that closes, while the stream is still starting leaves nothing behind.
   */
  open(
    workspaceId: number,
    visibility: AuditVisibility,
    after: number | undefined,
    sink: StreamSink,
  ): () => void {
    const client: Client = {
      workspaceId,
      visibility,
      sink,
      caughtUpTo: after ?? 0,
      ready: false,
      pumping: false,
      lateDuringPump: [],
      closed: false,
    };
    this.clients.add(client);
    this.activate().then(
      () => {
        if (client.closed) return;
        if (after === undefined) client.caughtUpTo = this.horizon;
        client.ready = true;
        this.pump(client);
      },
      (error: unknown) => {
        sink.fail(error);
        this.remove(client);
      },
    );
    return () => {
      this.remove(client);
    };
  }

  /** Ends every client (the server is closing: open streams would keep it from stopping). */
  closeAll(): void {
    for (const client of [...this.clients]) {
      this.remove(client);
      client.sink.close();
    }
  }

  /** Where failures of the stream's own reads are reported (the server's logger). */
  useLog(log: { error(details: object, message: string): void }): void {
    this.options.onError = (error) => {
      log.error({ err: error }, 'event stream: reading the audit log failed');
    };
  }

  private remove(client: Client): void {
    client.closed = true;
    this.clients.delete(client);
    if (this.clients.size === 0) this.deactivate();
  }

  private activate(): Promise<void> {
    if (this.unsubscribe !== null) return Promise.resolve();
    this.activating ??= this.start().finally(() => {
      this.activating = null;
    });
    return this.activating;
  }

  /**
   * Reads where the log ends and which of the IDs just below are not committed yet, then follows
   * the feed. The feed's listener returns at once: the read it triggers runs on its own.
   */
  private async start(): Promise<void> {
    const last = await findLastEventId(this.options.db);
    const present = new Set(
      await listEventIdsBetween(this.options.db, Math.max(0, last - START_WINDOW), last),
    );
    const now = Date.now();
    this.missing.clear();
    this.pending.clear();
    for (let id = Math.max(1, last - START_WINDOW + 1); id <= last; id++)
      if (!present.has(id)) this.missing.set(id, now);
    this.seen = last;
    this.horizon = last;
    this.horizon = this.nextHorizon(now);
    // The IDs between the new horizon and the end of the log are committed: they wait for the gaps.
    for (const id of present) if (id > this.horizon) this.pending.add(id);
    this.unsubscribe = this.options.changes.subscribe(() => {
      this.wake();
    });
    if (this.horizon < this.seen) this.scheduleRecheck(now);
    // Every client left while the stream was starting.
    if (this.clients.size === 0) this.deactivate();
  }

  private deactivate(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.missing.clear();
    this.pending.clear();
  }

  /** Schedules a read of the log; runs overlap into one, as the change feed's syncs do. */
  private wake(): void {
    const run = () => {
      this.running = this.readLog()
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.running = null;
        });
      return this.running;
    };
    if (this.running === null) {
      void run();
      return;
    }
    this.queued ??= this.running.then(() => {
      this.queued = null;
      if (this.unsubscribe !== null) return run();
      return undefined;
    });
  }

  /** The highest ID below which no missing ID is still within its grace period. */
  private nextHorizon(now: number): number {
    let horizon = this.seen;
    for (const [id, since] of this.missing)
      if (id > this.horizon && now - since < this.options.gapGraceMs)
        horizon = Math.min(horizon, id - 1);
    return Math.max(horizon, this.horizon);
  }

  private scheduleRecheck(now: number): void {
    if (this.timer !== null) return;
    let due = Number.POSITIVE_INFINITY;
    for (const [id, since] of this.missing)
      if (id > this.horizon) due = Math.min(due, since + this.options.gapGraceMs);
    if (due === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wake();
      },
      Math.max(1, due - now + 1),
    );
    this.timer.unref();
  }

  private async readLog(): Promise<void> {
    if (this.unsubscribe === null) return;
    this.stats.reads += 1;
    const now = Date.now();
    for (const [id, since] of this.missing)
      if (now - since > MISSING_ID_TTL_MS) this.missing.delete(id);
    const late: number[] = [];
    const readAll = now - this.missingReadAt >= MISSING_ID_READ_MS;
    if (readAll) this.missingReadAt = now;
    const eagerMs = Math.max(this.options.gapGraceMs, MISSING_ID_READ_MS);
    for (;;) {
      const watched: number[] = [];
      for (const [id, since] of this.missing)
        if (readAll || now - since < eagerMs) watched.push(id);
      const rows = await listChangeEvents(this.options.db, this.seen, watched, EVENTS_PER_READ);
      for (const row of rows) {
        if (row.id > this.seen) {
          if (row.id - this.seen <= EVENTS_PER_READ)
            for (let id = this.seen + 1; id < row.id; id++) this.missing.set(id, now);
          this.seen = row.id;
          this.pending.add(row.id);
        } else if (this.missing.delete(row.id)) {
          if (row.id <= this.horizon) late.push(row.id);
          else this.pending.add(row.id);
        }
      }
      if (rows.length < EVENTS_PER_READ) break;
    }
    const previous = this.horizon;
    this.horizon = this.nextHorizon(now);
    const released: number[] = [];
    for (const id of this.pending)
      if (id <= this.horizon) {
        released.push(id);
        this.pending.delete(id);
      }
    this.scheduleRecheck(now);
    await this.deliver(previous, this.horizon, released, late);
  }

  /** Sends the released and late events to the clients of their workspaces. */
  private async deliver(
    previous: number,
    horizon: number,
    released: number[],
    late: number[],
  ): Promise<void> {
    const watched = new Set([...this.clients].map((client) => client.workspaceId));
    const rows = await findEventsByIds(this.options.db, [...released, ...late]);
    const byWorkspace = new Map<number, AuditEventRow[]>();
    for (const row of rows) {
      if (!watched.has(row.workspace_id)) continue;
      const list = byWorkspace.get(row.workspace_id);
      if (list === undefined) byWorkspace.set(row.workspace_id, [row]);
      else list.push(row);
    }
    const lateIds = new Set(late);
    this.stats.lateEvents += late.length;
    for (const client of this.clients) {
      if (!client.ready) continue;
      const mine = byWorkspace.get(client.workspaceId) ?? [];
      for (const row of mine) {
        if (!lateIds.has(row.id)) continue;
        if (client.pumping) client.lateDuringPump.push(row);
        else if (row.id <= client.caughtUpTo) this.send(client, row, true);
      }
      if (!client.pumping && client.caughtUpTo >= previous) {
        for (const row of mine)
          if (!lateIds.has(row.id) && row.id > client.caughtUpTo) this.send(client, row, false);
        client.caughtUpTo = Math.max(client.caughtUpTo, horizon);
      }
      if (client.caughtUpTo < this.horizon) this.pump(client);
    }
  }

  /** Reads the client's workspace from its position up to the horizon (resumption, or a late joiner). */
  private pump(client: Client): void {
    if (!client.ready || client.pumping || client.closed || client.caughtUpTo >= this.horizon)
      return;
    client.pumping = true;
    const run = async () => {
      while (!client.closed && client.caughtUpTo < this.horizon) {
        const target = this.horizon;
        const rows = await listWorkspaceEventsBetween(
          this.options.db,
          client.workspaceId,
          client.visibility,
          client.caughtUpTo,
          target,
          EVENTS_PER_CLIENT_READ,
        );
        const sent = new Set<number>();
        for (const row of rows) {
          this.send(client, row, false);
          sent.add(row.id);
        }
        const last = rows.at(-1);
        client.caughtUpTo =
          rows.length === EVENTS_PER_CLIENT_READ && last !== undefined ? last.id : target;
        const late = client.lateDuringPump;
        client.lateDuringPump = [];
        for (const row of late)
          if (row.id <= client.caughtUpTo && !sent.has(row.id)) this.send(client, row, true);
      }
    };
    run()
      .catch((error: unknown) => {
        client.sink.fail(error);
        this.remove(client);
      })
      .finally(() => {
        client.pumping = false;
        // The horizon may have moved between the last read and now.
        if (!client.closed && client.caughtUpTo < this.horizon) this.pump(client);
      });
  }

  private send(client: Client, row: AuditEventRow, late: boolean): void {
    // Every path to a client goes through here: the rows read once for all clients of the
    // workspace are filtered per client (the serialization stays shared: events.routes.ts).
    if (client.closed || !isVisible(row, client.visibility)) return;
    try {
      client.sink.send(row, late);
    } catch (error) {
      client.sink.fail(error);
      this.remove(client);
    }
  }
}
