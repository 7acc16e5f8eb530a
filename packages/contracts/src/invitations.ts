import { Type, type Static } from 'typebox';
import { Nullable, PageQuery, Timestamp } from './common.js';
import { EnvRoleAssignment } from './members.js';

export const CreateInvitationBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  email: Type.String({ format: 'email', maxLength: 254 }),
  env_roles: Type.Optional(Type.Array(EnvRoleAssignment, { minItems: 1, maxItems: 50 })),
  /** Deprecated in the reference API; means that role in `dev`. */
  role_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  user_group_ids: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }),
  ),
});
export type CreateInvitationBody = Static<typeof CreateInvitationBody>;

export const InvitationStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('accepted'),
  Type.Literal('revoked'),
  Type.Literal('expired'),
]);

export const Invitation = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
  status: InvitationStatus,
  env_roles: Type.Array(
    Type.Object({ environment_type: Type.String(), name: Type.String(), role_type: Type.String() }),
  ),
  user_group_ids: Type.Array(Type.String()),
  created_at: Timestamp,
  expires_at: Timestamp,
  accepted_at: Nullable(Timestamp),
  member_id: Nullable(Type.Integer()),
});
/** The answer to creating an invitation, as the reference API gives it. */
export const InvitationCreated = Type.Object({ result: Type.Literal('ok'), data: Invitation });
export type Invitation = Static<typeof Invitation>;

export const ListInvitationsQuery = Type.Object({
  status: Type.Optional(InvitationStatus),
  email: Type.Optional(Type.String({ maxLength: 254 })),
  ...PageQuery,
});
export type ListInvitationsQuery = Static<typeof ListInvitationsQuery>;

export const InvitationTokenParams = Type.Object({
  token: Type.String({ minLength: 10, maxLength: 200 }),
});
export const AcceptInvitationBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
});
export type AcceptInvitationBody = Static<typeof AcceptInvitationBody>;

/** What the invitation link shows before it is accepted. */
export const InvitationPreview = Type.Object({
  name: Type.String(),
  email: Type.String(),
  workspace: Type.Object({ id: Type.Integer(), name: Type.String() }),
  expires_at: Timestamp,
});
