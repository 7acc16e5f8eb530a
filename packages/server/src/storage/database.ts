/**
 * Row types of every table. Both dialects store the same shapes: timestamps as ISO-8601 UTC text
 * (fixed width, so they sort and compare as strings), booleans as 0/1 integers and JSON as text.
 * That keeps one repository layer for SQLite and PostgreSQL without per-dialect type mapping.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';

type Id = Generated<number>;
/** 0 or 1. */
type Flag = number;

export interface WorkspacesTable {
  id: Id;
  name: string;
  environments_enabled: Flag;
  created_at: string;
}
export interface EnvironmentsTable {
  id: Id;
  workspace_id: number;
  type: string;
  created_at: string;
}
export interface LegacyRolesTable {
  id: Id;
  workspace_id: number;
  name: string;
  name_key: string;
  privileges: string;
  system: Flag;
  /** 'all': every project of the environment where it is held; 'selected': legacy_role_projects. */
  project_access: ColumnType<string, string | undefined, string>;
  created_at: string;
  updated_at: string;
}
/** The projects a custom legacy role with project_access 'selected' applies to. */
export interface LegacyRoleProjectsTable {
  workspace_id: number;
  legacy_role_id: number;
  project_id: number;
}
export interface EnvironmentRolesTable {
  id: Id;
  workspace_id: number;
  name: string;
  name_key: string;
  config: string;
  type: string;
  inheritable: Flag;
  created_at: string;
  updated_at: string;
}
export interface ProjectRolesTable {
  id: string;
  workspace_id: number;
  name: string;
  name_key: string;
  config: string;
  type: string;
  inheritable: Flag;
  created_at: string;
  updated_at: string;
}
export interface MembersTable {
  id: Id;
  workspace_id: number;
  name: string;
  email: string;
  email_key: string;
  external_id: string | null;
  time_zone: string;
  grant_type: string;
  avatar_url: string | null;
  created_at: string;
  updated_at: string;
}
export interface MemberEnvironmentRolesTable {
  workspace_id: number;
  member_id: number;
  environment_id: number;
  role_type: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}
export interface CollaboratorGroupsTable {
  id: string;
  workspace_id: number;
  name: string;
  name_key: string;
  description: string | null;
  system: Flag;
  /** manual | external (created or adopted by a SCIM connection); see docs/scim.md. */
  managed_by: ColumnType<string, string | undefined, string>;
  created_at: string;
  updated_at: string;
}
export interface MemberInvitationsTable {
  id: Id;
  workspace_id: number;
  name: string;
  email: string;
  email_key: string;
  token_hash: string;
  env_roles: string;
  status: string;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  member_id: number | null;
}
export interface GroupMembershipsTable {
  id: Id;
  workspace_id: number;
  group_id: string;
  member_id: number | null;
  invitation_id: number | null;
  created_at: string;
  expires_at: string | null;
  /** manual | external (added by an identity provider over SCIM); see docs/scim.md. */
  source: ColumnType<string, string | undefined, string>;
}
export interface ProjectsTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}
export interface ProjectGrantsTable {
  id: string;
  workspace_id: number;
  project_id: number;
  project_role_id: string;
  member_id: number | null;
  group_id: string | null;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
}
export interface ApiClientsTable {
  id: Id;
  workspace_id: number;
  name: string;
  token_hash: string;
  token_prefix: string;
  environment_types: string;
  project_ids: string | null;
  created_at: string;
  rotated_at: string | null;
  revoked_at: string | null;
}
export interface AuditEventsTable {
  id: Id;
  workspace_id: number;
  actor_type: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  /** What the target was called when the event was written (0009); null on older events. */
  target_name: string | null;
  before_json: string | null;
  after_json: string | null;
  created_at: string;
  /**
   * The name the receiving instance gave a forwarded end-user decision (0025; unique when set):
   * the decision is recorded once, by whichever of the home and the receiving instance is first.
   */
  decision_id: ColumnType<string | null, string | null | undefined, never>;
  /**
   * The environment type the event belongs to, derived when it is written (0029,
   * audit.repository.ts): null for a workspace-level event, and for every event older than 0029.
   */
  environment_type: ColumnType<string | null, string | null | undefined, never>;
  /** The project the event belongs to, when it is one project's (0029). */
  project_id: ColumnType<number | null, number | null | undefined, never>;
}

export interface EndUsersTable {
  id: Id;
  workspace_id: number;
  name: string;
  email: string;
  email_key: string;
  avatar_url: string | null;
  external_id: string | null;
  /** active | locked | invited | deactivated */
  status: string;
  mfa_enabled: Flag;
  /** invitation | sso | scim | manual */
  source: string;
  created_at: string;
  updated_at: string;
}
export interface EndUserEnvironmentsTable {
  workspace_id: number;
  end_user_id: number;
  environment_id: number;
  created_at: string;
}
export interface EndUserGroupsTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  name: string;
  name_key: string;
  description: string | null;
  /** manual | external */
  managed_by: string;
  /** JSON array of "Admin" | "Read Only". */
  roles: string;
  /** 1 for the environment's "Everyone" group, whose membership is implicit. */
  system: Flag;
  created_at: string;
  updated_at: string;
}
export interface EndUserGroupMembersTable {
  workspace_id: number;
  group_id: number;
  end_user_id: number;
  created_at: string;
  /** manual | external (added by an identity provider over SCIM); see docs/scim.md. */
  source: ColumnType<string, string | undefined, string>;
}
export interface FeaturesTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  kind: string;
  name: string;
  name_key: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}
export interface FeatureGrantsTable {
  id: Id;
  workspace_id: number;
  feature_id: number;
  end_user_id: number | null;
  group_id: number | null;
  created_at: string;
}
export interface PoliciesTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  feature_id: number;
  name: string;
  name_key: string;
  description: string | null;
  /** JSON array of tool names; empty = every call to the feature. */
  tools: string;
  /** all | users | groups */
  scope_type: string;
  /** allow | deny | require_approval */
  effect: string;
  created_at: string;
  updated_at: string;
}
export interface PolicyTargetsTable {
  id: Id;
  workspace_id: number;
  policy_id: number;
  end_user_id: number | null;
  group_id: number | null;
}
export interface ApprovalRequestsTable {
  id: Id;
  workspace_id: number;
  end_user_id: number;
  environment_id: number;
  feature_id: number;
  /** '' for a call without a tool. */
  tool: string;
  policy_id: number | null;
  /**
   * pending | approved | rejected | used | expired. A pending request past `expires_at` is
   * expired whether or not the row says so yet (the next decision on its key writes it).
   */
  status: string;
  created_at: string;
  decided_at: string | null;
  decided_by: string | null;
  /** Once approved: when used; once rejected: when the rejection was told to a decision. */
  used_at: string | null;
  /** Set on every request since 0015; null only on a row no migration reached. */
  expires_at: string | null;
  /** once | window, set when approved. */
  scope: ColumnType<string | null, string | null | undefined, string | null>;
  window_ends_at: ColumnType<string | null, string | null | undefined, string | null>;
}
/** One approver (a collaborator or an end-user group with the Admin role) of a policy's chain step. */
export interface PolicyApprovalStepsTable {
  id: Id;
  workspace_id: number;
  policy_id: number;
  /** 1, 2, …: the order in which steps decide. */
  position: number;
  member_id: number | null;
  group_id: number | null;
}
/** One step of a request's chain, copied from its policy when the request opened. */
export interface ApprovalRequestStepsTable {
  id: Id;
  workspace_id: number;
  request_id: number;
  position: number;
  /** JSON `{"member_ids":[…],"group_ids":[…]}`. */
  approvers: string;
  /** pending | approved | rejected */
  status: string;
  decided_at: string | null;
  decided_by_type: string | null;
  decided_by_id: string | null;
  decided_by_name: string | null;
  scope: string | null;
  minutes: number | null;
}
export interface EndUserInvitationsTable {
  id: Id;
  workspace_id: number;
  end_user_id: number;
  token_hash: string;
  /** pending | accepted | revoked */
  status: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
}

/** A collaborator's console password (scrypt, see modules/console/passwords.ts). */
export interface ConsoleCredentialsTable {
  member_id: number;
  workspace_id: number;
  password_hash: string;
  created_at: string;
  updated_at: string;
}
export interface ConsoleSessionsTable {
  id: Id;
  workspace_id: number;
  member_id: number;
  /** SHA-256 of the session cookie's token. */
  token_hash: string;
  /** SHA-256 of the CSRF token the console sends back as X-CSRF-Token. */
  csrf_hash: string;
  created_at: string;
  expires_at: string;
}

/** Console sessions of end users whose groups carry a console role (Admin, Read Only). */
export interface ConsoleEndUserSessionsTable {
  id: Id;
  workspace_id: number;
  end_user_id: number;
  token_hash: string;
  csrf_hash: string;
  created_at: string;
  expires_at: string;
}

/** A workspace's webhook endpoint (modules/webhooks). */
export interface WebhooksTable {
  id: Id;
  workspace_id: number;
  url: string;
  description: string;
  /** JSON array of event patterns: an action, `prefix.*` or `*`. */
  events: string;
  /** AES-256-GCM ciphertext of the `whsec_` signing secret (lib/secret-box.ts). */
  secret_encrypted: string;
  enabled: Flag;
  consecutive_failures: ColumnType<number, number | undefined, number>;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** One audit event to send to one webhook: the delivery queue and its log. */
export interface WebhookDeliveriesTable {
  id: Id;
  workspace_id: number;
  webhook_id: number;
  event_id: number;
  event_type: string;
  message_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: string | null;
  lease_until: string | null;
  lease_token: string | null;
  last_attempt_at: string | null;
  response_status: number | null;
  last_error: string | null;
  created_at: string;
}

/** One OpenID Connect connection per workspace (SSO sign-up, modules/sso). */
export interface SsoOidcConnectionsTable {
  workspace_id: number;
  issuer_url: string;
  client_id: string;
  /** AES-256-GCM ciphertext (lib/secret-box.ts): the secret must be usable, so not hashed. */
  client_secret_encrypted: string;
  /** JSON array of lower-case email domains. */
  allowed_domains: string;
  groups_claim: string | null;
  /** JSON array of environment types new users get. */
  environment_types: string;
  /** JSON array of OAuth scopes requested. */
  scopes: string;
  enabled: Flag;
  /** Whether the connection also signs collaborators and end users in to the admin console (opt-in). */
  console_sign_in: Flag;
  created_at: string;
  updated_at: string;
}
/** A login redirect waiting for its callback: single use, short-lived. */
export interface SsoLoginAttemptsTable {
  id: Id;
  workspace_id: number;
  /** SHA-256 of the `state` sent to the provider. */
  state_hash: string;
  nonce: string;
  code_verifier: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** portal (end-user sign-up, modules/sso) | console (admin console sign-in) | mcp (modules/oauth). */
  purpose: ColumnType<string, string | undefined, string>;
  /** For `mcp` attempts: the OAuth authorization request (interaction uid) the sign-in finishes. */
  oauth_interaction: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One record of the OAuth authorization server's storage (modules/oauth/oauth.adapter.ts). */
export interface OauthRecordsTable {
  model: string;
  /** SHA-256 of the library's id (for opaque tokens and codes, the credential itself). */
  id_hash: string;
  /** JSON, or sealed with the server's secret key (clients, the signing key). */
  payload: string;
  grant_id: string | null;
  uid_hash: string | null;
  user_code: string | null;
  expires_at: string | null;
  consumed_at: string | null;
}

/** A SCIM 2.0 connection: one environment, one target population, one hashed bearer token. */
export interface ScimConnectionsTable {
  id: string;
  workspace_id: number;
  environment_id: number;
  /** end_users | collaborators */
  target: string;
  name: string;
  /** collaborators: the name of the role new users get, as it was when set (display fallback). */
  default_role: string | null;
  /** collaborators: privilege_group | environment; the role itself is kept by ID below. */
  default_role_type: ColumnType<string | null, string | null | undefined, string | null>;
  default_legacy_role_id: ColumnType<number | null, number | null | undefined, number | null>;
  default_environment_role_id: ColumnType<number | null, number | null | undefined, number | null>;
  token_hash: string;
  token_prefix: string;
  created_at: string;
  rotated_at: string | null;
  last_sync_at: string | null;
}
/** The SCIM view of a user a connection manages (an end user or a collaborator). */
export interface ScimUsersTable {
  id: Id;
  workspace_id: number;
  connection_id: string;
  end_user_id: number | null;
  member_id: number | null;
  user_name: string;
  user_name_key: string;
  external_id: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  formatted_name: string | null;
  emails_text: string;
  active: Flag;
  /** 0 when a PATCH removed `active` (the user is active, the resource shows no `active`). */
  active_assigned: ColumnType<Flag, Flag | undefined, Flag>;
  /** JSON: the stored SCIM resource, without id, meta and groups. */
  resource: string;
  /**
   * collaborators: JSON `{role_type, legacy_role_id, environment_role_id}`, the role held in the
   * connection's environment before deactivation, restored on reactivation.
   */
  saved_role: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}
/** The SCIM view of a group a connection manages (an end-user group or a collaborator group). */
export interface ScimGroupsTable {
  id: Id;
  workspace_id: number;
  connection_id: string;
  end_user_group_id: number | null;
  collaborator_group_id: string | null;
  display_name: string;
  external_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** The upstream MCP server of an `mcp_server` feature (migration 0014, docs/agents.md). */
export interface FeatureUpstreamsTable {
  feature_id: number;
  workspace_id: number;
  url: string;
  /** JSON object: header name → AES-256-GCM ciphertext (lib/secret-box.ts), never the value. */
  headers_encrypted: string;
  updated_at: string;
}
/** Agent identities: they call MCP tools through the gateway on behalf of one end user. */
export interface AgentsTable {
  id: Id;
  workspace_id: number;
  environment_id: number;
  end_user_id: number;
  name: string;
  /** SHA-256 of the token (lib/secrets.ts), shown once. */
  token_hash: string;
  token_prefix: string;
  disabled: Flag;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
}
/** The features an agent may use; `tools` (JSON array) limits it to those tools, null: all. */
export interface AgentFeaturesTable {
  agent_id: number;
  feature_id: number;
  tools: string | null;
}

export interface Database {
  workspaces: WorkspacesTable;
  environments: EnvironmentsTable;
  legacy_roles: LegacyRolesTable;
  legacy_role_projects: LegacyRoleProjectsTable;
  environment_roles: EnvironmentRolesTable;
  project_roles: ProjectRolesTable;
  members: MembersTable;
  member_environment_roles: MemberEnvironmentRolesTable;
  collaborator_groups: CollaboratorGroupsTable;
  member_invitations: MemberInvitationsTable;
  group_memberships: GroupMembershipsTable;
  projects: ProjectsTable;
  project_grants: ProjectGrantsTable;
  api_clients: ApiClientsTable;
  audit_events: AuditEventsTable;
  end_users: EndUsersTable;
  end_user_environments: EndUserEnvironmentsTable;
  end_user_groups: EndUserGroupsTable;
  end_user_group_members: EndUserGroupMembersTable;
  features: FeaturesTable;
  feature_grants: FeatureGrantsTable;
  policies: PoliciesTable;
  policy_targets: PolicyTargetsTable;
  approval_requests: ApprovalRequestsTable;
  policy_approval_steps: PolicyApprovalStepsTable;
  approval_request_steps: ApprovalRequestStepsTable;
  end_user_invitations: EndUserInvitationsTable;
  console_credentials: ConsoleCredentialsTable;
  console_sessions: ConsoleSessionsTable;
  console_end_user_sessions: ConsoleEndUserSessionsTable;
  sso_oidc_connections: SsoOidcConnectionsTable;
  sso_login_attempts: SsoLoginAttemptsTable;
  scim_connections: ScimConnectionsTable;
  scim_users: ScimUsersTable;
  scim_groups: ScimGroupsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  feature_upstreams: FeatureUpstreamsTable;
  agents: AgentsTable;
  agent_features: AgentFeaturesTable;
  oauth_records: OauthRecordsTable;
}

export type Db = Kysely<Database>;
/** A database handle or an open transaction: repository functions take either. */
export type Executor = Kysely<Database> | Transaction<Database>;
export type Row<T extends keyof Database> = Selectable<Database[T]>;
export type NewRow<T extends keyof Database> = Insertable<Database[T]>;
export type Dialect = 'sqlite' | 'postgres';
export type { ColumnType };
