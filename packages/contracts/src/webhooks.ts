/**
 * Webhooks (`/api/webhooks`): endpoints that receive the workspace's audit events as they are
 * written, signed as the Standard Webhooks specification says. The signing secret (`whsec_…`) is
 * returned once, by create and by rotate; it is stored encrypted and never shown again.
 */
import { Type, type Static } from 'typebox';
import { Nullable, PageQuery, Timestamp } from './common.js';

/** An absolute http(s) URL; the server also refuses loopback, link-local and private hosts. */
const WebhookUrl = Type.String({
  minLength: 8,
  maxLength: 2000,
  format: 'uri',
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
});

/** An audit action (`end_user.locked`), every action under a prefix (`scim.*`), or every action (`*`). */
export const WebhookEventPattern = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^(\\*|[a-z0-9_]+(\\.[a-z0-9_]+)*(\\.\\*)?)$',
});

const WebhookEvents = Type.Array(WebhookEventPattern, {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
});

export const CreateWebhookBody = Type.Object(
  {
    url: WebhookUrl,
    events: WebhookEvents,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(WebhookUrl),
    events: Type.Optional(WebhookEvents),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    /** true also clears the failure count of an endpoint that was disabled after failures. */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const Webhook = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  /** Failed attempts in a row; the endpoint is disabled when it reaches the server's limit. */
  consecutive_failures: Type.Integer(),
  /** Why the server disabled it (null when enabled, or disabled by an administrator). */
  disabled_reason: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Webhook = Static<typeof Webhook>;

/** Create and rotate only: the signing secret, shown this once. */
export const WebhookWithSecret = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ description: 'whsec_…: shown once, stored encrypted' }),
});
export type WebhookWithSecret = Static<typeof WebhookWithSecret>;

export const WebhookDeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
]);

export const WebhookDelivery = Type.Object({
  id: Type.Integer(),
  webhook_id: Type.Integer(),
  /** The audit event sent (GET /api/audit_events shows it). */
  event_id: Type.Integer(),
  event_type: Type.String(),
  /** The `webhook-id` header: the same for every attempt and redelivery of the event. */
  message_id: Type.String(),
  status: WebhookDeliveryStatus,
  attempts: Type.Integer(),
  /** When the next attempt is due (pending deliveries only). */
  next_attempt_at: Nullable(Timestamp),
  last_attempt_at: Nullable(Timestamp),
  /** The receiver's HTTP status at the last attempt (null: no answer). */
  response_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const ListWebhookDeliveriesQuery = Type.Object({
  status: Type.Optional(WebhookDeliveryStatus),
  ...PageQuery,
});
export type ListWebhookDeliveriesQuery = Static<typeof ListWebhookDeliveriesQuery>;

export const WebhookDeliveryParams = Type.Object({
  id: Type.String({ pattern: '^[0-9]{1,15}$' }),
  delivery_id: Type.String({ pattern: '^[0-9]{1,15}$' }),
});
