/**
 * Which requests recorded a change. Every write records its audit event, and the audit table is
 * the change log the access index follows (docs/decisions.md); the insert marks the request it
 * ran for, and the app brings the index up to date before answering exactly the requests so
 * marked, whatever their HTTP method: the SSO callback is a GET that creates an end user, and an
 * access check is a POST that writes nothing. The mark travels in an AsyncLocalStorage, so the
 * services and repositories that record events need no extra parameter.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

interface Tracker {
  recorded: boolean;
  /** The lowest and highest ID of the events recorded (when the insert said). */
  first?: number;
  last?: number;
  /** The events themselves, while every insert gave them (null once one did not). */
  changes?: RecordedChange[] | null;
  /** Where the IDs noted are kept until the request closes (trackChanges). */
  pending?: Set<number> | undefined;
  ids?: number[];
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

const current = new AsyncLocalStorage<Tracker>();
const trackers = new WeakMap<object, Tracker>();
/** Tracked requests not yet closed. */
let open = 0;

/**
 * Runs `next` (the rest of the request: its handler) so that recorded changes mark `request`,
 * until `response` closes (answered or abandoned). `pending` (the change feed's: openWrites)
 * holds the IDs of the events it records until then.
 *
 * While an AsyncLocalStorage is enabled, Node runs its hooks for every promise of the process,
 * the access checks' too (which are not tracked: app.ts): ~4 µs of a ~55 µs HTTP check (docs/performance.md). So the
 * storage is disabled whenever no tracked request is open, and `run` enables it again at the
 * next one. A disabled storage only stops carrying the mark to work that outlives its request's
 * response (a handler still running after its client hung up): no answer waits on that sync, and
 * the change feed's poll (ROSTER_CHANGE_POLL_MS) applies such a change within its bound.
 */
export function trackChanges(
  request: object,
  response: { once(event: 'close', listener: () => void): unknown },
  next: () => void,
  pending?: Set<number>,
): void {
  const tracker: Tracker = { recorded: false, pending };
  trackers.set(request, tracker);
  open += 1;
  response.once('close', () => {
    for (const id of tracker.ids ?? []) pending?.delete(id);
    open -= 1;
    if (open === 0) current.disable();
  });
  current.run(tracker, next);
}

/**
 * Called where a change event is inserted: marks the request being handled, if any, with the
 * event's ID (undefined: unknown, and the request's sync reads the log to its end) and, when the
 * insert gives it, the event itself.
 */
export function noteChangeRecorded(id?: number, change?: RecordedChange): void {
  const tracker = current.getStore();
  if (tracker === undefined) return;
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
  if (tracker.pending !== undefined) {
    tracker.pending.add(id);
    (tracker.ids ??= []).push(id);
  }
  if (change === undefined || change.id !== id) tracker.changes = null;
  else if (first) tracker.changes = [change];
  else tracker.changes?.push(change);
}

/** Did handling this request record a change (even one its transaction then rolled back)? */
export function recordedChanges(request: object): boolean {
  return trackers.get(request)?.recorded === true;
}

/** The IDs of the events this request recorded, when every insert said (else undefined). */
export function recordedEvents(request: object): RecordedEvents | undefined {
  const tracker = trackers.get(request);
  if (tracker?.first === undefined || tracker.last === undefined) return undefined;
  const changes = tracker.changes ?? undefined;
  return {
    first: tracker.first,
    last: tracker.last,
    ...(changes === undefined ? {} : { changes }),
  };
}
