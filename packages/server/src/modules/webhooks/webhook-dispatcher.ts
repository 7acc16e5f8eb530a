/**
 * Sends queued webhook deliveries (audit/webhook-outbox.ts queues them with the audit event), as
 * the Standard Webhooks specification says: a JSON body `{type, timestamp, data}` where `data` is
 * the audit event as GET /api/audit_events shows it, and the headers `webhook-id` (the same for
 * every attempt of an event), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>`
 * made by the standardwebhooks library with the endpoint's `whsec_` secret.
 *
 * The queue is in the database, so a delivery survives a restart. Every instance runs a
 * dispatcher; a due row is claimed with a lease (`lease_until`, `lease_token`) in one UPDATE,
 * whose selection uses FOR UPDATE SKIP LOCKED on PostgreSQL: two instances never claim the same
 * row, and a row claimed by an instance that died is claimed again when its lease ends
 * (at-least-once delivery: receivers deduplicate on `webhook-id`).
 *
 * A failed attempt (no 2xx within the timeout, or the guard refused the address) is retried on
 * the schedule of ROSTER_WEBHOOK_RETRY_SCHEDULE; a delivery that failed its last attempt is
 * `failed`, and an endpoint whose deliveries failed ROSTER_WEBHOOK_DISABLE_AFTER times in a row
 * is disabled, with a `webhook.disabled` audit event (docs/integration.md#webhooks). Sending runs
 * apart from requests: a receiver that hangs or fails never slows a write.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { sql } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import type { Db, Dialect, Executor, Row } from '../../storage/database.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { WebhookObserver } from '../../lib/metrics.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import { toAuditEvent } from '../audit/audit.service.js';
import { assertLiteralHostAllowed, guardedLookup } from './url-guard.js';
import { secretContext, toWebhook } from './webhooks.service.js';

export interface WebhookDispatcherOptions {
  db: Db;
  dialect: Dialect;
  secrets: SecretBox;
  /** ROSTER_WEBHOOK_ALLOW_PRIVATE */
  allowPrivate: boolean;
  /** ROSTER_WEBHOOK_TIMEOUT_MS: the longest one attempt may take, connection included. */
  timeoutMs: number;
  /** ROSTER_WEBHOOK_RETRY_SCHEDULE: seconds before each retry; its length is the number of retries. */
  retrySchedule: readonly number[];
  /** ROSTER_WEBHOOK_DISABLE_AFTER: failed deliveries in a row that disable the endpoint. */
  disableAfter: number;
  /** How often the queue is read for work another instance queued or a retry that came due. */
  pollMs: number;
  /** Attempts in flight at once per instance (default 32). */
  concurrency?: number;
  observer?: WebhookObserver;
  log?: {
    warn(details: object, message: string): void;
    error(details: object, message: string): void;
  };
}

interface Claimed {
  id: number;
  webhook_id: number;
  event_id: number;
  message_id: string;
  attempts: number;
  lease_token: string;
}

type AttemptResult =
  { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** Sending slots one endpoint may hold at once on an instance (of `concurrency`, 32). */
const PER_ENDPOINT = 16;

/** How long a wake waits for others to join it (see wake). */
const COALESCE_MS = 20;

/** Longest error text kept on a delivery. */
const ERROR_MAX = 500;

export class WebhookDispatcher {
  private poller: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wakePending: NodeJS.Timeout | null = null;
  private log: WebhookDispatcherOptions['log'];
  private wakeAt = Infinity;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly stopping = new AbortController();
  /** Attempts in flight: in all, by endpoint, and their promises (stop waits for them). */
  private inFlightTotal = 0;
  private readonly inFlight = new Map<number, number>();
  private readonly tasks = new Set<Promise<void>>();
  /** Whether the last claim was full, so that more may be due. */
  private backlog = false;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
  };
  /** Attempts made by this instance, for tests and the bench. */
  readonly stats = { attempts: 0, succeeded: 0, failed: 0 };

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.log = options.log;
  }

  start(): void {
    this.stopped = false;
    if (this.options.pollMs > 0) {
      this.poller = setInterval(() => {
        this.wake();
      }, this.options.pollMs);
      this.poller.unref();
    }
    this.wake();
  }

  /** Reports failed attempts and disabled endpoints to the server's logger. */
  useLog(log: NonNullable<WebhookDispatcherOptions['log']>): void {
    this.log = log;
  }

  /**
   * Looks for due deliveries soon (after a write, a redelivery, a retry's due time). Wakes within
   * COALESCE_MS make one: under a burst of writes, one claim takes many deliveries rather than
   * each write paying for a claim of its own.
   */
  wake(): void {
    if (this.stopped || this.wakePending !== null) return;
    this.wakePending = setTimeout(() => {
      this.wakePending = null;
      this.run();
    }, COALESCE_MS);
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => {
        // A database outage: the next poll tries again.
        this.log?.warn({ err: error }, 'webhook dispatcher: reading the queue failed');
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller !== null) clearInterval(this.poller);
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    if (this.wakePending !== null) clearTimeout(this.wakePending);
    this.wakePending = null;
    this.poller = null;
    this.wakeTimer = null;
    // Attempts in flight are abandoned (their lease released), not counted as failures.
    this.stopping.abort();
    await this.running;
    await Promise.all([...this.tasks]);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /**
   * Fills the free sending slots with due deliveries. Each attempt runs on its own and frees its
   * slot when done, so a receiver that hangs holds its own slots for the timeout and no others;
   * one endpoint takes at most PER_ENDPOINT slots, so the others keep being served.
   */
  private async drain(): Promise<void> {
    const { db } = this.options;
    const slots = this.options.concurrency ?? 32;
    while (!this.stopped) {
      const free = slots - this.inFlightTotal;
      if (free <= 0) return;
      const saturated = [...this.inFlight].filter(([, n]) => n >= PER_ENDPOINT).map(([id]) => id);
      // No more than one endpoint's share at a time, so little goes back when one endpoint has
      // all the work.
      const limit = Math.min(free, PER_ENDPOINT);
      const claimed = await this.claim(limit, saturated);
      // A full claim, or one that skipped busy endpoints, may have left due rows behind: a
      // freed slot then claims again.
      this.backlog = claimed.length === limit || saturated.length > 0;
      // An endpoint's share past PER_ENDPOINT goes back at once, for a later claim.
      const taken = new Map<number, number>();
      const excess: Claimed[] = [];
      const mine = claimed.filter((row) => {
        const count = (this.inFlight.get(row.webhook_id) ?? 0) + (taken.get(row.webhook_id) ?? 0);
        if (count >= PER_ENDPOINT) {
          excess.push(row);
          return false;
        }
        taken.set(row.webhook_id, (taken.get(row.webhook_id) ?? 0) + 1);
        return true;
      });
      if (excess.length > 0) {
        this.backlog = true;
        await this.release(excess);
      }
      if (mine.length === 0) return;
      // One read of the claimed endpoints and events, rather than two per delivery.
      const [hooks, events] = await Promise.all([
        db
          .selectFrom('webhooks')
          .selectAll()
          .where('id', 'in', [...new Set(mine.map((row) => row.webhook_id))])
          .execute(),
        db
          .selectFrom('audit_events')
          .selectAll()
          .where('id', 'in', [...new Set(mine.map((row) => row.event_id))])
          .execute(),
      ]);
      const hookById = new Map(hooks.map((hook) => [hook.id, hook]));
      const eventById = new Map(events.map((event) => [event.id, event]));
      for (const row of mine) {
        this.inFlightTotal += 1;
        this.inFlight.set(row.webhook_id, (this.inFlight.get(row.webhook_id) ?? 0) + 1);
        const task: Promise<void> = this.attemptAndRecord(
          row,
          hookById.get(row.webhook_id),
          eventById.get(row.event_id),
        )
          .catch((error: unknown) => {
            // Recording failed (the database is away): the lease runs out and it is tried again.
            this.log?.warn(
              { err: error, deliveryId: row.id },
              'webhook dispatcher: recording an attempt failed',
            );
          })
          .finally(() => {
            this.inFlightTotal -= 1;
            const left = (this.inFlight.get(row.webhook_id) ?? 1) - 1;
            if (left === 0) this.inFlight.delete(row.webhook_id);
            else this.inFlight.set(row.webhook_id, left);
            this.tasks.delete(task);
            // Through wake: the slots freed within COALESCE_MS are filled by one claim.
            if (this.backlog) this.wake();
          });
        this.tasks.add(task);
      }
    }
  }

  private async attemptAndRecord(
    row: Claimed,
    hook: Row<'webhooks'> | undefined,
    event: Row<'audit_events'> | undefined,
  ): Promise<void> {
    const result = await this.attempt(row, hook, event);
    if (result === 'release') return this.release([row]);
    if (result.ok)
      return this.succeeded(
        [{ row, result }],
        hook !== undefined && hook.consecutive_failures > 0 ? [hook.id] : [],
      );
    return this.failed(row, row.lease_token, result);
  }

  /** Takes up to `limit` due deliveries of enabled endpoints for this instance, under a lease. */
  private async claim(limit: number, skipWebhooks: readonly number[]): Promise<Claimed[]> {
    const now = new Date();
    const nowText = now.toISOString();
    const leaseUntil = new Date(now.getTime() + this.options.timeoutMs + 60_000).toISOString();
    const token = randomUUID();
    const lock = this.options.dialect === 'postgres' ? sql`for update of d skip locked` : sql``;
    const result = await sql<Claimed>`
      update webhook_deliveries set lease_until = ${leaseUntil}, lease_token = ${token}
      where id in (
        select d.id from webhook_deliveries d join webhooks w on w.id = d.webhook_id
        where d.status = 'pending' and d.next_attempt_at <= ${nowText} and w.enabled = 1
          and (d.lease_until is null or d.lease_until < ${nowText})
          ${skipWebhooks.length === 0 ? sql`` : sql`and d.webhook_id not in (${sql.join([...skipWebhooks])})`}
        order by d.next_attempt_at, d.id
        limit ${limit}
        ${lock}
      )
      and status = 'pending' and (lease_until is null or lease_until < ${nowText})
      returning id, webhook_id, event_id, message_id, attempts, lease_token`.execute(
      this.options.db,
    );
    return result.rows;
  }

  /** One attempt: the result to record, or `release` (endpoint gone or disabled, or stopping). */
  private async attempt(
    row: Claimed,
    hook: Row<'webhooks'> | undefined,
    event: Row<'audit_events'> | undefined,
  ): Promise<AttemptResult | 'release'> {
    if (hook === undefined || hook.enabled !== 1) return 'release';
    let result: AttemptResult;
    const started = performance.now();
    if (event === undefined) {
      result = { ok: false, status: null, error: 'The audit event no longer exists' };
    } else {
      const payload = JSON.stringify({
        type: event.action,
        timestamp: event.created_at,
        data: toAuditEvent(event),
      });
      try {
        const secret = this.options.secrets.open(
          hook.secret_encrypted,
          secretContext(hook.workspace_id),
        );
        const signer = new StandardWebhook(secret);
        const sentAt = new Date();
        const status = await this.post(hook.url, payload, {
          'content-type': 'application/json',
          'user-agent': 'Roster-Webhooks/1',
          'webhook-id': row.message_id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(row.message_id, sentAt, payload),
        });
        result =
          status >= 200 && status < 300
            ? { ok: true, status }
            : { ok: false, status, error: `The receiver answered HTTP ${status}` };
      } catch (error) {
        if (this.stopped) return 'release';
        result = { ok: false, status: null, error: describe(error, this.options.timeoutMs) };
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.stats.attempts += 1;
    this.options.observer?.attempt(result.ok ? 'succeeded' : 'failed', seconds);
    if (result.ok) this.stats.succeeded += 1;
    else {
      this.stats.failed += 1;
      this.log?.warn(
        {
          webhookId: row.webhook_id,
          deliveryId: row.id,
          attempt: row.attempts + 1,
          err: result.error,
        },
        'webhook delivery attempt failed',
      );
    }
    return result;
  }

  private async release(rows: readonly Claimed[]): Promise<void> {
    await this.options.db
      .updateTable('webhook_deliveries')
      .set({ lease_until: null, lease_token: null })
      .where((eb) =>
        eb.or(
          rows.map((row) =>
            eb.and([eb('id', '=', row.id), eb('lease_token', '=', row.lease_token)]),
          ),
        ),
      )
      .execute();
  }

  /** Records a batch's successes: one UPDATE per answer status, one for the endpoints' counts. */
  private async succeeded(
    outcomes: readonly { row: Claimed; result: Extract<AttemptResult, { ok: true }> }[],
    failingHooks: readonly number[],
  ): Promise<void> {
    const now = new Date().toISOString();
    const byStatus = new Map<number, Claimed[]>();
    for (const { row, result } of outcomes)
      byStatus.set(result.status, [...(byStatus.get(result.status) ?? []), row]);
    const record = async (trx: Executor) => {
      for (const [status, rows] of byStatus) {
        // Only rows this instance still holds (its lease token): a lease that ran out is another's.
        await trx
          .updateTable('webhook_deliveries')
          .set((eb) => ({
            status: 'succeeded',
            attempts: eb('attempts', '+', 1),
            last_attempt_at: now,
            response_status: status,
            last_error: null,
            next_attempt_at: null,
            lease_until: null,
            lease_token: null,
          }))
          .where((eb) =>
            eb.or(
              rows.map((row) =>
                eb.and([eb('id', '=', row.id), eb('lease_token', '=', row.lease_token)]),
              ),
            ),
          )
          .execute();
      }
      if (failingHooks.length === 0) return;
      await trx
        .updateTable('webhooks')
        .set({ consecutive_failures: 0 })
        .where('id', 'in', failingHooks)
        .where('consecutive_failures', '<>', 0)
        .execute();
    };
    // One statement needs no transaction of its own (the common case: every endpoint healthy).
    if (byStatus.size === 1 && failingHooks.length === 0) await record(this.options.db);
    else await this.options.db.transaction().execute(record);
  }

  private async failed(
    row: Claimed,
    token: string,
    result: Extract<AttemptResult, { ok: false }>,
  ): Promise<void> {
    const now = new Date();
    const attempt = row.attempts + 1;
    const retryIn = this.options.retrySchedule[attempt - 1];
    const common = {
      last_attempt_at: now.toISOString(),
      response_status: result.status,
      last_error: result.error.slice(0, ERROR_MAX),
      lease_until: null,
      lease_token: null,
    };
    if (retryIn !== undefined) {
      const due = now.getTime() + retryIn * 1000;
      await this.options.db
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          ...common,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: new Date(due).toISOString(),
        }))
        .where('id', '=', row.id)
        .where('lease_token', '=', token)
        .execute();
      this.wakeBy(due);
      return;
    }
    // The last attempt failed: the delivery is given up, and the endpoint may be disabled.
    const disabled = await this.options.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          ...common,
          status: 'failed',
          attempts: eb('attempts', '+', 1),
          next_attempt_at: null,
        }))
        .where('id', '=', row.id)
        .where('lease_token', '=', token)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      const hook = await trx
        .updateTable('webhooks')
        .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1) }))
        .where('id', '=', row.webhook_id)
        .returningAll()
        .executeTakeFirst();
      if (
        hook === undefined ||
        hook.enabled !== 1 ||
        hook.consecutive_failures < this.options.disableAfter
      )
        return false;
      const reason =
        `Disabled after ${hook.consecutive_failures} deliveries in a row failed every attempt (last: ${result.error})`.slice(
          0,
          ERROR_MAX,
        );
      await trx
        .updateTable('webhooks')
        .set({ enabled: 0, disabled_reason: reason, updated_at: now.toISOString() })
        .where('id', '=', hook.id)
        .execute();
      await insertAuditEvent(trx, {
        workspaceId: hook.workspace_id,
        actor: { type: 'system', id: null, name: 'webhook dispatcher' },
        // Background work: no request waits on this event (lib/change-tracking.ts).
        changes: null,
        action: 'webhook.disabled',
        targetType: 'webhook',
        targetId: hook.id,
        targetName: hook.url,
        before: toWebhook(hook),
        after: toWebhook({ ...hook, enabled: 0, disabled_reason: reason }),
        createdAt: now.toISOString(),
      });
      return true;
    });
    if (disabled) {
      this.options.observer?.disabled();
      this.log?.error(
        { webhookId: row.webhook_id },
        'webhook endpoint disabled after repeated failed deliveries',
      );
    }
  }

  /** Wakes at `dueMs` at the latest (a retry this instance scheduled). */
  private wakeBy(dueMs: number): void {
    if (this.stopped || dueMs >= this.wakeAt) return;
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.wakeAt = dueMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = null;
        this.wakeAt = Infinity;
        this.wake();
      },
      Math.max(0, dueMs - Date.now()) + 5,
    );
    this.wakeTimer.unref();
  }

  /** One POST; resolves with the status, rejects on a network error, the guard or the timeout. */
  private post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const target = new URL(url);
    assertLiteralHostAllowed(target, this.options.allowPrivate);
    const secure = target.protocol === 'https:';
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.options.timeoutMs),
      this.stopping.signal,
    ]);
    return new Promise<number>((resolve, reject) => {
      const request = (secure ? https : http).request(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          agent: secure ? this.agents.https : this.agents.http,
          lookup: guardedLookup(this.options.allowPrivate),
          signal,
        },
        (response) => {
          // The answer's body is not read into memory; the timeout also bounds a slow one.
          response.resume();
          response.on('end', () => {
            resolve(response.statusCode ?? 0);
          });
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'AbortError' || error.name === 'TimeoutError')
      return `No answer within ${timeoutMs} ms`;
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${error.message} (${code})`;
  }
  return String(error);
}
