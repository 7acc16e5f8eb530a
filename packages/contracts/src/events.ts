/**
 * The change stream (`GET /api/events/stream`, Server-Sent Events of the audit log) and the
 * access snapshot (`GET /api/access/snapshot`) that the SDK's local authorizer loads and then keeps
 * current from the stream. Both are read by the SDK through the OpenAPI document these schemas
 * produce (packages/sdk), so their shapes are written here once.
 */
import { Type, type Static } from 'typebox';
import { BoundedInteger, ID_MAX, Nullable } from './common.js';

export const EventStreamQuery = Type.Object({
  /** Resume after this audit event ID (the `Last-Event-ID` header wins when both are given). */
  after: Type.Optional(BoundedInteger(0, ID_MAX)),
  /** Seconds between heartbeat comments (default 15). */
  heartbeat_seconds: Type.Optional(BoundedInteger(1, 300, { default: 15 })),
});
export type EventStreamQuery = Static<typeof EventStreamQuery>;

const Flag = Type.Integer({ description: '1 or 0' });

/** A collaborator-side role, project or membership row as the server's access index reads it. */
const SnapshotCollaborators = Type.Object({
  environments: Type.Array(Type.Object({ id: Type.Integer(), type: Type.String() })),
  legacyRoles: Type.Array(
    Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      /** JSON text of the legacy privilege map. */
      privileges: Type.String(),
      system: Flag,
      project_ids: Nullable(Type.Array(Type.Integer())),
    }),
  ),
  environmentRoles: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), config: Type.String() }),
  ),
  projectRoles: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), config: Type.String() }),
  ),
  members: Type.Array(
    Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      email: Type.String(),
      email_key: Type.String(),
    }),
  ),
  memberRoles: Type.Array(
    Type.Object({
      member_id: Type.Integer(),
      environment_id: Type.Integer(),
      role_type: Type.String(),
      legacy_role_id: Nullable(Type.Integer()),
      environment_role_id: Nullable(Type.Integer()),
    }),
  ),
  groups: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), system: Flag })),
  projects: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), environment_id: Type.Integer() }),
  ),
  suspensions: Type.Array(
    Type.Object({ member_id: Type.Integer(), environment_id: Type.Integer() }),
  ),
  memberships: Type.Array(
    Type.Object({
      group_id: Type.String(),
      member_id: Nullable(Type.Integer()),
      expires_at: Nullable(Type.String()),
    }),
  ),
  grants: Type.Array(
    Type.Object({
      id: Type.String(),
      project_id: Type.Integer(),
      project_role_id: Type.String(),
      member_id: Nullable(Type.Integer()),
      group_id: Nullable(Type.String()),
      created_at: Type.String(),
      expires_at: Nullable(Type.String()),
    }),
  ),
});

const SnapshotEndUsers = Type.Object({
  users: Type.Array(
    Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      email: Type.String(),
      email_key: Type.String(),
      status: Type.String(),
    }),
  ),
  environmentAccess: Type.Array(
    Type.Object({ end_user_id: Type.Integer(), environment_id: Type.Integer() }),
  ),
  groups: Type.Array(
    Type.Object({
      id: Type.Integer(),
      environment_id: Type.Integer(),
      name: Type.String(),
      managed_by: Type.String(),
      system: Flag,
    }),
  ),
  groupMembers: Type.Array(Type.Object({ group_id: Type.Integer(), end_user_id: Type.Integer() })),
  features: Type.Array(
    Type.Object({ id: Type.Integer(), environment_id: Type.Integer(), name: Type.String() }),
  ),
  featureGrants: Type.Array(
    Type.Object({
      id: Type.Integer(),
      feature_id: Type.Integer(),
      end_user_id: Nullable(Type.Integer()),
      group_id: Nullable(Type.Integer()),
    }),
  ),
  policies: Type.Array(
    Type.Object({
      id: Type.Integer(),
      feature_id: Type.Integer(),
      name: Type.String(),
      /** JSON text of the tool list. */
      tools: Type.String(),
      scope_type: Type.String(),
      effect: Type.String(),
    }),
  ),
  policyTargets: Type.Array(
    Type.Object({
      policy_id: Type.Integer(),
      end_user_id: Nullable(Type.Integer()),
      group_id: Nullable(Type.Integer()),
    }),
  ),
});

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
  collaborators: SnapshotCollaborators,
  end_users: SnapshotEndUsers,
});
export type AccessSnapshot = Static<typeof AccessSnapshot>;
export const AccessSnapshotResponse = Type.Object({ data: AccessSnapshot });
