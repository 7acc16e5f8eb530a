import { Type, type Static } from 'typebox';
import { EnvironmentRef, Id, Nullable, PageQuery, Timestamp } from './common.js';

export const ApiClient = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  environment_types: Type.Array(Type.String()),
  project_ids: Nullable(Type.Array(Type.Integer())),
  token_prefix: Type.String(),
  created_at: Timestamp,
  rotated_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
});
export type ApiClient = Static<typeof ApiClient>;
export const ApiClientWithToken = Type.Object({ ...ApiClient.properties, token: Type.String() });

export const CreateApiClientBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  /** Environments the client may manage; omitted = every environment of the caller's scope. */
  environment_types: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20 }),
  ),
  /**
   * Projects the client may manage; null = every project in its environments; omitted = the
   * caller's projects. IDs are 32-bit in the database, so a larger one is a 400, not a driver error.
   */
  project_ids: Type.Optional(Nullable(Type.Array(Id(), { maxItems: 1000 }))),
});
export type CreateApiClientBody = Static<typeof CreateApiClientBody>;

export const ListApiClientsQuery = Type.Object({
  include_revoked: Type.Optional(Type.Boolean()),
  ...PageQuery,
});

export const AuditEvent = Type.Object({
  id: Type.Integer(),
  action: Type.String(),
  actor: Type.Object({
    type: Type.String(),
    id: Nullable(Type.String()),
    name: Nullable(Type.String()),
  }),
  target: Type.Object({
    type: Type.String(),
    id: Nullable(Type.String()),
    /** What the target was called when the event was written (null on events from before 0.9). */
    name: Nullable(Type.String()),
  }),
  before: Type.Unknown(),
  after: Type.Unknown(),
  created_at: Timestamp,
});
export type AuditEvent = Static<typeof AuditEvent>;

export const ListAuditEventsQuery = Type.Object({
  action: Type.Optional(Type.String({ maxLength: 100 })),
  actor_type: Type.Optional(Type.String({ maxLength: 50 })),
  actor_id: Type.Optional(Type.String({ maxLength: 64 })),
  target_type: Type.Optional(Type.String({ maxLength: 50 })),
  target_id: Type.Optional(Type.String({ maxLength: 64 })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  /** `csv` / `ndjson`: every matching event as a streamed download (no paging, no cap). */
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('ndjson')]),
  ),
  ...PageQuery,
});
export type ListAuditEventsQuery = Static<typeof ListAuditEventsQuery>;

/**
 * Counts of audit events per action and per UTC day (or hour), counted by the database whatever
 * the volume: the dashboard's activity chart. Buckets with no event are left out.
 */
export const AuditActivityQuery = Type.Object({
  /** The actions to count (repeat the parameter: `action=a&action=b`). */
  action: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 10 }),
  since: Type.String({ format: 'date-time' }),
  /** Default: now. At most 1,000 buckets between `since` and `until`. */
  until: Type.Optional(Type.String({ format: 'date-time' })),
  bucket: Type.Optional(
    Type.Union([Type.Literal('day'), Type.Literal('hour')], { default: 'day' }),
  ),
});
export type AuditActivityQuery = Static<typeof AuditActivityQuery>;

export const AuditActivityBucket = Type.Object({
  /** The bucket's first instant (UTC midnight, or the hour). */
  start: Timestamp,
  action: Type.String(),
  count: Type.Integer(),
});
export type AuditActivityBucket = Static<typeof AuditActivityBucket>;

export const CreateWorkspaceBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  /** false = a single-environment workspace (only `dev`), as the reference API's. */
  environments: Type.Optional(Type.Boolean({ default: true })),
});
export type CreateWorkspaceBody = Static<typeof CreateWorkspaceBody>;

export const Workspace = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  environments: Type.Array(EnvironmentRef),
  created_at: Timestamp,
});
export const CreatedWorkspace = Type.Object({
  ...Workspace.properties,
  admin_token: Type.String(),
});
