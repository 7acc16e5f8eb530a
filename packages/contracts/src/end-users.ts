/**
 * End users and what they get access to: the directory, end-user groups per environment,
 * features with their grants, policies, access decisions, approval requests and portal
 * invitations. IDs are integers; every answer is wrapped in `{"data": …}`.
 */
import { Type, type Static } from 'typebox';
import { EnvironmentType, Id, Nullable, PageQuery, Timestamp } from './common.js';

export const END_USER_STATUSES = ['active', 'locked', 'invited', 'deactivated'] as const;
export const END_USER_SOURCES = ['invitation', 'sso', 'scim', 'manual'] as const;
export const END_USER_GROUP_ROLES = ['Admin', 'Read Only'] as const;
export const FEATURE_KINDS = ['assistant', 'chat_app', 'mcp_server', 'apps_portal'] as const;
export const POLICY_EFFECTS = ['allow', 'deny', 'require_approval'] as const;
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'used', 'expired'] as const;
/** The longest approval window `POST /api/approval_requests/:id/approve` grants: 24 hours. */
export const APPROVAL_WINDOW_MINUTES_MAX = 1440;
/** How many steps a policy's approver chain may have, and approvers of each kind per step. */
export const APPROVAL_STEPS_MAX = 10;
export const APPROVERS_PER_STEP_MAX = 50;

export const EndUserStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('locked'),
  Type.Literal('invited'),
  Type.Literal('deactivated'),
]);
export const EndUserSource = Type.Union([
  Type.Literal('invitation'),
  Type.Literal('sso'),
  Type.Literal('scim'),
  Type.Literal('manual'),
]);
export const EndUserGroupRole = Type.Union([Type.Literal('Admin'), Type.Literal('Read Only')]);
export const FeatureKind = Type.Union([
  Type.Literal('assistant'),
  Type.Literal('chat_app'),
  Type.Literal('mcp_server'),
  Type.Literal('apps_portal'),
]);
export const PolicyEffect = Type.Union([
  Type.Literal('allow'),
  Type.Literal('deny'),
  Type.Literal('require_approval'),
]);
export const ApprovalStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('approved'),
  Type.Literal('rejected'),
  Type.Literal('used'),
  Type.Literal('expired'),
]);
export type EndUserStatus = Static<typeof EndUserStatus>;
export type PolicyEffect = Static<typeof PolicyEffect>;
export type FeatureKind = Static<typeof FeatureKind>;

const IdList = Type.Array(Id(), { maxItems: 1000 });
const EnvironmentTypes = Type.Array(EnvironmentType, { maxItems: 20 });
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$' });

export const EndUserGroupRef = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  environment_type: Type.String(),
  system: Type.Boolean(),
  joined_at: Nullable(Timestamp),
});
export const FeatureRef = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.String(),
  environment_type: Type.String(),
});
export const EndUserRef = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
});

export const EndUser = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
  avatar_url: Nullable(Type.String()),
  external_id: Nullable(Type.String()),
  status: EndUserStatus,
  mfa_enabled: Type.Boolean(),
  source: EndUserSource,
  environment_types: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type EndUser = Static<typeof EndUser>;

/** How a user reaches a feature: `direct`, or `group` (named), Everyone included. */
export const FeatureAccessEntry = Type.Object({
  feature: FeatureRef,
  via: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  group: Nullable(Type.Object({ id: Type.Integer(), name: Type.String() })),
});

export const ActivityEntry = Type.Object({
  id: Type.Integer(),
  action: Type.String(),
  actor: Type.Object({
    type: Type.String(),
    id: Nullable(Type.String()),
    name: Nullable(Type.String()),
  }),
  created_at: Timestamp,
});

export const EndUserDetail = Type.Object({
  ...EndUser.properties,
  groups: Type.Array(EndUserGroupRef),
  feature_access: Type.Array(FeatureAccessEntry),
  recent_activity: Type.Array(ActivityEntry),
});
export type EndUserDetail = Static<typeof EndUserDetail>;

export const CreateEndUserBody = Type.Object({
  name: Type.String({ maxLength: 200 }),
  email: Email,
  environment_types: Type.Optional(EnvironmentTypes),
  avatar_url: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
  external_id: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  mfa_enabled: Type.Optional(Type.Boolean()),
});
export type CreateEndUserBody = Static<typeof CreateEndUserBody>;

/** Everything optional: PUT and PATCH both change only what is given. */
export const UpdateEndUserBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  avatar_url: Type.Optional(Nullable(Type.String({ maxLength: 2048 }))),
  external_id: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  mfa_enabled: Type.Optional(Type.Boolean()),
  /** The complete list of explicit (non-system) groups the user belongs to. */
  end_user_group_ids: Type.Optional(IdList),
});
export type UpdateEndUserBody = Static<typeof UpdateEndUserBody>;

export const ListEndUsersQuery = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 254 })),
  status: Type.Optional(EndUserStatus),
  environment_type: Type.Optional(EnvironmentType),
  sort: Type.Optional(
    Type.Union([Type.Literal('email'), Type.Literal('mfa'), Type.Literal('created_at')]),
  ),
  direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  ...PageQuery,
});
export type ListEndUsersQuery = Static<typeof ListEndUsersQuery>;

export const SetEnvironmentAccessBody = Type.Object({
  environment_type: EnvironmentType,
  access: Type.Boolean(),
  /** Revoking needs `true`: the spec's confirmation screen. */
  confirm: Type.Optional(Type.Boolean()),
});
export type SetEnvironmentAccessBody = Static<typeof SetEnvironmentAccessBody>;

export const InviteEndUserBody = Type.Object({
  name: Type.String({ maxLength: 200 }),
  email: Email,
  environment_types: Type.Optional(EnvironmentTypes),
  end_user_group_ids: Type.Optional(IdList),
});
export type InviteEndUserBody = Static<typeof InviteEndUserBody>;

export const EndUserInvitationTokenParams = Type.Object({
  token: Type.String({ minLength: 10, maxLength: 200 }),
});

// Groups

export const EndUserGroup = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Nullable(Type.String()),
  environment_type: Type.String(),
  managed_by: Type.Union([Type.Literal('manual'), Type.Literal('external')]),
  roles: Type.Array(EndUserGroupRole),
  system: Type.Boolean(),
  users_count: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type EndUserGroup = Static<typeof EndUserGroup>;

export const EndUserGroupMember = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
  avatar_url: Nullable(Type.String()),
  status: EndUserStatus,
  joined_at: Timestamp,
  /** `external`: added by an identity provider over SCIM (the next sync wins); `manual`: by hand. */
  source: Type.Union([Type.Literal('manual'), Type.Literal('external')]),
});
export type EndUserGroupMember = Static<typeof EndUserGroupMember>;

export const ManagedBy = Type.Union([Type.Literal('manual'), Type.Literal('external')]);
const Roles = Type.Array(EndUserGroupRole, { maxItems: 2 });

/** `name` and `end_user_ids` are checked by the service, so that their errors say what is wrong. */
export const CreateEndUserGroupBody = Type.Object({
  environment_type: EnvironmentType,
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
  managed_by: Type.Optional(ManagedBy),
  roles: Type.Optional(Roles),
  end_user_ids: Type.Optional(IdList),
});
export type CreateEndUserGroupBody = Static<typeof CreateEndUserGroupBody>;

export const UpdateEndUserGroupBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 300 }))),
  managed_by: Type.Optional(ManagedBy),
  roles: Type.Optional(Roles),
});
export type UpdateEndUserGroupBody = Static<typeof UpdateEndUserGroupBody>;

export const EndUserGroupMembersBody = Type.Object({
  end_user_ids: Type.Array(Id(), { minItems: 1, maxItems: 1000 }),
});
export type EndUserGroupMembersBody = Static<typeof EndUserGroupMembersBody>;

export const ListEndUserGroupsQuery = Type.Object({
  environment_type: Type.Optional(EnvironmentType),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  /** Only the groups that have this role (an approval step's approvers are the Admin groups). */
  role: Type.Optional(EndUserGroupRole),
  sort: Type.Optional(Type.Union([Type.Literal('name'), Type.Literal('users')])),
  direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  ...PageQuery,
});
export type ListEndUserGroupsQuery = Static<typeof ListEndUserGroupsQuery>;

export const DeleteEndUserGroupQuery = Type.Object({ dry_run: Type.Optional(Type.Boolean()) });

/** What deleting a group would take away from whom (`DELETE …?dry_run=true`). */
export const GroupDeletionImpact = Type.Object({
  dry_run: Type.Literal(true),
  group: Type.Object({ id: Type.Integer(), name: Type.String(), environment_type: Type.String() }),
  feature_grants: Type.Array(FeatureRef),
  policies: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), effect: PolicyEffect }),
  ),
  users: Type.Array(
    Type.Object({
      ...EndUserRef.properties,
      loses: Type.Array(
        Type.Object({
          type: Type.Union([Type.Literal('feature_grant'), Type.Literal('policy')]),
          id: Type.Integer(),
          name: Type.String(),
          effect: Nullable(PolicyEffect),
        }),
      ),
    }),
  ),
});

// Features

/**
 * The upstream MCP server the gateway (`/mcp/<feature id>`) forwards an `mcp_server` feature's
 * calls to. Header values are secrets: stored encrypted, never returned (docs/agents.md).
 */
export const FeatureUpstreamBody = Type.Object({
  url: Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://' }),
  /** Omitted on an update: the stored headers stay. Given: they replace the stored ones. */
  headers: Type.Optional(
    Type.Record(
      Type.String({ minLength: 1, maxLength: 100, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }),
      Type.String({ maxLength: 4000 }),
      { maxProperties: 20 },
    ),
  ),
});
export type FeatureUpstreamBody = Static<typeof FeatureUpstreamBody>;

/** What the API shows of an upstream: its URL and which headers are set, never their values. */
export const FeatureUpstream = Type.Object({
  url: Type.String(),
  header_names: Type.Array(Type.String()),
});
export type FeatureUpstream = Static<typeof FeatureUpstream>;

export const Feature = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: FeatureKind,
  description: Nullable(Type.String()),
  environment_type: Type.String(),
  /** Present on an `mcp_server` feature whose upstream is configured. */
  upstream: Type.Optional(FeatureUpstream),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Feature = Static<typeof Feature>;

/** A feature as the list shows it: with how many policies decide its calls. */
export const FeatureListItem = Type.Object({
  ...Feature.properties,
  policy_count: Type.Integer({ minimum: 0 }),
});
export type FeatureListItem = Static<typeof FeatureListItem>;

export const CreateFeatureBody = Type.Object({
  environment_type: EnvironmentType,
  kind: FeatureKind,
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  /** Only for `mcp_server` features. */
  upstream: Type.Optional(Nullable(FeatureUpstreamBody)),
});
export type CreateFeatureBody = Static<typeof CreateFeatureBody>;

export const UpdateFeatureBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  /** null removes the upstream (the gateway then answers 404 for the feature). */
  upstream: Type.Optional(Nullable(FeatureUpstreamBody)),
});
export type UpdateFeatureBody = Static<typeof UpdateFeatureBody>;

export const ListFeaturesQuery = Type.Object({
  environment_type: Type.Optional(EnvironmentType),
  kind: Type.Optional(FeatureKind),
  /** Features whose name contains this, ignoring case. */
  name: Type.Optional(Type.String({ maxLength: 200 })),
  ...PageQuery,
});
export type ListFeaturesQuery = Static<typeof ListFeaturesQuery>;

export const FeatureAccessBody = Type.Object({
  end_user_ids: Type.Optional(IdList),
  end_user_group_ids: Type.Optional(IdList),
});
export type FeatureAccessBody = Static<typeof FeatureAccessBody>;

export const FeatureGrant = Type.Object({
  id: Type.Integer(),
  type: Type.Union([Type.Literal('end_user'), Type.Literal('end_user_group')]),
  end_user: Nullable(EndUserRef),
  end_user_group: Nullable(
    Type.Object({ id: Type.Integer(), name: Type.String(), system: Type.Boolean() }),
  ),
  created_at: Timestamp,
});
export type FeatureGrant = Static<typeof FeatureGrant>;
/**
 * The grants a grant or revoke request named (made, found or removed): proportional to the
 * request, not to the feature, whose whole list is GET /api/features/{id}/access, paged.
 */
export const FeatureGrantList = Type.Object({ data: Type.Array(FeatureGrant) });

// Policies

/**
 * One step of a require_approval policy's approver chain: collaborators (by member ID) and
 * end-user groups of the policy's environment carrying the Admin role (any member of one may
 * decide). Steps decide in order; every step must approve and any step may reject.
 */
export const ApprovalStepBody = Type.Object({
  collaborator_ids: Type.Optional(Type.Array(Id(), { maxItems: APPROVERS_PER_STEP_MAX })),
  end_user_group_ids: Type.Optional(Type.Array(Id(), { maxItems: APPROVERS_PER_STEP_MAX })),
});
export type ApprovalStepBody = Static<typeof ApprovalStepBody>;
const ApprovalSteps = Type.Array(ApprovalStepBody, { maxItems: APPROVAL_STEPS_MAX });

export const ApprovalStep = Type.Object({
  collaborators: Type.Array(
    Type.Object({ id: Type.Integer(), name: Type.String(), email: Type.String() }),
  ),
  end_user_groups: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String() })),
});
export type ApprovalStep = Static<typeof ApprovalStep>;

export const PolicyScope = Type.Object({
  type: Type.Union([Type.Literal('all'), Type.Literal('users'), Type.Literal('groups')]),
  ids: Type.Optional(IdList),
});

export const Policy = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Nullable(Type.String()),
  environment_type: Type.String(),
  feature_id: Type.Integer(),
  tools: Type.Array(Type.String()),
  scope: Type.Object({ type: Type.String(), ids: Type.Array(Type.Integer()) }),
  effect: PolicyEffect,
  /** require_approval only: the approver chain, in order; empty = any admin of the environment decides. */
  approval_steps: Type.Array(ApprovalStep),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Policy = Static<typeof Policy>;

const Tools = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 });

export const CreatePolicyBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  environment_type: EnvironmentType,
  feature_id: Id(),
  tools: Type.Optional(Tools),
  scope: PolicyScope,
  effect: PolicyEffect,
  approval_steps: Type.Optional(ApprovalSteps),
});
export type CreatePolicyBody = Static<typeof CreatePolicyBody>;

/** The feature and environment of a policy are fixed; everything else may change. */
export const UpdatePolicyBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  tools: Type.Optional(Tools),
  scope: Type.Optional(PolicyScope),
  effect: Type.Optional(PolicyEffect),
  /** Replaces the chain whole; `[]` removes it. A policy that stops requiring approval loses it. */
  approval_steps: Type.Optional(ApprovalSteps),
});
export type UpdatePolicyBody = Static<typeof UpdatePolicyBody>;

export const ListPoliciesQuery = Type.Object({
  environment_type: Type.Optional(EnvironmentType),
  feature_id: Type.Optional(Id()),
  effect: Type.Optional(PolicyEffect),
  ...PageQuery,
});
export type ListPoliciesQuery = Static<typeof ListPoliciesQuery>;

// Decisions and approvals

export const DecisionBody = Type.Object({
  end_user_id: Type.Optional(Id()),
  email: Type.Optional(Type.String({ maxLength: 254 })),
  environment_type: EnvironmentType,
  feature_id: Id(),
  tool: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
});
export type DecisionBody = Static<typeof DecisionBody>;

export const DecisionReason = Type.Object({
  type: Type.Union([
    Type.Literal('locked'),
    Type.Literal('status'),
    Type.Literal('no_environment_access'),
    Type.Literal('policy'),
    Type.Literal('feature_grant'),
    Type.Literal('approval_request'),
    Type.Literal('no_access'),
  ]),
  message: Type.String(),
  policy: Type.Optional(
    Type.Object({ id: Type.Integer(), name: Type.String(), effect: PolicyEffect }),
  ),
  group: Type.Optional(Type.Object({ id: Type.Integer(), name: Type.String() })),
  grant_id: Type.Optional(Type.Integer()),
  approval_request_id: Type.Optional(Type.Integer()),
});
export type DecisionReason = Static<typeof DecisionReason>;

export const Decision = Type.Object({
  decision: PolicyEffect,
  reasons: Type.Array(DecisionReason),
  /** Set when the decision is `require_approval` (the request to approve) or used an approval. */
  approval_request_id: Nullable(Type.Integer()),
  /** Present (true) on a dry run (`?dry_run=true`): the answer was computed and nothing was written. */
  dry_run: Type.Optional(Type.Literal(true)),
});
export type Decision = Static<typeof Decision>;

/** `POST /api/end_users/decisions?dry_run=true`: answer without recording or touching approvals. */
export const DecisionQuery = Type.Object({ dry_run: Type.Optional(Type.Boolean()) });
export type DecisionQuery = Static<typeof DecisionQuery>;

export const ApprovalScope = Type.Union([Type.Literal('once'), Type.Literal('window')]);
export type ApprovalScope = Static<typeof ApprovalScope>;

/**
 * `POST /api/approval_requests/:id/approve`, body optional: `once` (the default) is good for the
 * next matching decision; `window` allows every matching decision for `minutes` from approval.
 */
export const ApproveBody = Type.Object({
  scope: Type.Optional(ApprovalScope),
  minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: APPROVAL_WINDOW_MINUTES_MAX })),
});
export type ApproveBody = Static<typeof ApproveBody>;

/** One step of a request's chain (copied from the policy when the request opened) and its state. */
export const ApprovalRequestStep = Type.Object({
  position: Type.Integer(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  approvers: ApprovalStep,
  decided_at: Nullable(Timestamp),
  decided_by: Nullable(
    Type.Object({ type: Type.String(), id: Type.String(), name: Type.String() }),
  ),
  scope: Nullable(ApprovalScope),
  minutes: Nullable(Type.Integer()),
});
export type ApprovalRequestStep = Static<typeof ApprovalRequestStep>;

export const ApprovalRequest = Type.Object({
  id: Type.Integer(),
  /** `expired`: pending past `expires_at` (computed when read: no background job is needed). */
  status: ApprovalStatus,
  end_user: EndUserRef,
  environment_type: Type.String(),
  feature: FeatureRef,
  tool: Nullable(Type.String()),
  policy_id: Nullable(Type.Integer()),
  created_at: Timestamp,
  decided_at: Nullable(Timestamp),
  decided_by: Nullable(Type.String()),
  used_at: Nullable(Timestamp),
  /** When a pending request expires unanswered. */
  expires_at: Timestamp,
  /** Set once approved: `once` or `window` (then until `window_ends_at`). */
  scope: Nullable(ApprovalScope),
  window_ends_at: Nullable(Timestamp),
  /** The approver chain; empty when the policy has none (any admin of the environment decides). */
  steps: Type.Array(ApprovalRequestStep),
  /** The position of the step that decides next, while pending with a chain. */
  current_step: Nullable(Type.Integer()),
});
export type ApprovalRequest = Static<typeof ApprovalRequest>;

export const ListApprovalRequestsQuery = Type.Object({
  status: Type.Optional(ApprovalStatus),
  /** `me`: the inbox, pending requests the caller may decide now. */
  awaiting: Type.Optional(Type.Literal('me')),
  end_user_id: Type.Optional(Id()),
  feature_id: Type.Optional(Id()),
  ...PageQuery,
});
export type ListApprovalRequestsQuery = Static<typeof ListApprovalRequestsQuery>;
