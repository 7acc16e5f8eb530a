/**
 * Local decisions: `createLocalAuthorizer()` loads the workspace's access snapshot
 * (GET /api/access/snapshot), follows the change stream (GET /api/events/stream) and answers
 * `check()` in the caller's process, with no request per check. The answers and explanations are
 * the server's own: the evaluation is the server's decisions code (snapshot-index.ts in the
 * server, bundled into this package at build time), run over the same index built from the same
 * rows, so the rule exists in one place.
 *
 * Keeping current: every change event after the snapshot's position (except an end user's own
 * decision log entry, which changes no access) makes the authorizer load a fresh snapshot; events
 * that arrive while it loads are covered by that load or by the next one (loads are coalesced).
 * `waitFor(id)` resolves once the answers reflect every change up to audit event `id`.
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
  /** Counters: snapshots loaded and events received. */
  readonly stats: { readonly reloads: number; readonly events: number };
}

/** Events that change no access: an end user's decision is logged on the user, nothing else. */
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
  const stats = { reloads: 0, events: 0 };
  let decisions = await load();
  /** Every change up to this audit event ID is reflected. */
  let covered = decisions.position;
  /** The highest stream position received. */
  let seen = decisions.position;
  /** An event that changes access arrived after the last load started: another load is owed. */
  let owed = false;
  let reloading: Promise<void> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  const abort = new AbortController();
  const waiters = new Set<() => void>();
  const settle = () => {
    for (const waiter of waiters) waiter();
  };
  /** No load owed or running (a function: the loop below must read the variables as they are now). */
  const idle = () => !owed && reloading === null;

  /**
   * Loads snapshots until none is owed. Each load starts after the events that asked for it
   * arrived, so once none is owed every event received so far is reflected.
   */
  const reload = (): Promise<void> => {
    reloading ??= (async () => {
      try {
        while (owed) {
          owed = false;
          const next = await load();
          if (next.position >= decisions.position) decisions = next;
          covered = Math.max(covered, next.position);
        }
        covered = Math.max(covered, seen);
        settle();
      } catch (error) {
        // Still owed: try again in a second (and on the next event).
        owed = true;
        if (retry === null && !abort.signal.aborted) {
          retry = setTimeout(() => {
            retry = null;
            reload().catch((retryError: unknown) => options.onError?.(retryError));
          }, 1_000);
          retry.unref();
        }
        throw error;
      } finally {
        reloading = null;
      }
    })();
    return reloading;
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
        // snapshot was read (a transaction that took its ID earlier), so it is loaded again.
        owed = true;
        reload().catch((error: unknown) => options.onError?.(error));
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
      return decisions.position;
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
      owed = true;
      await reload();
    },
    close() {
      abort.abort();
      if (retry !== null) clearTimeout(retry);
    },
  };
}
