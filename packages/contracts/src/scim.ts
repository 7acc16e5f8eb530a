/**
 * SCIM connections (`/api/scim_connections`): one per environment and target population, each
 * with its own bearer token (shown once) and base URL `<ROSTER_PUBLIC_URL>/scim/v2/<id>`. The
 * SCIM endpoints themselves speak RFC 7644 JSON, not these schemas; see docs/scim.md.
 */
import { Type, type Static } from 'typebox';
import { EnvironmentType, Nullable, Timestamp } from './common.js';
import { RoleType } from './members.js';

export const SCIM_TARGETS = ['end_users', 'collaborators'] as const;
export const ScimTarget = Type.Union([Type.Literal('end_users'), Type.Literal('collaborators')]);
export type ScimTarget = Static<typeof ScimTarget>;

export const ScimConnection = Type.Object({
  id: Type.String(),
  name: Type.String(),
  environment_type: Type.String(),
  target: ScimTarget,
  /**
   * collaborators: the role new users get in the connection's environment (its current name), or
   * null for end_users and when the role was deleted (new users are then refused until one is set).
   */
  default_role: Nullable(Type.String()),
  default_role_type: Nullable(RoleType),
  base_url: Type.String(),
  token_prefix: Type.String(),
  created_at: Timestamp,
  rotated_at: Nullable(Timestamp),
  last_sync_at: Nullable(Timestamp),
  users_count: Type.Integer(),
  groups_count: Type.Integer(),
});
export type ScimConnection = Static<typeof ScimConnection>;

/** Creation and rotation answer the token once; it is stored hashed. */
export const ScimConnectionWithToken = Type.Intersect([
  ScimConnection,
  Type.Object({ token: Type.String() }),
]);
export type ScimConnectionWithToken = Static<typeof ScimConnectionWithToken>;

export const CreateScimConnectionBody = Type.Object(
  {
    environment_type: EnvironmentType,
    target: ScimTarget,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /**
     * collaborators only: the role new users get in the connection's environment (default the
     * legacy role "Analyst"), a legacy role (`privilege_group`, the default type) or a custom
     * environment role (`environment`), as in `env_roles`.
     */
    default_role: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    default_role_type: Type.Optional(RoleType),
  },
  { additionalProperties: false },
);
export type CreateScimConnectionBody = Static<typeof CreateScimConnectionBody>;

/** Renames a connection or, for collaborators, changes the default role of users created from now on. */
export const UpdateScimConnectionBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    default_role: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    default_role_type: Type.Optional(RoleType),
  },
  { additionalProperties: false },
);
export type UpdateScimConnectionBody = Static<typeof UpdateScimConnectionBody>;

export const ScimConnectionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
});
