/**
 * The operations table: every documented HTTP operation of Roster, by name, with its method, its
 * path as the OpenAPI document writes it, and the schemas of its parameters, query, body and
 * answers. The server's routes take their schemas from here (so the OpenAPI document does too),
 * the console's API client is typed from here, and so are the tests' `api.call` helper. A test
 * (tests/operations.test.ts) fails when a registered route and this table disagree.
 *
 * `response` lists the answers of the operation itself; the error answers every route shares are
 * added by the server (http/operations.ts).
 */
import { Type, type Static, type TSchema } from 'typebox';
import {
  AccessBatchBody,
  AccessBatchResponse,
  AccessCheck,
  AccessCheckResponse,
  ListMemberAccessQuery,
  MemberProjectAccessList,
  ProjectAccessList,
  ProjectAccessQuery,
} from './access.js';
import {
  Agent,
  AgentWithToken,
  CreateAgentBody,
  ListAgentsQuery,
  UpdateAgentBody,
} from './agents.js';
import {
  CreateWebhookBody,
  ListWebhookDeliveriesQuery,
  UpdateWebhookBody,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryParams,
  WebhookWithSecret,
} from './webhooks.js';
import {
  AccessSnapshotChangesQuery,
  AccessSnapshotChangesResponse,
  AccessSnapshotResponse,
  EventStreamQuery,
  EventStreamResponse,
} from './events.js';
import {
  ApplyWorkspaceQuery,
  ApplyWorkspaceResponse,
  WorkspaceDocument,
  WorkspaceExportResponse,
} from './workspace-config.js';
import {
  DataNull,
  DataOf,
  DataResultOk,
  ErrorBody,
  IntegerIdParams,
  NoContent,
  PageOnlyQuery,
  PagedList,
  StringIdParams,
} from './common.js';
import {
  AcceptWithPasswordBody,
  ConsoleSession,
  ConsoleSsoQuery,
  ConsoleSsoStatus,
  SetupBody,
  SetupStatus,
  SignInBody,
} from './console.js';
import {
  ApprovalRequest,
  ApproveBody,
  CreateEndUserBody,
  CreateEndUserGroupBody,
  CreateFeatureBody,
  CreatePolicyBody,
  Decision,
  DecisionBody,
  DecisionQuery,
  DeleteEndUserGroupQuery,
  EndUser,
  EndUserDetail,
  EndUserGroup,
  EndUserGroupMember,
  EndUserGroupMembersBody,
  EndUserInvitationTokenParams,
  Feature,
  FeatureListItem,
  FeatureAccessBody,
  FeatureGrant,
  FeatureGrantList,
  GroupDeletionImpact,
  InviteEndUserBody,
  ListApprovalRequestsQuery,
  ListEndUserGroupsQuery,
  ListEndUsersQuery,
  ListFeaturesQuery,
  ListPoliciesQuery,
  Policy,
  SetEnvironmentAccessBody,
  UpdateEndUserBody,
  UpdateEndUserGroupBody,
  UpdateFeatureBody,
  UpdatePolicyBody,
} from './end-users.js';
import {
  AddGroupMembersBody,
  CollaboratorGroup,
  CollaboratorGroupBody,
  GetGroupQuery,
  GroupMember,
  ListGroupMembersQuery,
  ListGroupsQuery,
  RemoveGroupMembersQuery,
} from './groups.js';
import {
  AcceptInvitationBody,
  CreateInvitationBody,
  Invitation,
  InvitationCreated,
  InvitationPreview,
  InvitationTokenParams,
  ListInvitationsQuery,
} from './invitations.js';
import {
  AssigneeProjectGrant,
  ListMembersQuery,
  Member,
  MemberPrivileges,
  ProjectsPrivileges,
  UpdateMemberBody,
} from './members.js';
import {
  CustomRoleMigrationBody,
  DryRunQuery,
  MigrationPlan,
  SystemRolesMigrationBody,
} from './migration.js';
import {
  ApiClient,
  ApiClientWithToken,
  AuditActivityBucket,
  AuditActivityQuery,
  AuditEvent,
  CreateApiClientBody,
  CreateWorkspaceBody,
  CreatedWorkspace,
  ListApiClientsQuery,
  ListAuditEventsQuery,
  Workspace,
} from './platform.js';
import {
  CreateProjectBody,
  ListProjectsQuery,
  Project,
  ProjectGrant,
  ProjectGrantInProject,
  UpdateProjectBody,
  UpdateProjectGrantBody,
  UpsertProjectGrantsBody,
} from './projects.js';
import {
  EnvironmentRole,
  EnvironmentRoleBody,
  EnvironmentRoleSummary,
  LegacyRole,
  LegacyRoleBody,
  ListRolesQuery,
  ProjectRole,
  ProjectRoleBody,
  ProjectRoleSummary,
} from './roles.js';
import {
  CreateScimConnectionBody,
  ScimConnection,
  ScimConnectionParams,
  ScimConnectionWithToken,
  UpdateScimConnectionBody,
} from './scim.js';
import {
  PutSsoOidcBody,
  SsoCallbackQuery,
  SsoLoginQuery,
  SsoOidcConnection,
  SsoSignIn,
} from './sso.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface OperationSpec {
  method: HttpMethod;
  /** As in the OpenAPI document: `/api/end_users/{id}`. */
  path: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  response: Readonly<Record<number, TSchema>>;
}

export type Operations = typeof OPERATIONS;
export type OperationName = keyof Operations;

// Each helper distributes over a union of names (`N extends unknown`), so that a call whose name
// is one of two operations gets the union of their types.
type SchemaAt<N extends OperationName, K extends string> = N extends unknown
  ? Operations[N] extends { readonly [P in K]: infer S extends TSchema }
    ? S
    : undefined
  : never;
type StaticOr<S, Otherwise> = S extends TSchema ? Static<S> : Otherwise;
type SuccessStatus = 200 | 201 | 202 | 204;

/** What the operation answers on success (any 2xx it declares): `null` for a 204. */
export type ResponseOf<N extends OperationName> = N extends unknown
  ? {
      [S in keyof Operations[N]['response']]: S extends SuccessStatus
        ? StaticOr<Operations[N]['response'][S], never>
        : never;
    }[keyof Operations[N]['response']]
  : never;
/** The request body the operation validates (`undefined` when it takes none). */
export type BodyOf<N extends OperationName> = StaticOr<SchemaAt<N, 'body'>, undefined>;
/** The query string the operation validates, as the caller writes it. */
export type QueryOf<N extends OperationName> = StaticOr<SchemaAt<N, 'querystring'>, undefined>;
/** The path parameters: the schema validates strings, a caller may pass numbers too. */
export type ParamsOf<N extends OperationName> =
  SchemaAt<N, 'params'> extends infer P extends TSchema
    ? { [K in keyof Static<P>]: string | number }
    : undefined;

export const OPERATIONS = {
  // api-clients
  listApiClients: {
    method: 'get',
    path: '/api/api_clients',
    querystring: ListApiClientsQuery,
    response: { 200: PagedList(ApiClient) },
  },
  getApiClient: {
    method: 'get',
    path: '/api/api_clients/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(ApiClient) },
  },
  createApiClient: {
    method: 'post',
    path: '/api/api_clients',
    body: CreateApiClientBody,
    response: { 201: DataOf(ApiClientWithToken) },
  },
  rotateApiClient: {
    method: 'post',
    path: '/api/api_clients/{id}/rotate',
    params: IntegerIdParams,
    response: { 200: DataOf(ApiClientWithToken) },
  },
  revokeApiClient: {
    method: 'delete',
    path: '/api/api_clients/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  // approvals
  listApprovals: {
    method: 'get',
    path: '/api/approval_requests',
    querystring: ListApprovalRequestsQuery,
    response: { 200: PagedList(ApprovalRequest) },
  },
  getApproval: {
    method: 'get',
    path: '/api/approval_requests/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(ApprovalRequest) },
  },
  approve: {
    method: 'post',
    path: '/api/approval_requests/{id}/approve',
    params: IntegerIdParams,
    body: ApproveBody,
    response: { 200: DataOf(ApprovalRequest) },
  },
  reject: {
    method: 'post',
    path: '/api/approval_requests/{id}/reject',
    params: IntegerIdParams,
    response: { 200: DataOf(ApprovalRequest) },
  },
  // audit
  listAuditEvents: {
    method: 'get',
    path: '/api/audit_events',
    querystring: ListAuditEventsQuery,
    response: { 200: PagedList(AuditEvent) },
  },
  getAuditActivity: {
    method: 'get',
    path: '/api/audit_events/activity',
    querystring: AuditActivityQuery,
    response: { 200: DataOf(Type.Array(AuditActivityBucket)) },
  },
  // console
  getSession: {
    method: 'get',
    path: '/api/console/session',
    response: { 200: DataOf(ConsoleSession) },
  },
  signIn: {
    method: 'post',
    path: '/api/console/session',
    body: SignInBody,
    response: { 200: DataOf(ConsoleSession) },
  },
  signOut: { method: 'delete', path: '/api/console/session', response: { 204: NoContent } },
  getSso: {
    method: 'get',
    path: '/api/console/sso',
    querystring: ConsoleSsoQuery,
    response: { 200: DataOf(ConsoleSsoStatus) },
  },
  consoleSsoLogin: {
    method: 'get',
    path: '/api/console/sso/login',
    querystring: ConsoleSsoQuery,
    response: { 302: Type.Null({ description: 'Redirect to the provider' }) },
  },
  getSetup: { method: 'get', path: '/api/console/setup', response: { 200: DataOf(SetupStatus) } },
  setup: {
    method: 'post',
    path: '/api/console/setup',
    body: SetupBody,
    response: { 201: DataOf(Type.Null()) },
  },
  acceptInvitationWithPassword: {
    method: 'post',
    path: '/api/console/invitations/{token}/accept',
    params: InvitationTokenParams,
    body: AcceptWithPasswordBody,
    response: { 201: DataOf(Member), 410: ErrorBody },
  },
  // decisions
  listMemberPrivileges: {
    method: 'get',
    path: '/api/members/{id}/privileges',
    params: IntegerIdParams,
    response: { 200: Type.Object({ data: Type.Array(MemberPrivileges) }) },
  },
  listMemberProjectsPrivileges: {
    method: 'get',
    path: '/api/members/{id}/projects_privileges',
    params: IntegerIdParams,
    response: { 200: Type.Object({ data: Type.Array(ProjectsPrivileges) }) },
  },
  accessCheck: {
    method: 'post',
    path: '/api/access/check',
    body: AccessCheck,
    response: { 200: AccessCheckResponse },
  },
  accessCheckBatch: {
    method: 'post',
    path: '/api/access/check_batch',
    body: AccessBatchBody,
    response: { 200: AccessBatchResponse },
  },
  accessProjects: {
    method: 'get',
    path: '/api/access/projects',
    querystring: ListMemberAccessQuery,
    response: { 200: MemberProjectAccessList },
  },
  projectAccess: {
    method: 'get',
    path: '/api/projects/{id}/access',
    params: IntegerIdParams,
    querystring: ProjectAccessQuery,
    response: { 200: ProjectAccessList },
  },
  // end-user-groups
  listEndUserGroups: {
    method: 'get',
    path: '/api/end_user_groups',
    querystring: ListEndUserGroupsQuery,
    response: { 200: PagedList(EndUserGroup) },
  },
  createEndUserGroup: {
    method: 'post',
    path: '/api/end_user_groups',
    body: CreateEndUserGroupBody,
    response: { 201: DataOf(EndUserGroup) },
  },
  getEndUserGroup: {
    method: 'get',
    path: '/api/end_user_groups/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(EndUserGroup) },
  },
  updateEndUserGroup: {
    method: 'put',
    path: '/api/end_user_groups/{id}',
    params: IntegerIdParams,
    body: UpdateEndUserGroupBody,
    response: { 200: DataOf(EndUserGroup) },
  },
  patchEndUserGroup: {
    method: 'patch',
    path: '/api/end_user_groups/{id}',
    params: IntegerIdParams,
    body: UpdateEndUserGroupBody,
    response: { 200: DataOf(EndUserGroup) },
  },
  deleteEndUserGroup: {
    method: 'delete',
    path: '/api/end_user_groups/{id}',
    params: IntegerIdParams,
    querystring: DeleteEndUserGroupQuery,
    response: { 200: DataOf(GroupDeletionImpact), 204: NoContent },
  },
  listEndUserGroupMembers: {
    method: 'get',
    path: '/api/end_user_groups/{id}/members',
    params: IntegerIdParams,
    querystring: PageOnlyQuery,
    response: { 200: PagedList(EndUserGroupMember) },
  },
  addEndUserGroupMembers: {
    method: 'post',
    path: '/api/end_user_groups/{id}/members',
    params: IntegerIdParams,
    body: EndUserGroupMembersBody,
    response: { 200: DataOf(EndUserGroup) },
  },
  removeEndUserGroupMembers: {
    method: 'delete',
    path: '/api/end_user_groups/{id}/members',
    params: IntegerIdParams,
    body: EndUserGroupMembersBody,
    response: { 200: DataOf(EndUserGroup) },
  },
  // end-users
  listEndUsers: {
    method: 'get',
    path: '/api/end_users',
    querystring: ListEndUsersQuery,
    response: { 200: PagedList(EndUser) },
  },
  createEndUser: {
    method: 'post',
    path: '/api/end_users',
    body: CreateEndUserBody,
    response: { 201: DataOf(EndUser) },
  },
  inviteEndUser: {
    method: 'post',
    path: '/api/end_users/invitations',
    body: InviteEndUserBody,
    response: { 201: DataOf(EndUser) },
  },
  decide: {
    method: 'post',
    path: '/api/end_users/decisions',
    querystring: DecisionQuery,
    body: DecisionBody,
    response: { 200: DataOf(Decision) },
  },
  getEndUser: {
    method: 'get',
    path: '/api/end_users/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(EndUserDetail) },
  },
  updateEndUser: {
    method: 'put',
    path: '/api/end_users/{id}',
    params: IntegerIdParams,
    body: UpdateEndUserBody,
    response: { 200: DataOf(EndUser) },
  },
  patchEndUser: {
    method: 'patch',
    path: '/api/end_users/{id}',
    params: IntegerIdParams,
    body: UpdateEndUserBody,
    response: { 200: DataOf(EndUser) },
  },
  deleteEndUser: {
    method: 'delete',
    path: '/api/end_users/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  setEndUserEnvironment: {
    method: 'put',
    path: '/api/end_users/{id}/environments',
    params: IntegerIdParams,
    body: SetEnvironmentAccessBody,
    response: { 200: DataOf(EndUser) },
  },
  lockEndUser: {
    method: 'post',
    path: '/api/end_users/{id}/lock',
    params: IntegerIdParams,
    response: { 200: DataOf(EndUser) },
  },
  unlockEndUser: {
    method: 'post',
    path: '/api/end_users/{id}/unlock',
    params: IntegerIdParams,
    response: { 200: DataOf(EndUser) },
  },
  acceptEndUserInvitation: {
    method: 'post',
    path: '/end-user-invitations/{token}/accept',
    params: EndUserInvitationTokenParams,
    body: Type.Optional(Type.Union([Type.Object({}), Type.Null()])),
    response: { 200: DataOf(EndUser), 400: ErrorBody, 404: ErrorBody, 410: ErrorBody },
  },
  // features
  listFeatures: {
    method: 'get',
    path: '/api/features',
    querystring: ListFeaturesQuery,
    response: { 200: PagedList(FeatureListItem) },
  },
  createFeature: {
    method: 'post',
    path: '/api/features',
    body: CreateFeatureBody,
    response: { 201: DataOf(Feature) },
  },
  getFeature: {
    method: 'get',
    path: '/api/features/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Feature) },
  },
  updateFeature: {
    method: 'put',
    path: '/api/features/{id}',
    params: IntegerIdParams,
    body: UpdateFeatureBody,
    response: { 200: DataOf(Feature) },
  },
  patchFeature: {
    method: 'patch',
    path: '/api/features/{id}',
    params: IntegerIdParams,
    body: UpdateFeatureBody,
    response: { 200: DataOf(Feature) },
  },
  deleteFeature: {
    method: 'delete',
    path: '/api/features/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  listFeatureAccess: {
    method: 'get',
    path: '/api/features/{id}/access',
    params: IntegerIdParams,
    querystring: PageOnlyQuery,
    response: { 200: PagedList(FeatureGrant) },
  },
  grantFeatureAccess: {
    method: 'post',
    path: '/api/features/{id}/access',
    params: IntegerIdParams,
    body: FeatureAccessBody,
    response: { 200: FeatureGrantList },
  },
  revokeFeatureAccess: {
    method: 'delete',
    path: '/api/features/{id}/access',
    params: IntegerIdParams,
    body: FeatureAccessBody,
    response: { 200: FeatureGrantList },
  },
  // grants
  getProjectGrant: {
    method: 'get',
    path: '/api/project_grants/{id}',
    params: StringIdParams,
    response: { 200: DataOf(ProjectGrant) },
  },
  updateProjectGrant: {
    method: 'put',
    path: '/api/project_grants/{id}',
    params: StringIdParams,
    body: UpdateProjectGrantBody,
    response: { 200: DataOf(ProjectGrant) },
  },
  deleteProjectGrant: {
    method: 'delete',
    path: '/api/project_grants/{id}',
    params: StringIdParams,
    response: { 204: NoContent },
  },
  listProjectGrants: {
    method: 'get',
    path: '/api/projects/{id}/project_grants',
    params: IntegerIdParams,
    querystring: PageOnlyQuery,
    response: { 200: PagedList(ProjectGrantInProject) },
  },
  upsertProjectGrants: {
    method: 'put',
    path: '/api/projects/{id}/project_grants',
    params: IntegerIdParams,
    body: UpsertProjectGrantsBody,
    response: { 200: DataNull },
  },
  listMemberProjectGrants: {
    method: 'get',
    path: '/api/members/{id}/project_grants',
    params: IntegerIdParams,
    querystring: PageOnlyQuery,
    response: { 200: PagedList(AssigneeProjectGrant) },
  },
  listUserGroupProjectGrants: {
    method: 'get',
    path: '/api/user_groups/{id}/project_grants',
    params: StringIdParams,
    querystring: PageOnlyQuery,
    response: { 200: PagedList(AssigneeProjectGrant) },
  },
  // groups
  listUserGroups: {
    method: 'get',
    path: '/api/user_groups',
    querystring: ListGroupsQuery,
    response: { 200: PagedList(CollaboratorGroup) },
  },
  getUserGroup: {
    method: 'get',
    path: '/api/user_groups/{id}',
    params: StringIdParams,
    querystring: GetGroupQuery,
    response: { 200: DataOf(CollaboratorGroup) },
  },
  createUserGroup: {
    method: 'post',
    path: '/api/user_groups',
    body: CollaboratorGroupBody,
    response: { 200: DataOf(CollaboratorGroup) },
  },
  updateUserGroup: {
    method: 'put',
    path: '/api/user_groups/{id}',
    params: StringIdParams,
    body: CollaboratorGroupBody,
    response: { 200: DataOf(CollaboratorGroup) },
  },
  deleteUserGroup: {
    method: 'delete',
    path: '/api/user_groups/{id}',
    params: StringIdParams,
    response: { 204: NoContent },
  },
  listUserGroupMembers: {
    method: 'get',
    path: '/api/user_groups/{id}/members',
    params: StringIdParams,
    querystring: ListGroupMembersQuery,
    response: { 200: PagedList(GroupMember) },
  },
  addUserGroupMembers: {
    method: 'post',
    path: '/api/user_groups/{id}/members',
    params: StringIdParams,
    body: AddGroupMembersBody,
    response: { 200: DataNull },
  },
  removeUserGroupMembers: {
    method: 'delete',
    path: '/api/user_groups/{id}/members',
    params: StringIdParams,
    querystring: RemoveGroupMembersQuery,
    response: { 204: NoContent },
  },
  // invitations
  createInvitation: {
    method: 'post',
    path: '/api/member_invitations',
    body: CreateInvitationBody,
    response: { 200: InvitationCreated },
  },
  listInvitations: {
    method: 'get',
    path: '/api/member_invitations',
    querystring: ListInvitationsQuery,
    response: { 200: PagedList(Invitation) },
  },
  getInvitation: {
    method: 'get',
    path: '/api/member_invitations/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Invitation) },
  },
  revokeInvitation: {
    method: 'delete',
    path: '/api/member_invitations/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  resendInvitation: {
    method: 'post',
    path: '/api/member_invitations/{id}/resend',
    params: IntegerIdParams,
    response: { 200: Type.Object({ result: Type.Literal('ok') }) },
  },
  previewInvitation: {
    method: 'get',
    path: '/invitations/{token}',
    params: InvitationTokenParams,
    response: { 200: DataOf(InvitationPreview) },
  },
  acceptInvitation: {
    method: 'post',
    path: '/invitations/{token}/accept',
    params: InvitationTokenParams,
    body: Type.Union([AcceptInvitationBody, Type.Null()]),
    response: { 201: DataOf(Member) },
  },
  // members
  listMembers: {
    method: 'get',
    path: '/api/members',
    querystring: ListMembersQuery,
    response: { 200: PagedList(Member) },
  },
  getMember: {
    method: 'get',
    path: '/api/members/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Member) },
  },
  updateMember: {
    method: 'put',
    path: '/api/members/{id}',
    params: IntegerIdParams,
    body: UpdateMemberBody,
    response: { 200: DataResultOk },
  },
  deleteMember: {
    method: 'delete',
    path: '/api/members/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  // policies
  listPolicies: {
    method: 'get',
    path: '/api/policies',
    querystring: ListPoliciesQuery,
    response: { 200: PagedList(Policy) },
  },
  createPolicy: {
    method: 'post',
    path: '/api/policies',
    body: CreatePolicyBody,
    response: { 201: DataOf(Policy) },
  },
  getPolicy: {
    method: 'get',
    path: '/api/policies/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Policy) },
  },
  updatePolicy: {
    method: 'put',
    path: '/api/policies/{id}',
    params: IntegerIdParams,
    body: UpdatePolicyBody,
    response: { 200: DataOf(Policy) },
  },
  patchPolicy: {
    method: 'patch',
    path: '/api/policies/{id}',
    params: IntegerIdParams,
    body: UpdatePolicyBody,
    response: { 200: DataOf(Policy) },
  },
  deletePolicy: {
    method: 'delete',
    path: '/api/policies/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  // projects
  listProjects: {
    method: 'get',
    path: '/api/projects',
    querystring: ListProjectsQuery,
    response: { 200: PagedList(Project) },
  },
  getProject: {
    method: 'get',
    path: '/api/projects/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Project) },
  },
  createProject: {
    method: 'post',
    path: '/api/projects',
    body: CreateProjectBody,
    response: { 201: DataOf(Project) },
  },
  updateProject: {
    method: 'put',
    path: '/api/projects/{id}',
    params: IntegerIdParams,
    body: UpdateProjectBody,
    response: { 200: DataOf(Project) },
  },
  deleteProject: {
    method: 'delete',
    path: '/api/projects/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  // roles
  listEnvironmentRoles: {
    method: 'get',
    path: '/api/environment_roles',
    querystring: ListRolesQuery,
    response: { 200: PagedList(EnvironmentRoleSummary) },
  },
  getEnvironmentRole: {
    method: 'get',
    path: '/api/environment_roles/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(EnvironmentRole) },
  },
  createEnvironmentRole: {
    method: 'post',
    path: '/api/environment_roles',
    body: EnvironmentRoleBody,
    response: { 200: DataOf(EnvironmentRole) },
  },
  updateEnvironmentRole: {
    method: 'put',
    path: '/api/environment_roles/{id}',
    params: IntegerIdParams,
    body: EnvironmentRoleBody,
    response: { 200: DataOf(EnvironmentRole) },
  },
  deleteEnvironmentRole: {
    method: 'delete',
    path: '/api/environment_roles/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  listProjectRoles: {
    method: 'get',
    path: '/api/project_roles',
    querystring: ListRolesQuery,
    response: { 200: PagedList(ProjectRoleSummary) },
  },
  getProjectRole: {
    method: 'get',
    path: '/api/project_roles/{id}',
    params: StringIdParams,
    response: { 200: DataOf(ProjectRole) },
  },
  createProjectRole: {
    method: 'post',
    path: '/api/project_roles',
    body: ProjectRoleBody,
    response: { 200: DataOf(ProjectRole) },
  },
  updateProjectRole: {
    method: 'put',
    path: '/api/project_roles/{id}',
    params: StringIdParams,
    body: ProjectRoleBody,
    response: { 200: DataOf(ProjectRole) },
  },
  deleteProjectRole: {
    method: 'delete',
    path: '/api/project_roles/{id}',
    params: StringIdParams,
    response: { 204: NoContent },
  },
  listLegacyRoles: {
    method: 'get',
    path: '/api/roles',
    querystring: ListRolesQuery,
    response: { 200: PagedList(LegacyRole) },
  },
  getLegacyRole: {
    method: 'get',
    path: '/api/roles/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(LegacyRole) },
  },
  createLegacyRole: {
    method: 'post',
    path: '/api/roles',
    body: LegacyRoleBody,
    response: { 200: DataOf(LegacyRole) },
  },
  updateLegacyRole: {
    method: 'put',
    path: '/api/roles/{id}',
    params: IntegerIdParams,
    body: LegacyRoleBody,
    response: { 200: DataOf(LegacyRole) },
  },
  deleteLegacyRole: {
    method: 'delete',
    path: '/api/roles/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  // roles-migration
  migrateSystemRoles: {
    method: 'post',
    path: '/api/roles_migration/system_roles',
    querystring: DryRunQuery,
    body: Type.Optional(SystemRolesMigrationBody),
    response: { 200: DataOf(MigrationPlan) },
  },
  migrateCustomRole: {
    method: 'post',
    path: '/api/roles_migration/custom_role',
    querystring: DryRunQuery,
    body: CustomRoleMigrationBody,
    response: { 200: DataOf(MigrationPlan) },
  },
  // scim
  listScimConnections: {
    method: 'get',
    path: '/api/scim_connections',
    response: { 200: DataOf(Type.Array(ScimConnection)) },
  },
  createScimConnection: {
    method: 'post',
    path: '/api/scim_connections',
    body: CreateScimConnectionBody,
    response: { 201: DataOf(ScimConnectionWithToken) },
  },
  getScimConnection: {
    method: 'get',
    path: '/api/scim_connections/{id}',
    params: ScimConnectionParams,
    response: { 200: DataOf(ScimConnection) },
  },
  patchScimConnection: {
    method: 'patch',
    path: '/api/scim_connections/{id}',
    params: ScimConnectionParams,
    body: UpdateScimConnectionBody,
    response: { 200: DataOf(ScimConnection) },
  },
  rotateScimToken: {
    method: 'post',
    path: '/api/scim_connections/{id}/rotate_token',
    params: ScimConnectionParams,
    response: { 200: DataOf(ScimConnectionWithToken) },
  },
  deleteScimConnection: {
    method: 'delete',
    path: '/api/scim_connections/{id}',
    params: ScimConnectionParams,
    response: { 204: NoContent },
  },
  // sso
  getSsoOidc: {
    method: 'get',
    path: '/api/sso/oidc',
    response: { 200: DataOf(SsoOidcConnection) },
  },
  ssoLogin: {
    method: 'get',
    path: '/sso/oidc/login',
    querystring: SsoLoginQuery,
    response: { 302: Type.Null({ description: 'Redirect to the provider' }) },
  },
  ssoCallback: {
    method: 'get',
    path: '/sso/oidc/callback',
    querystring: SsoCallbackQuery,
    response: {
      200: DataOf(SsoSignIn),
      302: Type.Null({ description: 'Console sign-in: redirect to the console' }),
    },
  },
  putSsoOidc: {
    method: 'put',
    path: '/api/sso/oidc',
    body: PutSsoOidcBody,
    response: { 200: DataOf(SsoOidcConnection) },
  },
  deleteSsoOidc: { method: 'delete', path: '/api/sso/oidc', response: { 204: NoContent } },
  // workspaces
  createWorkspace: {
    method: 'post',
    path: '/platform/workspaces',
    body: CreateWorkspaceBody,
    response: { 201: DataOf(CreatedWorkspace) },
  },
  listWorkspaces: {
    method: 'get',
    path: '/platform/workspaces',
    response: { 200: Type.Object({ data: Type.Array(Workspace) }) },
  },
  getAccessSnapshot: {
    method: 'get',
    path: '/api/access/snapshot',
    response: { 200: AccessSnapshotResponse },
  },
  getAccessSnapshotChanges: {
    method: 'get',
    path: '/api/access/snapshot/changes',
    querystring: AccessSnapshotChangesQuery,
    response: { 200: AccessSnapshotChangesResponse },
  },
  streamEvents: {
    method: 'get',
    path: '/api/events/stream',
    querystring: EventStreamQuery,
    response: { 200: EventStreamResponse },
  },
  exportWorkspace: {
    method: 'get',
    path: '/api/workspace/export',
    response: { 200: WorkspaceExportResponse },
  },
  applyWorkspace: {
    method: 'post',
    path: '/api/workspace/apply',
    querystring: ApplyWorkspaceQuery,
    body: WorkspaceDocument,
    response: { 200: ApplyWorkspaceResponse },
  },
  createWebhook: {
    method: 'post',
    path: '/api/webhooks',
    body: CreateWebhookBody,
    response: { 201: DataOf(WebhookWithSecret) },
  },
  listWebhooks: {
    method: 'get',
    path: '/api/webhooks',
    response: { 200: Type.Object({ data: Type.Array(Webhook) }) },
  },
  getWebhook: {
    method: 'get',
    path: '/api/webhooks/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Webhook) },
  },
  updateWebhook: {
    method: 'patch',
    path: '/api/webhooks/{id}',
    params: IntegerIdParams,
    body: UpdateWebhookBody,
    response: { 200: DataOf(Webhook) },
  },
  deleteWebhook: {
    method: 'delete',
    path: '/api/webhooks/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
  rotateWebhookSecret: {
    method: 'post',
    path: '/api/webhooks/{id}/rotate_secret',
    params: IntegerIdParams,
    response: { 200: DataOf(WebhookWithSecret) },
  },
  listWebhookDeliveries: {
    method: 'get',
    path: '/api/webhooks/{id}/deliveries',
    params: IntegerIdParams,
    querystring: ListWebhookDeliveriesQuery,
    response: { 200: PagedList(WebhookDelivery) },
  },
  redeliverWebhookDelivery: {
    method: 'post',
    path: '/api/webhooks/{id}/deliveries/{delivery_id}/redeliver',
    params: WebhookDeliveryParams,
    response: { 202: DataOf(WebhookDelivery) },
  },
  listAgents: {
    method: 'get',
    path: '/api/agents',
    querystring: ListAgentsQuery,
    response: { 200: PagedList(Agent) },
  },
  createAgent: {
    method: 'post',
    path: '/api/agents',
    body: CreateAgentBody,
    response: { 201: DataOf(AgentWithToken) },
  },
  getAgent: {
    method: 'get',
    path: '/api/agents/{id}',
    params: IntegerIdParams,
    response: { 200: DataOf(Agent) },
  },
  updateAgent: {
    method: 'patch',
    path: '/api/agents/{id}',
    params: IntegerIdParams,
    body: UpdateAgentBody,
    response: { 200: DataOf(Agent) },
  },
  rotateAgent: {
    method: 'post',
    path: '/api/agents/{id}/rotate',
    params: IntegerIdParams,
    response: { 200: DataOf(AgentWithToken) },
  },
  deleteAgent: {
    method: 'delete',
    path: '/api/agents/{id}',
    params: IntegerIdParams,
    response: { 204: NoContent },
  },
} as const satisfies Record<string, OperationSpec>;

/** A query-string value as callers hold it; empty ones are left out of the URL. */
export type QueryValue =
  string | number | boolean | undefined | null | readonly (string | number)[];

/**
 * An operation's URL: the path template's `{name}` parameters filled (encoded) and the query
 * appended, one `key=value` per array item. The console's client and the tests' `api.call` both
 * build their URLs here.
 */
export function buildPath(
  template: string,
  params: Readonly<Record<string, string | number>> = {},
  query: Readonly<Record<string, QueryValue>> = {},
): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`missing path parameter ${key}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const item of value) search.append(key, String(item));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text === '' ? filled : `${filled}?${text}`;
}
