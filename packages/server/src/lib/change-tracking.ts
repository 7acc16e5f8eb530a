/**
 * Which requests recorded a change. Every write records its audit event, and the audit table is
 * the change log the access index follows (docs/decisions.md); the insert marks the request it
 * ran for, and the app brings the index up to date before answering exactly the requests so
 * marked, whatever their HTTP method: the SSO callback is a GET that creates an end user, and an
 * access check is a POST that writes nothing.
 *
 * The mark travels explicitly: each tracked request gets a ChangeTracker (trackChanges), which
 * reaches the insert through the request's context (RequestContext.changes, which recordChange
 * reads) or, where a write has no context (an invitation accepted, SCIM), as a parameter. Until
 * the seventh round it travelled in an AsyncLocalStorage, and while one was enabled — always,
 * under a mixed load — Node 20 ran its promise hooks for every promise of the process, the
 * access checks' too (docs/performance.md, "Seventh round: the request path's own cost").
 *
 * An insert that names no tracker (`undefined`: a writer not yet given one) still keeps the
 * guarantee, conservatively: it marks every tracked request open at that moment, the one it ran
 * for among them, with an event of unknown ID (their sync reads the change log to its end).
 * `null` says the insert runs for no request (background work: no answer waits on it; the change
 * feed's poll applies it within ROSTER_CHANGE_POLL_MS).
 */
import { Slots } from './slots.js';

/** Where a tracker keeps the IDs of the events it noted while its request is open. */
export interface NotedIds {
  add(id: number): void;
  delete(id: number): void;
}

/** The changes one request recorded: created by trackChanges, filled by noteChangeRecorded. */
export class ChangeTracker {
  recorded = false;
  /** The lowest and highest ID of the events recorded (when the insert said). */
  first: number | undefined = undefined;
  last: number | undefined = undefined;
  /** The events themselves, while every insert gave them (null once one did not). */
  changes: RecordedChange[] | null | undefined = undefined;
  /** The IDs noted, kept in `pending` until the request closes. */
  ids: number[] | undefined = undefined;
  /**
   * Set when the response has closed. Work that outlives it (a handler still running after its
   * client hung up) may still hold the tracker: nothing waits on it then, and its IDs must not
   * enter `pending`, which the close has already cleaned up.
   */
  closed = false;

  constructor(
    /** Where the IDs noted are kept until the request closes (the change feed's openWrites). */
    readonly pending: NotedIds | undefined,
  ) {}
}

/**
 * One recorded change event as the change log holds it (the columns the change feed reads:
 * modules/audit/audit.repository.ts), known to the request that inserted it.
 */
export interface RecordedChange {
  id: number;
  workspace_id: number;
  target_type: string;
  target_id: string | null;
  action: string;
  /** The snapshot of a change whose snapshot names what it changed, else null. */
  detail_json: string | null;
}

/** The IDs of the change events a request recorded: its sync waits for just these. */
export interface RecordedEvents {
  first: number;
  last: number;
  /**
   * The events, when every insert of the request gave them: the request's own sync applies them
   * without reading them back from the change log (modules/audit/change-feed.ts, afterWrite).
   */
  changes?: readonly RecordedChange[];
}

/**
 * Tracked requests not yet closed: what an insert naming no tracker marks. Slots, not a Set: one
 * comes and goes per request, and a Set's replaced tables kept the trackers, with the events they
 * held, alive into the old generation (lib/slots.ts).
 */
const open = new Slots<ChangeTracker>();

/**
 * Starts tracking a request's changes until `response` closes (answered or abandoned): the
 * tracker returned is what its writes pass on to the inserts of their events. `pending` (the
 * change feed's: openWrites) holds the IDs of the events it records until then.
 */
export function trackChanges(
  response: { once(event: 'close', listener: () => void): unknown },
  pending?: NotedIds,
): ChangeTracker {
  const tracker = new ChangeTracker(pending);
  const slot = open.add(tracker);
  response.once('close', () => {
    tracker.closed = true;
    open.take(slot);
    const ids = tracker.ids;
    if (ids !== undefined && pending !== undefined) for (const id of ids) pending.delete(id);
  });
  return tracker;
}

/**
 * Called where a change event is inserted: marks the request it ran for (see the top of this
 * file for `undefined` and `null`) with the event's ID (undefined: unknown, and the request's
 * sync reads the log to its end) and, when the insert gives it, the event itself.
 */
export function noteChangeRecorded(
  tracker: ChangeTracker | null | undefined,
  id?: number,
  change?: RecordedChange,
): void {
  if (tracker === null) return;
  if (tracker === undefined) {
    open.forEach((each) => {
      note(each, undefined, undefined);
    });
    return;
  }
  note(tracker, id, change);
}

function note(tracker: ChangeTracker, id?: number, change?: RecordedChange): void {
  const known = !tracker.recorded || tracker.first !== undefined;
  const first = !tracker.recorded;
  tracker.recorded = true;
  if (id === undefined || !known) {
    tracker.first = undefined;
    tracker.last = undefined;
    tracker.changes = null;
    return;
  }
  tracker.first = Math.min(tracker.first ?? id, id);
  tracker.last = Math.max(tracker.last ?? id, id);
  if (tracker.pending !== undefined && !tracker.closed) {
    tracker.pending.add(id);
    (tracker.ids ??= []).push(id);
  }
  if (change === undefined || change.id !== id) tracker.changes = null;
  else if (first) tracker.changes = [change];
  else tracker.changes?.push(change);
}

/** The IDs of the events this tracker's request recorded, when every insert said (else undefined). */
export function recordedEvents(tracker: ChangeTracker): RecordedEvents | undefined {
  if (tracker.first === undefined || tracker.last === undefined) return undefined;
  const changes = tracker.changes ?? undefined;
  return {
    first: tracker.first,
    last: tracker.last,
    ...(changes === undefined ? {} : { changes }),
  };
}
