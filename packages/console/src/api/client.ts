/**
 * The console's API client: same-origin fetch with the session cookie, the CSRF token on every
 * write, and the error text of the API's error bodies. Types come from @roster/contracts, the
 * TypeBox schemas the server validates with and publishes as OpenAPI.
 */
import type {
  AccessDecision,
  ApiClient,
  ApprovalRequest,
  AuditEvent,
  CollaboratorGroup,
  ConsoleSession,
  Decision,
  EndUser,
  EndUserDetail,
  EndUserGroup,
  EndUserGroupMember,
  EnvironmentRole,
  EnvironmentRoleSummary,
  Feature,
  FeatureGrant,
  Invitation,
  LegacyRole,
  Member,
  Policy,
  Project,
  ProjectAccessEntry,
  ProjectRole,
  ProjectRoleSummary,
  ScimConnection,
  ScimConnectionWithToken,
} from '@roster/contracts';
import { OPERATIONS, type OperationName } from './paths';

export type {
  AccessDecision,
  ApiClient,
  ApprovalRequest,
  AuditEvent,
  CollaboratorGroup,
  ConsoleSession,
  Decision,
  EndUser,
  EndUserDetail,
  EndUserGroup,
  EndUserGroupMember,
  EnvironmentRole,
  EnvironmentRoleSummary,
  Feature,
  FeatureGrant,
  Invitation,
  LegacyRole,
  Member,
  Policy,
  Project,
  ProjectAccessEntry,
  ProjectRole,
  ProjectRoleSummary,
  ScimConnection,
  ScimConnectionWithToken,
};

export interface Paged<T> {
  data: T[];
  total: number;
  page: { number: number; size: number };
}

export interface GroupMember {
  user_id: number | null;
  member_invitation_id: number | null;
  name: string;
  email: string;
  type: 'User' | 'MemberInvitation';
  joined_at: string;
}

export interface ProjectGrantRow {
  id: string;
  project_role: { id: string; name: string };
  user: { id: number; name: string; email: string } | null;
  user_group: { id: string; name: string; system: boolean } | null;
  expires_at: string | null;
  expired: boolean;
}

export interface DeletionImpact {
  dry_run: true;
  group: { id: number; name: string; environment_type: string };
  feature_grants: { id: number; name: string; kind: string }[];
  policies: { id: number; name: string; effect: string }[];
  users: {
    id: number;
    name: string;
    email: string;
    loses: { type: 'feature_grant' | 'policy'; id: number; name: string; effect: string | null }[];
  }[];
}

/** What each operation answers (the body, as the OpenAPI document describes it). */
export interface Responses {
  getSession: { data: ConsoleSession };
  signIn: { data: ConsoleSession };
  getSetup: { data: { setup_required: boolean } };
  getSso: { data: { available: boolean; login_url: string | null } };
  previewInvitation: {
    data: {
      name: string;
      email: string;
      workspace: { id: number; name: string };
      expires_at: string;
    };
  };
  acceptInvitationWithPassword: { data: Member };
  listEndUsers: Paged<EndUser>;
  getEndUser: { data: EndUserDetail };
  createEndUser: { data: EndUser };
  lockEndUser: { data: EndUser };
  unlockEndUser: { data: EndUser };
  decide: { data: Decision };
  listEndUserGroups: Paged<EndUserGroup>;
  createEndUserGroup: { data: EndUserGroup };
  getEndUserGroup: { data: EndUserGroup };
  updateEndUserGroup: { data: EndUserGroup };
  deleteEndUserGroup: { data: DeletionImpact } | null;
  listEndUserGroupMembers: Paged<EndUserGroupMember>;
  listFeatures: Paged<Feature>;
  createFeature: { data: Feature };
  getFeature: { data: Feature };
  listFeatureAccess: Paged<FeatureGrant>;
  listPolicies: Paged<Policy>;
  createPolicy: { data: Policy };
  listApprovals: Paged<ApprovalRequest>;
  listMembers: Paged<Member>;
  listUserGroups: Paged<CollaboratorGroup>;
  createUserGroup: { data: CollaboratorGroup };
  listUserGroupMembers: Paged<GroupMember>;
  listInvitations: Paged<Invitation>;
  listEnvironmentRoles: Paged<EnvironmentRoleSummary>;
  getEnvironmentRole: { data: EnvironmentRole };
  listProjectRoles: Paged<ProjectRoleSummary>;
  getProjectRole: { data: ProjectRole };
  listLegacyRoles: Paged<LegacyRole>;
  listProjects: Paged<Project>;
  createProject: { data: Project };
  getProject: { data: Project };
  listProjectGrants: Paged<ProjectGrantRow>;
  projectAccess: Paged<ProjectAccessEntry>;
  accessCheck: { data: AccessDecision };
  listApiClients: Paged<ApiClient>;
  createApiClient: { data: ApiClient & { token: string } };
  rotateApiClient: { data: ApiClient & { token: string } };
  listAuditEvents: Paged<AuditEvent>;
  listScimConnections: { data: ScimConnection[] };
  createScimConnection: { data: ScimConnectionWithToken };
  rotateScimToken: { data: ScimConnectionWithToken };
}
export type ResponseOf<N extends OperationName> = N extends keyof Responses
  ? Responses[N]
  : unknown;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)roster_csrf=([^;]+)/.exec(document.cookie);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

export type Query = Record<
  string,
  string | number | boolean | undefined | null | readonly (string | number)[]
>;

export function buildPath(
  template: string,
  params: Record<string, string | number> = {},
  query: Query = {},
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

function errorText(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const record = body as { errors?: { title?: string }[]; message?: string };
    const title = record.errors?.[0]?.title ?? record.message;
    if (typeof title === 'string') return title;
  }
  if (status === 0) return 'The server cannot be reached';
  return `The server answered ${status}`;
}

/** Called on 401 so the app can go back to the sign-in page. */
let onSignedOut: (() => void) | undefined;
export function setSignedOutHandler(handler: () => void): void {
  onSignedOut = handler;
}

export async function call<N extends OperationName>(
  name: N,
  options: { params?: Record<string, string | number>; query?: Query; body?: unknown } = {},
): Promise<ResponseOf<N>> {
  const [method, template] = OPERATIONS[name];
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'get') {
    const token = csrfToken();
    if (token !== undefined) headers['x-csrf-token'] = token;
  }
  let response: Response;
  try {
    response = await fetch(buildPath(template, options.params, options.query), {
      method: method.toUpperCase(),
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached');
  }
  const text = await response.text();
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    if (
      response.status === 401 &&
      !name.startsWith('signIn') &&
      name !== 'getSession' &&
      name !== 'setup'
    )
      onSignedOut?.();
    throw new ApiError(response.status, errorText(response.status, body));
  }
  return body as ResponseOf<N>;
}
