/**
 * The decision API: check one or many privileges, explain them, and list access by member or by
 * project. Answers come from the server's in-memory access index (docs/decisions.md).
 */
import { Type, type Static } from 'typebox';
import {
  EnvironmentRef,
  EnvironmentType,
  Id,
  LegacyPrivileges,
  Nullable,
  PageQuery,
  PagedList,
  Timestamp,
} from './common.js';

/** At most this many checks in one `check_batch` request (more is a 400 with this number in the text). */
export const ACCESS_CHECKS_PER_BATCH = 1_000;

/**
 * Who is asking: a collaborator by `member_id` or `email`, or an end user by `end_user_id` (or by
 * `email` when the check names a `feature_id`). Give one; when both an ID and an email are given
 * they must name the same person.
 */
export const AccessSubject = Type.Object({
  member_id: Type.Optional(Id()),
  end_user_id: Type.Optional(Id()),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
});
export type AccessSubject = Static<typeof AccessSubject>;

/**
 * One question. With `project_id`: does a project grant (direct or through a group) give
 * `resource`/`privilege` on that project. Without it: does the subject's role in
 * `environment_type` give it (environment role config or legacy privileges). With `feature_id`
 * (an end user, `environment_type` required): may the end user use the feature, and `tool` of it
 * (lock, status, environment access, policies, feature grants; no approval request is used or
 * opened: that is POST /api/end_users/decisions).
 */
export const AccessCheck = Type.Object({
  subject: AccessSubject,
  environment_type: Type.Optional(EnvironmentType),
  project_id: Type.Optional(Id()),
  resource: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  privilege: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  feature_id: Type.Optional(Id()),
  tool: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  explain: Type.Optional(Type.Boolean()),
});
export type AccessCheck = Static<typeof AccessCheck>;

export const AccessStepKind = Type.Union([
  Type.Literal('member'),
  Type.Literal('group'),
  Type.Literal('project_grant'),
  Type.Literal('project_role'),
  Type.Literal('project'),
  Type.Literal('environment'),
  Type.Literal('environment_role'),
  Type.Literal('legacy_role'),
  Type.Literal('privilege'),
  Type.Literal('end_user'),
  Type.Literal('end_user_group'),
  Type.Literal('feature'),
  Type.Literal('feature_grant'),
  Type.Literal('policy'),
  Type.Literal('tool'),
]);

/** One link of a path: member → group → project grant → project role → privilege. */
export const AccessStep = Type.Object({
  kind: AccessStepKind,
  id: Nullable(Type.Union([Type.Integer(), Type.String()])),
  name: Type.String(),
  expires_at: Type.Optional(Nullable(Timestamp)),
  expired: Type.Optional(Type.Boolean()),
});
export type AccessStep = Static<typeof AccessStep>;

/**
 * `grants`: this path gives the privilege now. The others are near misses, reported when the
 * answer is no: `expired` (a grant or membership that would give it has expired),
 * `lacks_privilege` (the subject reaches the project, but through a role without that privilege),
 * `no_access` (nothing reaches the project or environment at all). For end users: `denies` (a lock,
 * the user's status, missing environment access or a deny policy refuses it) and
 * `requires_approval` (a require_approval policy: the call needs an approved request).
 */
export const AccessOutcome = Type.Union([
  Type.Literal('grants'),
  Type.Literal('expired'),
  Type.Literal('lacks_privilege'),
  Type.Literal('no_access'),
  Type.Literal('denies'),
  Type.Literal('requires_approval'),
]);
export type AccessOutcome = Static<typeof AccessOutcome>;

export const AccessPath = Type.Object({
  outcome: AccessOutcome,
  via: Type.Union([
    Type.Literal('direct_grant'),
    Type.Literal('group_grant'),
    Type.Literal('environment_role'),
    Type.Literal('legacy_role'),
    Type.Literal('none'),
    Type.Literal('lock'),
    Type.Literal('status'),
    Type.Literal('environment_access'),
    Type.Literal('policy'),
    Type.Literal('feature_grant'),
  ]),
  /** One sentence an admin can read. */
  message: Type.String(),
  steps: Type.Array(AccessStep),
});
export type AccessPath = Static<typeof AccessPath>;

export const AccessDecision = Type.Object({
  allowed: Type.Boolean(),
  /** Empty unless `explain` was asked for. */
  paths: Type.Array(AccessPath),
});
export type AccessDecision = Static<typeof AccessDecision>;

export const AccessCheckResponse = Type.Object({ data: AccessDecision });

export const AccessBatchBody = Type.Object({
  checks: Type.Array(AccessCheck, { maxItems: 100_000 }),
});
export type AccessBatchBody = Static<typeof AccessBatchBody>;

/** A batch answers every check in order; a check that cannot be answered carries its error instead. */
export const AccessBatchResult = Type.Object({
  allowed: Type.Boolean(),
  paths: Type.Array(AccessPath),
  error: Type.Optional(Type.Object({ code: Type.String(), title: Type.String() })),
});
export type AccessBatchResult = Static<typeof AccessBatchResult>;
export const AccessBatchResponse = Type.Object({ data: Type.Array(AccessBatchResult) });

/** How a grant reaches someone, as the access lists show it. */
export const AccessGrantPath = Type.Object({
  via: Type.Union([Type.Literal('direct_grant'), Type.Literal('group_grant')]),
  project_grant: Type.Object({
    id: Type.String(),
    expires_at: Nullable(Timestamp),
    expired: Type.Boolean(),
  }),
  project_role: Type.Object({ id: Type.String(), name: Type.String() }),
  user_group: Nullable(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      system: Type.Boolean(),
      membership_expires_at: Nullable(Timestamp),
      membership_expired: Type.Boolean(),
    }),
  ),
  /** True when the grant or the membership it goes through has expired: it no longer counts. */
  expired: Type.Boolean(),
});
export type AccessGrantPath = Static<typeof AccessGrantPath>;

export const ListMemberAccessQuery = Type.Object({
  member_id: Type.Optional(Id()),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 320 })),
  environment_type: Type.Optional(EnvironmentType),
  ...PageQuery,
});
export type ListMemberAccessQuery = Static<typeof ListMemberAccessQuery>;

/** One project a member can use now, with what they can do and every active path to it. */
export const MemberProjectAccess = Type.Object({
  project: Type.Object({ id: Type.Integer(), name: Type.String(), environment: EnvironmentRef }),
  privileges: LegacyPrivileges,
  paths: Type.Array(AccessGrantPath),
});
export type MemberProjectAccess = Static<typeof MemberProjectAccess>;
export const MemberProjectAccessList = PagedList(MemberProjectAccess);

export const ProjectAccessQuery = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
  ...PageQuery,
});
export type ProjectAccessQuery = Static<typeof ProjectAccessQuery>;

/**
 * Someone a grant on the project reaches: what they can do now (`privileges`, from unexpired
 * paths only) and every path, expired ones marked, for access reviews.
 */
export const ProjectAccessEntry = Type.Object({
  member: Type.Object({ id: Type.Integer(), name: Type.String(), email: Type.String() }),
  privileges: LegacyPrivileges,
  paths: Type.Array(AccessGrantPath),
});
export type ProjectAccessEntry = Static<typeof ProjectAccessEntry>;
export const ProjectAccessList = PagedList(ProjectAccessEntry);
