/**
 * The console's API client: same-origin fetch with the session cookie, the CSRF token on every
 * write, and the error text of the API's error bodies. Types come from @roster/contracts, the
 * TypeBox schemas the server validates with and publishes as OpenAPI.
 */
import type { Static, TSchema } from 'typebox';
import type {
  AccessDecision,
  Agent,
  AgentWithToken,
  ApiClient,
  ApiClientWithToken,
  ApprovalRequest,
  AuditEvent,
  CollaboratorGroup,
  ConsoleSession,
  ConsoleSsoStatus,
  DataOf,
  Decision,
  EndUser,
  EndUserDetail,
  EndUserGroup,
  EndUserGroupMember,
  EnvironmentRole,
  EnvironmentRoleSummary,
  Feature,
  FeatureGrant,
  GroupDeletionImpact,
  GroupMember,
  Invitation,
  InvitationPreview,
  LegacyRole,
  Member,
  PagedList,
  Policy,
  Project,
  ProjectAccessEntry,
  ProjectGrantInProject,
  ProjectRole,
  ProjectRoleSummary,
  ScimConnection,
  ScimConnectionWithToken,
  SetupStatus,
} from '@roster/contracts';
import { OPERATIONS, type OperationName } from './paths';

// The screens import the item types (Member, EndUser, Feature…) from here, as the server names them.
export type * from '@roster/contracts';

/**
 * An answer as the server's response schema says (`PagedList(…)`, `DataOf(…)` from
 * @roster/contracts, the same schemas the server serialises with), so the console's types cannot
 * drift from what the routes send.
 */
type Paged<S extends TSchema> = Static<ReturnType<typeof PagedList<S>>>;
type Data<S extends TSchema> = Static<ReturnType<typeof DataOf<S>>>;

/** A grant in a project's grant list. */
export type ProjectGrantRow = Static<typeof ProjectGrantInProject>;
/** What deleting an end-user group would take away from whom (the dry run). */
export type DeletionImpact = Static<typeof GroupDeletionImpact>;

/** What each operation answers: the route's response schema in the OpenAPI document. */
export interface Responses {
  getSession: Data<typeof ConsoleSession>;
  signIn: Data<typeof ConsoleSession>;
  getSetup: Data<typeof SetupStatus>;
  getSso: Data<typeof ConsoleSsoStatus>;
  previewInvitation: Data<typeof InvitationPreview>;
  acceptInvitationWithPassword: Data<typeof Member>;
  listEndUsers: Paged<typeof EndUser>;
  getEndUser: Data<typeof EndUserDetail>;
  createEndUser: Data<typeof EndUser>;
  lockEndUser: Data<typeof EndUser>;
  unlockEndUser: Data<typeof EndUser>;
  decide: Data<typeof Decision>;
  listEndUserGroups: Paged<typeof EndUserGroup>;
  createEndUserGroup: Data<typeof EndUserGroup>;
  getEndUserGroup: Data<typeof EndUserGroup>;
  updateEndUserGroup: Data<typeof EndUserGroup>;
  /** The impact with `dry_run=true`; 204 (no body) otherwise. */
  deleteEndUserGroup: Data<typeof GroupDeletionImpact> | null;
  listEndUserGroupMembers: Paged<typeof EndUserGroupMember>;
  listFeatures: Paged<typeof Feature>;
  createFeature: Data<typeof Feature>;
  getFeature: Data<typeof Feature>;
  updateFeature: Data<typeof Feature>;
  /** Not paged: every grant of the feature. */
  listFeatureAccess: { data: FeatureGrant[] };
  listPolicies: Paged<typeof Policy>;
  createPolicy: Data<typeof Policy>;
  listApprovals: Paged<typeof ApprovalRequest>;
  listAgents: Paged<typeof Agent>;
  createAgent: Data<typeof AgentWithToken>;
  updateAgent: Data<typeof Agent>;
  rotateAgent: Data<typeof AgentWithToken>;
  listMembers: Paged<typeof Member>;
  listUserGroups: Paged<typeof CollaboratorGroup>;
  createUserGroup: Data<typeof CollaboratorGroup>;
  listUserGroupMembers: Paged<typeof GroupMember>;
  listInvitations: Paged<typeof Invitation>;
  listEnvironmentRoles: Paged<typeof EnvironmentRoleSummary>;
  getEnvironmentRole: Data<typeof EnvironmentRole>;
  listProjectRoles: Paged<typeof ProjectRoleSummary>;
  getProjectRole: Data<typeof ProjectRole>;
  listLegacyRoles: Paged<typeof LegacyRole>;
  listProjects: Paged<typeof Project>;
  createProject: Data<typeof Project>;
  getProject: Data<typeof Project>;
  listProjectGrants: Paged<typeof ProjectGrantInProject>;
  projectAccess: Paged<typeof ProjectAccessEntry>;
  accessCheck: Data<typeof AccessDecision>;
  listApiClients: Paged<typeof ApiClient>;
  createApiClient: Data<typeof ApiClientWithToken>;
  rotateApiClient: Data<typeof ApiClientWithToken>;
  listAuditEvents: Paged<typeof AuditEvent>;
  listScimConnections: { data: ScimConnection[] };
  createScimConnection: Data<typeof ScimConnectionWithToken>;
  rotateScimToken: Data<typeof ScimConnectionWithToken>;
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
