/**
 * Webhook endpoints of a workspace: create (the `whsec_` secret shown once), list, get, update,
 * delete, rotate the secret, the delivery log and redelivery. Sending is webhook-dispatcher.ts's;
 * queueing, in the audit event's transaction, is audit/webhook-outbox.ts's.
 *
 * A webhook receives every audit event its patterns match, whatever the environment or project:
 * managing webhooks needs full workspace scope (lib/scope.ts requireWorkspaceAdmin).
 */
import { randomBytes } from 'node:crypto';
import type {
  CreateWebhookBody,
  ListWebhookDeliveriesQuery,
  UpdateWebhookBody,
  Webhook,
  WebhookDelivery,
  WebhookWithSecret,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import type { Clock } from '../../lib/clock.js';
import { isoNow } from '../../lib/clock.js';
import type { RequestContext } from '../../lib/context.js';
import { notFound } from '../../lib/errors.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireWorkspaceAdmin } from '../../lib/scope.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { recordChange } from '../audit/audit.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { assertWebhookUrl } from './url-guard.js';
import {
  deleteWebhook,
  findDelivery,
  findWebhook,
  insertDelivery,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  updateWebhook,
  type DeliveryRow,
  type WebhookRow,
} from './webhooks.repository.js';

/** The AES-GCM associated data of a webhook's secret: a ciphertext moved to another row fails. */
export const secretContext = (workspaceId: number) => `webhook:${workspaceId}`;

/** Standard Webhooks secrets: `whsec_` and base64 of 24 to 64 random bytes; 32 here. */
function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as string[],
    enabled: row.enabled === 1,
    consecutive_failures: row.consecutive_failures,
    disabled_reason: row.disabled_reason,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhook_id: row.webhook_id,
    event_id: row.event_id,
    event_type: row.event_type,
    message_id: row.message_id,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at : null,
    last_attempt_at: row.last_attempt_at,
    response_status: row.response_status,
    last_error: row.last_error,
    created_at: row.created_at,
  };
}

export interface WebhooksServiceDeps {
  db: Db;
  clock: Clock;
  secrets: SecretBox;
  /** ROSTER_WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** Wakes the dispatcher (a redelivery is due now). */
  wake?: () => void;
}

export function createWebhooksService(deps: WebhooksServiceDeps) {
  const now = () => isoNow(deps.clock);

  async function requireAdmin(ctx: RequestContext): Promise<void> {
    const environments = await listEnvironments(deps.db, ctx.workspaceId);
    requireWorkspaceAdmin(
      ctx,
      environments.map((env) => env.type),
    );
  }

  async function requireWebhook(db: Executor, ctx: RequestContext, id: number) {
    const row = await findWebhook(db, ctx.workspaceId, id);
    if (row === undefined) throw notFound('webhook.not_found', 'Webhook not found');
    return row;
  }

  return {
    async create(ctx: RequestContext, body: CreateWebhookBody): Promise<WebhookWithSecret> {
      await requireAdmin(ctx);
      await assertWebhookUrl(body.url, deps.allowPrivate);
      const secret = newWebhookSecret();
      return deps.db.transaction().execute(async (trx) => {
        const id = await insertWebhook(trx, {
          workspace_id: ctx.workspaceId,
          url: body.url,
          description: body.description ?? '',
          events: JSON.stringify(body.events),
          secret_encrypted: deps.secrets.seal(secret, secretContext(ctx.workspaceId)),
          enabled: body.enabled === false ? 0 : 1,
          disabled_reason: null,
          created_at: now(),
          updated_at: now(),
        });
        const webhook = toWebhook(await requireWebhook(trx, ctx, id));
        // The secret is never in the audit log.
        await recordChange(trx, ctx, now(), 'webhook.created', ['webhook', id], {
          after: webhook,
          targetName: webhook.url,
        });
        return { ...webhook, secret };
      });
    },

    async list(ctx: RequestContext): Promise<Webhook[]> {
      await requireAdmin(ctx);
      return (await listWebhooks(deps.db, ctx.workspaceId)).map(toWebhook);
    },

    async get(ctx: RequestContext, id: number): Promise<Webhook> {
      await requireAdmin(ctx);
      return toWebhook(await requireWebhook(deps.db, ctx, id));
    },

    async update(ctx: RequestContext, id: number, body: UpdateWebhookBody): Promise<Webhook> {
      await requireAdmin(ctx);
      if (body.url !== undefined) await assertWebhookUrl(body.url, deps.allowPrivate);
      return deps.db.transaction().execute(async (trx) => {
        const before = toWebhook(await requireWebhook(trx, ctx, id));
        await updateWebhook(trx, ctx.workspaceId, id, {
          ...(body.url === undefined ? {} : { url: body.url }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.events === undefined ? {} : { events: JSON.stringify(body.events) }),
          // Enabling again starts a new count of failures.
          ...(body.enabled === undefined
            ? {}
            : body.enabled
              ? { enabled: 1, consecutive_failures: 0, disabled_reason: null }
              : { enabled: 0 }),
          updated_at: now(),
        });
        const after = toWebhook(await requireWebhook(trx, ctx, id));
        await recordChange(trx, ctx, now(), 'webhook.updated', ['webhook', id], {
          before,
          after,
          targetName: after.url,
        });
        return after;
      });
    },

    async remove(ctx: RequestContext, id: number): Promise<void> {
      await requireAdmin(ctx);
      await deps.db.transaction().execute(async (trx) => {
        const before = toWebhook(await requireWebhook(trx, ctx, id));
        // Its queued deliveries go with it (ON DELETE CASCADE).
        await deleteWebhook(trx, ctx.workspaceId, id);
        await recordChange(trx, ctx, now(), 'webhook.deleted', ['webhook', id], {
          before,
          targetName: before.url,
        });
      });
    },

    /** A new secret, shown once; the old one stops signing at once. */
    async rotateSecret(ctx: RequestContext, id: number): Promise<WebhookWithSecret> {
      await requireAdmin(ctx);
      const secret = newWebhookSecret();
      return deps.db.transaction().execute(async (trx) => {
        await requireWebhook(trx, ctx, id);
        await updateWebhook(trx, ctx.workspaceId, id, {
          secret_encrypted: deps.secrets.seal(secret, secretContext(ctx.workspaceId)),
          updated_at: now(),
        });
        const webhook = toWebhook(await requireWebhook(trx, ctx, id));
        await recordChange(trx, ctx, now(), 'webhook.secret_rotated', ['webhook', id], {
          targetName: webhook.url,
        });
        return { ...webhook, secret };
      });
    },

    async listDeliveries(
      ctx: RequestContext,
      id: number,
      query: ListWebhookDeliveriesQuery,
    ): Promise<Paged<WebhookDelivery>> {
      await requireAdmin(ctx);
      await requireWebhook(deps.db, ctx, id);
      const page = pageRequest(query);
      const { rows, total } = await listDeliveries(deps.db, id, query.status, page);
      return paged(rows.map(toDelivery), total, page);
    },

    /**
     * Sends a delivery's event again: a new delivery in the log (the old one keeps its history),
     * due now, with the same `webhook-id` so a receiver that deduplicates recognises it.
     */
    async redeliver(ctx: RequestContext, id: number, deliveryId: number): Promise<WebhookDelivery> {
      await requireAdmin(ctx);
      const delivery = await deps.db.transaction().execute(async (trx) => {
        await requireWebhook(trx, ctx, id);
        const original = await findDelivery(trx, id, deliveryId);
        if (original === undefined)
          throw notFound('webhook.delivery_not_found', 'Webhook delivery not found');
        const due = new Date().toISOString();
        return insertDelivery(trx, {
          workspace_id: ctx.workspaceId,
          webhook_id: id,
          event_id: original.event_id,
          event_type: original.event_type,
          message_id: original.message_id,
          status: 'pending',
          next_attempt_at: due,
          created_at: due,
        });
      });
      deps.wake?.();
      return toDelivery(delivery);
    },
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
