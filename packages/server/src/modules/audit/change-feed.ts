/**
 * The change feed: the audit log read as a change log. Every write records an audit event in its
 * own transaction, so the events after a cursor are exactly the writes a process has not seen yet.
 * The feed reads them — after a local write (`afterWrite`), when another instance NOTIFYs on
 * PostgreSQL (each instance announces its own committed writes, see `announce`; a dedicated LISTEN
 * connection hears the others', reopened with backoff when lost), and on a poll that
 * is the safety net and what keeps several processes on one SQLite file current — and hands each
 * batch to its subscribers: the access index (decisions/access-index.ts) and the API clients'
 * authentication cache (api-clients.service.ts). docs/decisions.md, "Keeping it current".
 *
 * It lives beside the audit log it reads, below every module that subscribes, so a subscriber
 * depends on the feed and never the feed on a subscriber.
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Db, Dialect } from '../../storage/database.js';
import { prepared } from '../../storage/prepared.js';
import {
  findChangeEvents,
  findLastEventId,
  listChangeEvents,
  type ChangeEventRow,
} from './audit.repository.js';
import { isChangeTargetType, type ChangeTargetType } from './change-kinds.js';
import type { RecordedChange, RecordedEvents } from '../../lib/change-tracking.js';

// The union of target kinds lives in change-kinds.ts, shared with the write side; re-exported
// here for the subscribers that import it with the feed.
export { CHANGE_TARGET_TYPES, type ChangeTargetType } from './change-kinds.js';

/** One write, as subscribers receive it. */
export interface ChangeEvent {
  readonly id: number;
  readonly workspaceId: number;
  readonly action: string;
  /** Null for a target type this version does not know (a row written by another version). */
  readonly targetType: ChangeTargetType | null;
  readonly targetId: string | null;
  /**
   * A change that only added or removed members of a group (`*.members_added`,
   * `*.members_removed`): the IDs of those members (collaborators for `user_group`, end users for
   * `end_user_group`), so a subscriber can reload them instead of the whole group (a cost that
   * grew with the group). Null or absent for every other change, or when the event does not
   * list them (optional, so that code building events for other purposes need not say).
   */
  readonly memberIds?: readonly number[] | null;
  /**
   * Grants upserted in a project (`project_grants.upserted`): their IDs, so a subscriber can
   * reload them instead of every grant of the project. Null for other changes.
   */
  readonly grantIds?: readonly string[] | null;
  /**
   * A feature's access granted or revoked (`feature.access_granted`, `feature.access_revoked`):
   * the end users and groups the request named, so a subscriber can reload those grants instead
   * of every grant of the feature. Null for other changes.
   */
  readonly featureGrantees?: FeatureGrantees | null;
}

/** The grantees a feature access change names. */
export interface FeatureGrantees {
  readonly endUserIds: readonly number[];
  readonly groupIds: readonly number[];
}

/**
 * Receives each batch of events in ID order (late commits may repeat or come after later IDs:
 * applying an event twice or late must be harmless). A sync resolves after every listener has.
 */
export type ChangeListener = (events: readonly ChangeEvent[]) => void | Promise<void>;

/** What a subscriber needs of the feed. */
export interface ChangeSubscriptions {
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ChangeListener): () => void;
}

export interface ChangeFeedOptions {
  db: Db;
  dialect: Dialect;
  /** The PostgreSQL URL to LISTEN on; absent on SQLite. */
  databaseUrl?: string | undefined;
  /** The safety-net poll, in ms; 0 disables it. */
  pollIntervalMs?: number | undefined;
  onError?: (error: unknown) => void;
}

/** The part of a pino/Fastify logger the feed uses. */
export interface FeedLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

/** The channel changes are announced on (migrations 0023 and 0031 spell it out: keep them equal). */
export const CHANGE_CHANNEL = 'roster_changes';

/**
 * NOTIFY on the change channel, sent on its own after the write's commit (migration 0035 says why
 * not from inside the write's transaction). The payload is `first-last`, the IDs of the events
 * announced, or empty for "some, read the log to its end".
 */
const notifyChanges = prepared((db, p: { payload: string }) =>
  db.selectNoFrom(sql<string>`pg_notify(${CHANGE_CHANNEL}, ${p.payload})`.as('notified')),
);

/**
 * Tells every instance listening on PostgreSQL that changes were committed, IDs unknown (they read
 * the log to its end): what a process that writes without serving (the CLI) sends once it is done.
 * Nothing on SQLite.
 */
export async function announceChanges(db: Db, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') await notifyChanges.execute(db, { payload: '' });
}
/** How long an ID skipped by the change log stays on the watch list (see sync). */
const MISSING_ID_TTL_MS = 60_000;
/**
 * A skipped ID is read again at every sync for this long, then once a second (MISSING_ID_READ_MS)
 * until its TTL ends: most are transactions a few milliseconds from their commit, and those still
 * missing a second later are nearly all rolled back (PostgreSQL spends a sequence value that a
 * rolled-back insert took). Reading every one at every sync cost the database in proportion to
 * the rollbacks of the last minute times the syncs (docs/performance.md, "Eighteenth round").
 * A caller that needs a given ID read now says so (`sync(through)`): a notification, a forwarded
 * decision, a write that does not know its events.
 */
const MISSING_ID_EAGER_MS = 1_000;
const MISSING_ID_READ_MS = 1_000;
const EVENTS_PER_READ = 5_000;
/** At most this many own events applied ahead of the log's reading (see applyOwn). */
const MAX_APPLIED_AHEAD = 10_000;
const LISTEN_CONNECT_TIMEOUT_MS = 5_000;
const LISTEN_RETRY_FIRST_MS = 250;
const LISTEN_RETRY_MAX_MS = 5_000;

/**
 * The IDs of the events recorded by requests still open, for `ownWrite`. A ring of slots by ID
 * (the ID modulo its size), not a Set: an ID comes and goes with every write, and a Set with that
 * churn rebuilds its table every few writes, each dead table keeping the next alive into the old
 * generation (lib/slots.ts). An ID pushed out by one OPEN_WRITE_SLOTS higher (a request kept open
 * while that many events were recorded) reads as not open: its notification then reads the log,
 * the conservative answer.
 */
class OpenWriteIds {
  private readonly ids = new Float64Array(OPEN_WRITE_SLOTS);
  add(id: number): void {
    this.ids[id % OPEN_WRITE_SLOTS] = id;
  }
  delete(id: number): void {
    const slot = id % OPEN_WRITE_SLOTS;
    if (this.ids[slot] === id) this.ids[slot] = 0;
  }
  /** Event IDs start at 1: an empty slot (0) holds none. */
  has(id: number): boolean {
    return id > 0 && this.ids[id % OPEN_WRITE_SLOTS] === id;
  }
}
const OPEN_WRITE_SLOTS = 65_536;

/** The events of the writes that wait together for the run in progress (see applyOwn). */
interface OwnBatch {
  changes: RecordedChange[];
  applied: Promise<void>;
}

export class ChangeFeed implements ChangeSubscriptions {
  private readonly listeners: ChangeListener[] = [];
  private lastSeen = 0;
  /** IDs below lastSeen not seen yet: on PostgreSQL a transaction can commit after a later one. */
  private readonly missing = new Map<number, number>();
  /** Watched IDs up to this one are read by the next run, however old (`sync(through)`). */
  private watchedThrough = 0;
  /** When a run last read every watched ID. */
  private watchedReadAt = 0;
  /**
   * This instance's own events applied from what its writes recorded (applyOwn), not yet met by
   * a read of the log, with when: a read that meets them passes over them instead of delivering
   * them again.
   */
  private readonly appliedAhead = new Map<number, number>();
  /**
   * IDs of the events recorded by this instance's requests not closed yet (app.ts gives it to
   * lib/change-tracking.ts): their own sync applies them before they answer (applyOwn).
   */
  readonly openWrites = new OpenWriteIds();
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;
  private poller: NodeJS.Timeout | null = null;
  private listener: pg.Client | null = null;
  private notifications: 'listening' | 'reconnecting' | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private listenAttempts = 0;
  private log: FeedLog | undefined;
  private stopped = false;
  /**
   * Events committed here that the other instances have not been told of yet (`announce`): the
   * lowest and highest ID, or 'unknown' when some write did not know its events' IDs.
   */
  private unannounced: { first: number; last: number } | 'unknown' | null = null;
  /** The announcements being sent, until none is left (stop waits for them). */
  private announcing: Promise<void> | null = null;
  /**
   * Counters for docs, tests and operators; `lastSyncMs`: when the log was last read to its end;
   * `ownApplied`: events applied as the writes that recorded them gave them, without a read.
   */
  readonly stats = {
    syncs: 0,
    events: 0,
    lastSyncMs: 0,
    ownApplied: 0,
    /** Writes whose events were applied as recorded, and the runs that applied them. */
    ownWrites: 0,
    /** Fewer than ownWrites when writes waited together for a run in progress (applyOwn). */
    ownRuns: 0,
    watchedReads: 0,
  };
  /** Writes' events waiting for the run in progress, to be applied by one run (applyOwn). */
  private ownBatch: OwnBatch | null = null;

  /** IDs skipped by the log and still watched (see MISSING_ID_EAGER_MS), for /metrics. */
  watchedIds(): number {
    return this.missing.size;
  }

  constructor(private readonly options: ChangeFeedOptions) {}

  subscribe(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /**
   * Reads the log's position, runs `load` (the subscribers' build from current rows), then
   * delivers every event after that position and starts listening and polling. The position is
   * read first so that nothing written during the load is missed (it is delivered again, which
   * is harmless).
   */
  async start(load?: () => Promise<void>): Promise<void> {
    const position = await findLastEventId(this.options.db);
    await load?.();
    this.lastSeen = position;
    this.missing.clear();
    this.appliedAhead.clear();
    const interval = this.options.pollIntervalMs ?? 1_000;
    if (interval > 0) {
      this.poller = setInterval(() => {
        this.sync().catch((error: unknown) => this.options.onError?.(error));
      }, interval);
      this.poller.unref();
    }
    if (this.options.dialect === 'postgres' && this.options.databaseUrl !== undefined)
      await this.listen(this.options.databaseUrl);
  }

  /**
   * Runs after every request that recorded a change, once its transaction has committed: the
   * subscribers apply it before the response goes out (the writer's next check sees the write),
   * and on PostgreSQL the other instances are told of it (`announce`, not awaited). When the
   * request knows its events (every insert gave them), they are applied as recorded, without
   * reading the log back.
   */
  async afterWrite(events?: RecordedEvents): Promise<void> {
    this.announce(events);
    // Its events may be among the watched IDs (a later write committed first): all are read.
    if (events === undefined) await this.sync(Number.POSITIVE_INFINITY);
    else if (events.changes !== undefined && this.appliedAhead.size < MAX_APPLIED_AHEAD)
      await this.applyOwn(events.changes);
    else await this.catchUp(events);
  }

  /**
   * Tells the instances listening on PostgreSQL (this one's LISTEN connection among them) that
   * this instance committed `events` (undefined: some, IDs unknown). One NOTIFY is in flight at a
   * time and the next covers everything committed meanwhile (the lowest to the highest ID: a range
   * that also spans other instances' events only makes a listener check those too), so under load
   * the announcements are far fewer than the writes and none waits for a write's answer. A failed
   * one is reported and not retried: the poll brings the others the change within
   * ROSTER_CHANGE_POLL_MS, as it does while their LISTEN connection is down.
   */
  private announce(events: RecordedEvents | undefined): void {
    if (this.options.dialect !== 'postgres' || this.stopped) return;
    const pending = this.unannounced;
    if (events === undefined || pending === 'unknown') this.unannounced = 'unknown';
    else
      this.unannounced =
        pending === null
          ? { first: events.first, last: events.last }
          : {
              first: Math.min(pending.first, events.first),
              last: Math.max(pending.last, events.last),
            };
    if (this.announcing === null) this.announcing = this.sendAnnouncements();
  }

  /** Sends what is unannounced until nothing is: also after stop(), which waits for it. */
  private async sendAnnouncements(): Promise<void> {
    try {
      while (this.unannounced !== null) {
        const pending = this.unannounced;
        this.unannounced = null;
        const payload = pending === 'unknown' ? '' : `${pending.first}-${pending.last}`;
        await notifyChanges.execute(this.options.db, { payload }).catch((error: unknown) => {
          this.log?.warn(
            { err: error },
            'could not announce committed changes to the other instances; their poll will bring them',
          );
          this.options.onError?.(error);
        });
      }
    } finally {
      // In the same turn as the loop's last look: an announce() after it starts a new sender.
      this.announcing = null;
    }
  }

  /**
   * Delivers a write's own events as it recorded them: one statement fewer per write than
   * reading them back from the log. A run in progress (a read, or other writes' events) may
   * have read the changed rows before this write committed, so it is waited for first and this
   * delivery takes its turn like a run: whatever a subscriber reloads now is read after the
   * commit. The log's position moves past them only where nothing before them is unread; else a
   * later read (another instance's notification, the poll) meets them and passes over them.
   * Only committed events come here: an insert notes its event when its transaction commits
   * (storage/commit-hooks.ts). One noted and rolled back would have been passed over when SQLite
   * gave its ID to the next write's event.
   *
   * The writes that arrive while a run is in progress wait for it together and are then applied
   * by one run (`ownBatch`): a run waits for the subscribers' reloads (database reads), and with
   * one run per write every write of the instance queued behind the one before, so under load a
   * write waited for the reloads of all the writes ahead of it (docs/performance.md, "Twentieth
   * round"). Together, their reloads are one read of everything they name.
   */
  private applyOwn(changes: readonly RecordedChange[]): Promise<void> {
    this.stats.ownWrites += 1;
    const waiting = this.ownBatch;
    if (waiting !== null) {
      for (const change of changes) waiting.changes.push(change);
      return waiting.applied;
    }
    const batch: OwnBatch = { changes: [...changes], applied: Promise.resolve() };
    this.ownBatch = batch;
    batch.applied = this.applyOwnBatch(batch);
    return batch.applied;
  }

  private async applyOwnBatch(batch: OwnBatch): Promise<void> {
    while (this.running !== null) await this.running.catch(() => undefined);
    // Writes from here on are after this run's reads began: they make the next batch.
    if (this.ownBatch === batch) this.ownBatch = null;
    const run = (async () => {
      const nowMs = Date.now();
      // In ID order, so that events contiguous with the log's position move it on.
      const changes = batch.changes.sort((a, b) => a.id - b.id);
      const fresh = changes.filter(
        (change, at) =>
          (at === 0 || changes[at - 1]?.id !== change.id) &&
          !this.appliedAhead.has(change.id) &&
          (change.id > this.lastSeen || this.missing.has(change.id)),
      );
      for (const change of fresh) {
        // The usual case, an event right after the log's position with none ahead of it, moves
        // the position without going through appliedAhead: a set and a delete per write were a
        // Map's churn (lib/slots.ts says what that costs).
        if (change.id === this.lastSeen + 1 && this.appliedAhead.size === 0) this.lastSeen += 1;
        else if (change.id > this.lastSeen) this.appliedAhead.set(change.id, nowMs);
        else this.missing.delete(change.id);
      }
      // Contiguous with what was read: the position moves on (no read will need to pass them).
      while (this.appliedAhead.has(this.lastSeen + 1)) {
        this.lastSeen += 1;
        this.appliedAhead.delete(this.lastSeen);
      }
      this.stats.ownApplied += fresh.length;
      this.stats.ownRuns += 1;
      if (fresh.length > 0) await this.deliver(fresh.map(toChangeEvent));
    })();
    this.running = run.finally(() => {
      this.running = null;
    });
    await this.running;
  }

  /**
   * Delivers the committed events `first`..`last`, reading the log only if no read has brought
   * them yet. A write's own announcement comes back to this instance too: whichever of the
   * write's sync and the notification comes second finds them read, so each write costs one read
   * of the log at most, not two. A read still running may have started before they committed, so
   * it is waited for and then asked; a read started after that sees them.
   */
  private async catchUp(events: RecordedEvents): Promise<void> {
    // The run in progress, then at most the one after it (which started after this call, so
    // after the events committed): once one of them ends having read the events, they are
    // delivered. Events that never appear (a rolled-back write) end in a sync of their own.
    for (let waits = 0; waits < 2 && this.running !== null; waits++) {
      await this.running.catch(() => undefined);
      if (this.hasRead(events)) return;
    }
    if (this.running === null && this.hasRead(events)) return;
    await this.sync(events.last);
  }

  /**
   * Whether `first`..`last` are events recorded by requests of this instance still open: the
   * notification of their commit often arrives before their own sync has applied them, and
   * that sync will (applyOwn), so the notification need not read the log for them.
   */
  private ownWrite(first: number, last: number): boolean {
    if (last - first >= 1_000) return false;
    for (let id = first; id <= last; id++) if (!this.openWrites.has(id)) return false;
    return true;
  }

  /**
   * Whether every event of `first`..`last` has been read. Asked when no run is in progress, or
   * right as one ends (before the next can have read anything): then read means delivered.
   */
  private hasRead({ first, last }: RecordedEvents): boolean {
    if (this.appliedAhead.size > 0 && last - first < 1_000) {
      for (let id = first; id <= last; id++)
        if (!this.appliedAhead.has(id) && (id > this.lastSeen || this.missing.has(id)))
          return false;
      return true;
    }
    if (last > this.lastSeen) return false;
    for (const id of this.missing.keys()) if (id >= first && id <= last) return false;
    return true;
  }

  /**
   * The last change this instance applied (its own writes' events included, even ahead of its
   * reading of the log): a forwarded decision carries it (modules/cluster), so the instance that
   * answers applies them first; the metrics' sync lag compares it with the log's last.
   */
  position(): number {
    let position = this.lastSeen;
    for (const id of this.appliedAhead.keys()) if (id > position) position = id;
    return position;
  }

  /** Whether every change up to `position` has been applied here (none still missing). */
  hasSeen(position: number): boolean {
    if (this.lastSeen < position) return false;
    for (const id of this.missing.keys()) if (id <= position) return false;
    return true;
  }

  /**
   * Holds a dedicated connection LISTENing for other instances' writes. When it is lost (a restart,
   * a failover, pg_terminate_backend), it is opened again with backoff until that works, however
   * long the outage: meanwhile the poll keeps the subscribers current, only slower
   * (docs/operations.md).
   */
  private async listen(url: string): Promise<void> {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: LISTEN_CONNECT_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // Until LISTEN has run, a failure rejects the attempt below and the caller retries; after it,
    // 'error' or 'end' means the connection is lost (a client can emit 'error' twice: the
    // server's 57P01, then the closed socket), and it is reported once.
    let state: 'connecting' | 'up' | 'done' = 'connecting';
    const onLost = (error: unknown) => {
      if (state !== 'up') return;
      state = 'done';
      if (this.listener === client) this.listener = null;
      void client.end().catch(() => undefined);
      this.listenerLost(url, error);
    };
    client.on('notification', (message) => {
      // The events it announces (`announce`): often this instance's own, read by the write's
      // sync already. Without a payload (IDs unknown, or an older version's trigger), the log is
      // read.
      const announced = /^(\d+)-(\d+)$/.exec(message.payload ?? '');
      if (announced !== null && this.ownWrite(Number(announced[1]), Number(announced[2]))) return;
      const read =
        announced === null
          ? this.sync(Number.POSITIVE_INFINITY)
          : this.catchUp({ first: Number(announced[1]), last: Number(announced[2]) });
      read.catch((error: unknown) => this.options.onError?.(error));
    });
    client.on('error', onLost);
    client.on('end', () => {
      onLost(new Error('the LISTEN connection closed'));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      state = 'done';
      void client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      state = 'done';
      await client.end();
      return;
    }
    state = 'up';
    this.listener = client;
    this.listenAttempts = 0;
    this.notifications = 'listening';
    // Writes that landed while the listener was connecting (or down), late commits among them.
    // Its failure is the poll's to recover from, not a failed LISTEN.
    await this.sync(Number.POSITIVE_INFINITY).catch((error: unknown) =>
      this.options.onError?.(error),
    );
  }

  /** Logs the loss once and schedules the next attempt: 250 ms, doubling up to 5 s. */
  private listenerLost(url: string, error: unknown): void {
    if (this.stopped) return;
    if (this.notifications === 'listening') {
      this.log?.warn(
        { err: error },
        'lost the PostgreSQL LISTEN connection for cross-instance changes; reconnecting (the poll covers the gap)',
      );
    }
    this.notifications = 'reconnecting';
    if (this.reconnectTimer !== null) return;
    const delay = Math.min(LISTEN_RETRY_MAX_MS, LISTEN_RETRY_FIRST_MS * 2 ** this.listenAttempts);
    this.listenAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      const attempt = this.listenAttempts;
      this.listen(url).then(
        () => {
          if (!this.stopped)
            this.log?.info({ attempt }, 'listening for cross-instance changes again');
        },
        (retryError: unknown) => {
          // Every failed attempt is logged, at most once per backoff step (at most every 5 s).
          this.log?.warn(
            { err: retryError, attempt },
            'could not LISTEN for cross-instance changes; retrying',
          );
          this.listenerLost(url, retryError);
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  /**
   * Whether other instances' writes arrive by notification (`listening`), or only by the poll
   * while the LISTEN connection is re-established (`reconnecting`). Undefined on SQLite, which
   * runs one instance.
   */
  notificationState(): 'listening' | 'reconnecting' | undefined {
    return this.notifications;
  }

  /** Reports the LISTEN connection's losses and recoveries to the server's logger. */
  useLog(log: FeedLog): void {
    this.log = log;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) await listener.end().catch(() => undefined);
    await this.running?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
    // The writes committed last are still announced: the store closes after this.
    await this.announcing;
  }

  /**
   * Delivers every change logged since the last sync. Concurrent callers share one run, and a
   * caller that arrives during a run gets the next one, which starts after its call: a caller
   * whose write committed before it called sync() always sees that write applied afterwards.
   * Watched IDs (skipped by an earlier read) are read by every run for a second, then once a
   * second: `through` has that run read those up to it whatever their age, for a caller that
   * knows an event up to there has committed.
   */
  sync(through?: number): Promise<void> {
    if (through !== undefined && through > this.watchedThrough) this.watchedThrough = through;
    if (this.running === null) {
      this.running = this.syncOnce().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.sync();
      });
    return this.queued;
  }

  private async syncOnce(): Promise<void> {
    this.stats.syncs += 1;
    const nowMs = Date.now();
    for (const [id, since] of this.missing)
      if (nowMs - since > MISSING_ID_TTL_MS) this.missing.delete(id);
    // An own event no read has met within the same time is forgotten like a missing ID.
    for (const [id, since] of this.appliedAhead)
      if (nowMs - since > MISSING_ID_TTL_MS) this.appliedAhead.delete(id);
    const through = this.watchedThrough;
    this.watchedThrough = 0;
    const readAll = nowMs - this.watchedReadAt >= MISSING_ID_READ_MS;
    if (readAll) this.watchedReadAt = nowMs;
    for (;;) {
      const watched: number[] = [];
      for (const [id, since] of this.missing)
        if (readAll || id <= through || nowMs - since < MISSING_ID_EAGER_MS) watched.push(id);
      this.stats.watchedReads += watched.length;
      const rows = await listChangeEvents(this.options.db, this.lastSeen, watched, EVENTS_PER_READ);
      if (rows.length === 0) {
        this.stats.lastSyncMs = nowMs;
        return;
      }
      let expected = this.lastSeen + 1;
      for (const row of rows) {
        if (row.id > this.lastSeen) {
          // IDs skipped here may belong to transactions still in flight: watch them for a while.
          if (row.id - expected <= EVENTS_PER_READ)
            for (let id = expected; id < row.id; id++) this.missing.set(id, nowMs);
          expected = row.id + 1;
          this.lastSeen = row.id;
        } else {
          this.missing.delete(row.id);
        }
      }
      this.stats.events += rows.length;
      // Own events already applied (applyOwn) are passed over, not delivered again.
      const unseen =
        this.appliedAhead.size === 0
          ? rows
          : rows.filter((row) => !this.appliedAhead.delete(row.id));
      if (unseen.length > 0) await this.deliver(unseen.map(toChangeEvent));
      if (rows.length < EVENTS_PER_READ) {
        this.stats.lastSyncMs = nowMs;
        return;
      }
    }
  }

  /**
   * Every listener gets the batch, together (one's database reads do not hold back another's
   * eviction), and one's failure does not keep the batch from the others; the first failure is
   * the sync's.
   */
  private async deliver(events: readonly ChangeEvent[]): Promise<void> {
    const results = await Promise.allSettled(
      this.listeners.map(async (listener) => {
        await listener(events);
      }),
    );
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  }
}

function toChangeEvent(row: ChangeEventRow): ChangeEvent {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    action: row.action,
    targetType: isChangeTargetType(row.target_type) ? row.target_type : null,
    targetId: row.target_id,
    ...namedTargets(row.action, row.detail_json),
  };
}

/** What a detailed change's snapshot names (audit.repository.ts, DETAILED_ACTIONS). */
function namedTargets(
  action: string,
  json: string | null,
): Pick<ChangeEvent, 'memberIds' | 'grantIds' | 'featureGrantees'> {
  const none = { memberIds: null, grantIds: null, featureGrantees: null };
  if (json === null) return none;
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(json);
  } catch {
    return none;
  }
  if (action === 'project_grants.upserted') return { ...none, grantIds: grantIds(snapshot) };
  if (action === 'feature.access_granted' || action === 'feature.access_revoked')
    return { ...none, featureGrantees: featureGrantees(snapshot) };
  return { ...none, memberIds: membershipIds(snapshot) };
}

/**
 * The `end_user_ids` and `end_user_group_ids` of a feature access change (features.service.ts);
 * null when either is not a list of integers: the subscriber then reloads the whole feature.
 */
function featureGrantees(snapshot: unknown): FeatureGrantees | null {
  if (typeof snapshot !== 'object' || snapshot === null) return null;
  const record = snapshot as Record<string, unknown>;
  const ids = (value: unknown): number[] | null =>
    Array.isArray(value) && value.every((id) => Number.isSafeInteger(id))
      ? (value as number[])
      : null;
  const endUserIds = ids(record.end_user_ids ?? []);
  const groupIds = ids(record.end_user_group_ids ?? []);
  return endUserIds === null || groupIds === null ? null : { endUserIds, groupIds };
}

/** The `id` of every upserted grant; null when one has none (written before they were logged). */
function grantIds(snapshot: unknown): readonly string[] | null {
  if (!Array.isArray(snapshot)) return null;
  const ids: string[] = [];
  for (const item of snapshot as unknown[]) {
    const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : null;
    if (typeof id !== 'string') return null;
    ids.push(id);
  }
  return ids;
}

/**
 * The member IDs a membership change's snapshot names: `user_ids` (collaborator groups),
 * `end_user_ids` (end-user groups), or `members_added` and `members_removed` (SCIM). Null when
 * none of them is a list of integers: the subscriber then reloads the whole group.
 */
function membershipIds(snapshot: unknown): readonly number[] | null {
  if (typeof snapshot !== 'object' || snapshot === null) return null;
  const record = snapshot as Record<string, unknown>;
  const ids: number[] = [];
  let listed = false;
  for (const key of ['user_ids', 'end_user_ids', 'members_added', 'members_removed']) {
    const value = record[key];
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((id) => Number.isSafeInteger(id))) return null;
    listed = true;
    ids.push(...(value as number[]));
  }
  return listed ? ids : null;
}

/**
 * The change events with these IDs, as the feed delivers them (GET /api/access/snapshot/changes
 * reads the events a local authorizer received from the stream).
 */
export async function readChangeEvents(db: Db, ids: readonly number[]): Promise<ChangeEvent[]> {
  if (ids.length === 0) return [];
  return (await findChangeEvents(db, ids)).map(toChangeEvent);
}
