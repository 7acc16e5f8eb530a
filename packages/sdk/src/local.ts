/**
 * Local decisions: `createLocalAuthorizer()` loads the workspace's access snapshot
 * (GET /api/access/snapshot), follows the change stream (GET /api/events/stream) and answers
 * `check()` in the caller's process, with no request per check. The answers and explanations are
 * the server's own: the evaluation is the server's decisions code (snapshot-index.ts in the
 * server, bundled into this package at build time), run over the same index built from the same
 * rows, so the rule exists in one place.
 *
 * Keeping current, in proportion to the change: the IDs of the change events received (except an
 * end user's own decision log entry, which changes no access) are sent to
 * GET /api/access/snapshot/changes, which answers the rows the server's own index reloads for them
 * (its reload table, access-index.ts), and they are applied with the server's reload code
 * (access-delta.ts). Only changes that rebuild the whole workspace on the server too (a roles
 * migration, a workspace change, more than 500 targets at once) load a fresh snapshot. Events that
 * arrive while a request runs are sent with the next one (requests are coalesced). `waitFor(id)`
 * resolves once the answers reflect every change up to audit event `id`.
 */
import {
  createSnapshotDecisions,
  toSnapshotCheckError,
  type SnapshotDecisions,
} from '@roster/server/local-decisions';
import type { paths } from './generated/api.js';
import { createRosterClient, type RosterClientOptions } from './client.js';
import { RosterError } from './errors.js';
import { streamEvents } from './events.js';

type CheckPath = paths['/api/access/check']['post'];
/** One question, as POST /api/access/check takes it. */
export type AccessCheck = CheckPath['requestBody']['content']['application/json'];
/** The answer, as POST /api/access/check gives it in `data`. */
export type AccessDecision = CheckPath['responses'][200]['content']['application/json']['data'];
/** One answer of a batch, as POST /api/access/check_batch gives it. */
export type AccessBatchResult =
  paths['/api/access/check_batch']['post']['responses'][200]['content']['application/json']['data'][number];
/** The snapshot the authorizer answers from. */
export type AccessSnapshot =
  paths['/api/access/snapshot']['get']['responses'][200]['content']['application/json']['data'];

export interface LocalAuthorizerOptions extends RosterClientOptions {
  /** Failures while following the stream or reloading (it keeps answering from what it has). */
  onError?: (error: unknown) => void;
  /** The clock of expiry checks (default Date.now). */
  nowMs?: () => number;
}

export interface LocalAuthorizer {
  /**
   * The server's answer to POST /api/access/check, computed here. A question the server would
   * refuse (unknown member, resource outside the catalogue, …) throws the RosterError it would
   * have answered.
   */
  check(check: AccessCheck): AccessDecision;
  /** As POST /api/access/check_batch: every check answered in order, errors in place. */
  checkBatch(checks: AccessCheck[]): AccessBatchResult[];
  readonly workspaceId: number;
  /** The change-log position (audit event ID) of the snapshot in use. */
  readonly position: number;
  /** Resolves once every change up to this audit event ID is reflected (rejects after timeoutMs). */
  waitFor(eventId: number, timeoutMs?: number): Promise<void>;
  /** Loads a fresh snapshot now. */
  refresh(): Promise<void>;
  /** Stops following the stream. */
  close(): void;
  /**
   * Counters: `reloads`, snapshots loaded (the first one included); `fullReloads`, snapshots
   * loaded because changes rebuild the workspace; `deltas`, changes applied row by row (requests
   * to GET /api/access/snapshot/changes); `events`, events received.
   */
  readonly stats: {
    readonly reloads: number;
    readonly fullReloads: number;
    readonly deltas: number;
    readonly events: number;
  };
}

/** Events that change no access: an end user's decision is logged on the user, nothing else. */
/** Change events per request for their rows (the query's limit). */
const EVENTS_PER_DELTA = 500;

const changesNoAccess = (action: string) => action === 'end_user.decision';

export async function createLocalAuthorizer(
  options: LocalAuthorizerOptions,
): Promise<LocalAuthorizer> {
  const client = createRosterClient(options);
  const load = async (): Promise<SnapshotDecisions> => {
    const { data } = await client.GET('/api/access/snapshot');
    if (data === undefined) throw new RosterError(500, 'server_error', 'No snapshot in the answer');
    stats.reloads += 1;
    return createSnapshotDecisions(
      data.data,
      options.nowMs === undefined ? {} : { nowMs: options.nowMs },
    );
  };
  const stats = { reloads: 0, fullReloads: 0, deltas: 0, events: 0 };
  let decisions = await load();
  /** The change-log position the answers reflect (the snapshot's, then the changes applied). */
  let position = decisions.position;
  /** Every change up to this audit event ID is reflected. */
  let covered = decisions.position;
  /** The highest stream position received. */
  let seen = decisions.position;
  /** Change events received and not applied yet. */
  const pending = new Set<number>();
  /** A snapshot is owed (refresh(), or changes that rebuild the workspace). */
  let owedSnapshot = false;
  let syncing: Promise<void> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  const abort = new AbortController();
  const waiters = new Set<() => void>();
  const settle = () => {
    for (const waiter of waiters) waiter();
  };
  /** Nothing owed or running (a function: the loop below must read the variables as they are now). */
  const idle = () => !owedSnapshot && pending.size === 0 && syncing === null;

  const loadSnapshot = async () => {
    // It covers every event received before it started.
    owedSnapshot = false;
    pending.clear();
    const next = await load();
    if (next.position >= decisions.position) decisions = next;
    position = Math.max(position, next.position);
  };

  /** Applies the rows of some received changes; false when they need a new snapshot. */
  const applyChanges = async (ids: number[]): Promise<boolean> => {
    let data;
    try {
      ({ data } = await client.GET('/api/access/snapshot/changes', {
        params: { query: { events: ids.join(',') } },
      }));
    } catch (error) {
      // A server without the endpoint (an older version): follow by snapshots, as it then did.
      if (error instanceof RosterError && error.status === 404 && error.code === 'not_found')
        return false;
      throw error;
    }
    if (data === undefined) throw new RosterError(500, 'server_error', 'No changes in the answer');
    if (!decisions.apply(data.data)) return false;
    stats.deltas += 1;
    position = Math.max(position, ...ids);
    return true;
  };

  /**
   * Follows what was received until nothing is owed. Each request starts after the events it
   * names arrived (their writes committed), so once nothing is owed every event received so far
   * is reflected.
   */
  const sync = (): Promise<void> => {
    syncing ??= (async () => {
      let ids: number[] = [];
      try {
        while (owedSnapshot || pending.size > 0) {
          if (owedSnapshot) {
            await loadSnapshot();
            continue;
          }
          ids = [...pending].slice(0, EVENTS_PER_DELTA);
          for (const id of ids) pending.delete(id);
          if (!(await applyChanges(ids))) {
            stats.fullReloads += 1;
            await loadSnapshot();
          }
          ids = [];
        }
        covered = Math.max(covered, seen);
        settle();
      } catch (error) {
        // Still owed: try again in a second (and on the next event).
        for (const id of ids) pending.add(id);
        if (retry === null && !abort.signal.aborted) {
          retry = setTimeout(() => {
            retry = null;
            sync().catch((retryError: unknown) => options.onError?.(retryError));
          }, 1_000);
          retry.unref();
        }
        throw error;
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  };

  void (async () => {
    try {
      for await (const { event, ordered } of streamEvents({
        baseUrl: options.baseUrl,
        token: options.token,
        after: decisions.position,
        signal: abort.signal,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        ...(options.onError === undefined ? {} : { onReconnect: options.onError }),
      })) {
        stats.events += 1;
        if (ordered) seen = Math.max(seen, event.id);
        if (changesNoAccess(event.action)) {
          // Nothing to load for it; the position moves on when no load is owed or running.
          if (idle()) {
            covered = Math.max(covered, seen);
            settle();
          }
          continue;
        }
        // Even an event at or below the snapshot's position: it may have committed after the
        // snapshot was read (a transaction that took its ID earlier), so its rows are read again.
        pending.add(event.id);
        sync().catch((error: unknown) => options.onError?.(error));
      }
    } catch (error) {
      if (!abort.signal.aborted) options.onError?.(error);
    }
  })();

  const check = (input: AccessCheck): AccessDecision => {
    try {
      return decisions.check(input);
    } catch (error) {
      const refused = toSnapshotCheckError(error);
      if (refused === undefined) throw error;
      throw new RosterError(refused.status, refused.code, refused.message);
    }
  };

  return {
    check,
    checkBatch: (checks) => decisions.checkBatch({ checks }),
    get workspaceId() {
      return decisions.workspaceId;
    },
    get position() {
      return position;
    },
    stats,
    waitFor(eventId, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          if (covered < eventId) return;
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(done);
          reject(
            new Error(
              `local authorizer: change ${eventId} not reflected within ${timeoutMs} ms (at ${covered})`,
            ),
          );
        }, timeoutMs);
        waiters.add(done);
        done();
      });
    },
    async refresh() {
      owedSnapshot = true;
      await sync();
    },
    close() {
      abort.abort();
      if (retry !== null) clearTimeout(retry);
    },
  };
}
