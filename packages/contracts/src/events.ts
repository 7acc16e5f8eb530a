/**
 * The change stream (`GET /api/events/stream`, Server-Sent Events of the audit log) and the
 * access snapshot (`GET /api/access/snapshot`) that the SDK's local authorizer loads and then keeps
 * current from the stream. Both are read by the SDK through the OpenAPI document these schemas
 * produce (packages/sdk), so their shapes are written here once.
 */
import { Type, type Static } from 'typebox';
import { BoundedInteger, ID_MAX } from './common.js';

export const EventStreamQuery = Type.Object({
  /** Resume after this audit event ID (the `Last-Event-ID` header wins when both are given). */
  after: Type.Optional(BoundedInteger(0, ID_MAX)),
  /** Seconds between heartbeat comments (default 15). */
  heartbeat_seconds: Type.Optional(BoundedInteger(1, 300, { default: 15 })),
});
export type EventStreamQuery = Static<typeof EventStreamQuery>;

/** The stream's answer as the OpenAPI document shows it: `text/event-stream`, never JSON. */
export const EventStreamResponse = Type.Unsafe<string>({
  description: 'Server-Sent Events, one per audit event, until the client disconnects',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
});

/**
 * One table of the snapshot, compact: the column names once, then each row as an array of cells in
 * that order (the columns of each table are listed in docs/integration.md).
 */
export const SnapshotTable = Type.Object({
  columns: Type.Array(Type.String()),
  rows: Type.Array(
    Type.Array(Type.Union([Type.String(), Type.Number(), Type.Null(), Type.Array(Type.Number())])),
  ),
});
export type SnapshotTable = Static<typeof SnapshotTable>;

/** The tables of a snapshot: the rows the server's access index is built from. */
export const SNAPSHOT_TABLES = [
  'environments',
  'legacy_roles',
  'environment_roles',
  'project_roles',
  'members',
  'member_roles',
  'groups',
  'projects',
  'suspensions',
  'memberships',
  'grants',
  'end_users',
  'end_user_environments',
  'end_user_groups',
  'end_user_group_members',
  'features',
  'feature_grants',
  'policies',
  'policy_targets',
] as const;
export type SnapshotTableName = (typeof SNAPSHOT_TABLES)[number];

/**
 * The access data of one workspace, as the rows the server's access index is built from, and the
 * change-log position (the last audit event ID) it reflects: replaying the change stream after
 * `position` keeps it current.
 */
export const AccessSnapshot = Type.Object({
  format: Type.Literal(1),
  workspace_id: Type.Integer(),
  position: Type.Integer(),
  generated_at: Type.String({ format: 'date-time' }),
  tables: Type.Object(
    Object.fromEntries(SNAPSHOT_TABLES.map((name) => [name, SnapshotTable])) as Record<
      SnapshotTableName,
      typeof SnapshotTable
    >,
  ),
});
export type AccessSnapshot = Static<typeof AccessSnapshot>;
export const AccessSnapshotResponse = Type.Object({ data: AccessSnapshot });

/** The change events (audit event IDs from the stream) whose rows a local authorizer asks for. */
export const AccessSnapshotChangesQuery = Type.Object({
  events: Type.String({
    pattern: '^[0-9]{1,10}(,[0-9]{1,10}){0,499}$',
    description: 'Up to 500 audit event IDs (1 … 2147483647), comma-separated',
  }),
});
/**
 * The rows those changes touched, in the server's reload format (the SDK applies them with the
 * server's own code), or `rebuild: true` when they reload the whole workspace (load the snapshot).
 */
export const AccessSnapshotChanges = Type.Object({
  format: Type.Literal(1),
  workspace_id: Type.Integer(),
  rebuild: Type.Boolean(),
  collaborators: Type.Union([Type.Null(), Type.Unknown()]),
  end_users: Type.Union([Type.Null(), Type.Unknown()]),
});
export type AccessSnapshotChanges = Static<typeof AccessSnapshotChanges>;
export const AccessSnapshotChangesResponse = Type.Object({ data: AccessSnapshotChanges });
