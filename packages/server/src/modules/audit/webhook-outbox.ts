/**
 * The write side of webhooks: every audit event is offered to the workspace's enabled webhooks in
 * the transaction that writes it (insertAuditEvent), so a committed change always has its
 * deliveries queued and a rolled-back one never does. This is the one hook for every write of the
 * server; modules/webhooks sends what is queued here. It lives in the audit module because the
 * webhooks module records audit events itself (a module cycle otherwise).
 */
import type { Executor } from '../../storage/database.js';

/**
 * Whether an event pattern of a webhook matches an action: `*` every action, `prefix.*` every
 * action under that prefix (`scim.*` matches `scim.user.created`), anything else the action itself.
 */
export function eventMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return action.startsWith(pattern.slice(0, -1));
  return pattern === action;
}

/** The Standard Webhooks `webhook-id` of an audit event: the same for every attempt and redelivery. */
export const messageIdOf = (eventId: number) => `msg_${eventId}`;

export async function enqueueWebhookDeliveries(
  db: Executor,
  event: { id: number; workspaceId: number; action: string },
): Promise<void> {
  // One indexed read per audit event: most workspaces have no webhook, and then nothing more runs.
  const hooks = await db
    .selectFrom('webhooks')
    .select(['id', 'events'])
    .where('workspace_id', '=', event.workspaceId)
    .where('enabled', '=', 1)
    .execute();
  if (hooks.length === 0) return;
  const matching = hooks.filter((hook) =>
    (JSON.parse(hook.events) as string[]).some((pattern) => eventMatches(pattern, event.action)),
  );
  if (matching.length === 0) return;
  // Due now: the worker's clock, not the request's (a test clock may stand elsewhere).
  const now = new Date().toISOString();
  await db
    .insertInto('webhook_deliveries')
    .values(
      matching.map((hook) => ({
        workspace_id: event.workspaceId,
        webhook_id: hook.id,
        event_id: event.id,
        event_type: event.action,
        message_id: messageIdOf(event.id),
        status: 'pending' as const,
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .execute();
}
