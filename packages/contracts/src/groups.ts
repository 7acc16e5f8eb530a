import { Type, type Static } from 'typebox';
import { Id, Nullable, PageQuery, Timestamp } from './common.js';
// Who owns a group's membership: admins (`manual`) or an identity provider over SCIM (`external`).
import { ManagedBy } from './end-users.js';

/**
 * `include=provisioning` adds Roster's provisioning fields (`managed_by` on groups, `source` on
 * memberships) to the reference API's shapes, which stay exactly as the reference API prints
 * them otherwise (docs/scim.md).
 */
const Include = Type.Optional(Type.Literal('provisioning'));

export const CollaboratorGroup = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  members_count: Type.Integer(),
  system: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  /** With `include=provisioning` only. */
  managed_by: Type.Optional(ManagedBy),
});
export type CollaboratorGroup = Static<typeof CollaboratorGroup>;

/**
 * A string or null, as one JSON Schema type list rather than a union: a too-long value then fails
 * with one message ("must NOT have more than 300 characters") instead of one per union branch.
 */
const NullableText = (maxLength: number) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength });

/** `name` is not required by the schema so that a missing name gets the reference text "Name can't be blank". */
export const CollaboratorGroupBody = Type.Object({
  user_group: Type.Object({
    name: Type.Optional(Type.String({ maxLength: 200 })),
    description: Type.Optional(NullableText(300)),
  }),
});
export type CollaboratorGroupBody = Static<typeof CollaboratorGroupBody>;

export const ListGroupsQuery = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  include: Include,
  ...PageQuery,
});
export type ListGroupsQuery = Static<typeof ListGroupsQuery>;

export const GetGroupQuery = Type.Object({ include: Include });
export type GetGroupQuery = Static<typeof GetGroupQuery>;

export const GroupMember = Type.Object({
  user_id: Nullable(Type.Integer()),
  member_invitation_id: Nullable(Type.Integer()),
  name: Type.String(),
  email: Type.String(),
  type: Type.Union([Type.Literal('User'), Type.Literal('MemberInvitation')]),
  avatar_url: Nullable(Type.String()),
  joined_at: Timestamp,
  expires_at: Nullable(Timestamp),
  /**
   * With `include=provisioning` only: `external` when an identity provider added the membership
   * (SCIM), `manual` when an admin did (and for the system group's implicit members).
   */
  source: Type.Optional(ManagedBy),
});

export const ListGroupMembersQuery = Type.Object({
  text: Type.Optional(Type.String({ maxLength: 254 })),
  include: Include,
  ...PageQuery,
});
export type ListGroupMembersQuery = Static<typeof ListGroupMembersQuery>;

const MemberIds = Type.Array(Id(), { minItems: 1, maxItems: 1000 });

export const AddGroupMembersBody = Type.Object({
  user_ids: MemberIds,
  /** Optional end of the membership; past that instant it no longer counts. */
  expires_at: Type.Optional(Nullable(Timestamp)),
});
export type AddGroupMembersBody = Static<typeof AddGroupMembersBody>;

/**
 * Removal takes `user_ids[]` / `member_invitation_ids[]` in the query string as the reference API
 * does; plain `user_ids` keys are accepted too.
 */
export const RemoveGroupMembersQuery = Type.Object({
  'user_ids[]': Type.Optional(Type.Array(Id(), { maxItems: 1000 })),
  'member_invitation_ids[]': Type.Optional(Type.Array(Id(), { maxItems: 1000 })),
  user_ids: Type.Optional(Type.Array(Id(), { maxItems: 1000 })),
  member_invitation_ids: Type.Optional(Type.Array(Id(), { maxItems: 1000 })),
});
export type RemoveGroupMembersQuery = Static<typeof RemoveGroupMembersQuery>;
