/**
 * Effective access: the one module that computes what a collaborator may do. Environment
 * privileges come from the collaborator's role in each environment; project privileges are the
 * union of the project roles granted to them directly and to every group they belong to (the
 * system group "All collaborators" included), leaving out grants and memberships that have
 * expired, and of the legacy role they hold in the project's environment (a legacy role covers
 * every project of its environment, or the ones a custom role selects). Every answer comes from
 * the in-memory access index through its rules (privilege-evaluation.ts); nothing here queries
 * the database.
 */
import {
  ACCESS_CHECKS_PER_BATCH,
  ENVIRONMENT_RESOURCES,
  PROJECT_RESOURCES,
  describeRoleConfig,
  type ResourceDefinition,
  type AccessBatchBody,
  type AccessBatchResult,
  type AccessCheck,
  type AccessDecision,
  type AccessGrantPath,
  type AccessPath,
  type AccessStep,
  type AccessSubject,
  type LegacyPrivileges,
  type ListMemberAccessQuery,
  type MemberProjectAccess,
  type ProjectAccessEntry,
} from '@roster/contracts';

import { AppError, badRequest, notFound, reasonCode } from '../../lib/errors.js';
import { csvLine } from '../../lib/csv.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, type PageRequest, type Paged } from '../../lib/pagination.js';
import {
  canAccessProject,
  requireCollaboratorActor,
  requireEnvironmentAccess,
  requireProjectAccess,
} from '../../lib/scope.js';
import { resolveEndUserQuestion } from './end-user-decisions.js';
import { evaluateEndUser } from './end-user-index.js';
import { explainEndUser } from './end-user-explain.js';
import type { AccessIndex } from './access-index.js';
import type { DecisionObserver } from '../../lib/metrics.js';
import type {
  GrantEntry,
  LegacyProjectRole,
  MemberEntry,
  MembershipEntry,
  ProjectEntry,
  RoleEntry,
  WorkspaceIndex,
} from './workspace-index.js';
import {
  allowsEnvironment,
  allowsProject,
  environmentRoleAllows,
  legacyProjectsOf,
  legacyRoleIn,
  legacyRoleOn,
  liveGroupCount,
  roleIn,
  suspendedOnProject,
} from './privilege-evaluation.js';

export interface EnvironmentPrivileges {
  environment_type: string;
  name: string;
  role_type: 'privilege_group' | 'environment';
  privileges: LegacyPrivileges;
}

export interface ProjectsPrivileges {
  environment: { id: number; type: string };
  projects: Record<string, Record<string, string[]>>;
}

interface Reach {
  grant: GrantEntry;
  membership: MembershipEntry | null;
}

/** What reaches a member on one project now: grants, and the legacy role of its environment. */
interface ProjectReach {
  project: ProjectEntry;
  reaches: Reach[];
  legacy: RoleEntry | null;
}

/** The paths of an answer without `explain`: one shared, frozen empty list (no allocation per check). */
const NO_PATHS = Object.freeze([]) as unknown as AccessPath[];

/** The answers without `explain`, shared and frozen: a batch of 1,000 allocates none. */
const ALLOWED: AccessDecision = Object.freeze({ allowed: true, paths: NO_PATHS });
const DENIED: AccessDecision = Object.freeze({ allowed: false, paths: NO_PATHS });

/** A collaborator check once resource and privilege are known to be there. */
type PrivilegeCheck = AccessCheck & { resource: string; privilege: string };

function mergeInto(target: Record<string, string[]>, addition: Record<string, string[]>): void {
  for (const [resource, privileges] of Object.entries(addition)) {
    const merged = new Set([...(target[resource] ?? []), ...privileges]);
    target[resource] = [...merged];
  }
}

/**
 * Union of the roles' privileges: the legacy role's first, then the grants' in grant order
 * (created_at, id), so the lists read the same on every call.
 */
function privilegesOf(reaches: Reach[], legacy: RoleEntry | null = null): Record<string, string[]> {
  const sorted = [...reaches].sort((a, b) => compareGrants(a.grant, b.grant));
  const privileges: Record<string, string[]> = {};
  if (legacy !== null) mergeInto(privileges, legacy.described);
  for (const { grant } of sorted) mergeInto(privileges, grant.role.described);
  return privileges;
}

function compareGrants(a: GrantEntry, b: GrantEntry): number {
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const isExpired = (reach: Reach, nowMs: number): boolean =>
  reach.grant.expiresMs <= nowMs ||
  (reach.membership !== null && reach.membership.expiresMs <= nowMs);

function grantPath(reach: Reach, nowMs: number): AccessGrantPath {
  const { grant, membership } = reach;
  const group = grant.group;
  return {
    via: group === null ? 'direct_grant' : 'group_grant',
    project_grant: { id: grant.id, expires_at: grant.expiresAt, expired: grant.expiresMs <= nowMs },
    project_role: { id: grant.role.id, name: grant.role.name },
    user_group:
      group === null
        ? null
        : {
            id: group.id,
            name: group.name,
            system: group.system,
            membership_expires_at: membership?.expiresAt ?? null,
            membership_expired: membership !== null && membership.expiresMs <= nowMs,
          },
    expired: isExpired(reach, nowMs),
  };
}

const projectLabel = (project: ProjectEntry) => `project "${project.name}" (${project.id})`;

function describePrivileges(described: Record<string, string[]>): string {
  const parts = Object.entries(described).map(([label, list]) => `${label}: ${list.join(', ')}`);
  return parts.length === 0 ? 'nothing' : parts.join('; ');
}

/** The readable explanation of one project path, for admins. */
function explainReach(
  member: MemberEntry,
  reach: Reach,
  outcome: AccessPath['outcome'],
  check: { resource: string; privilege: string },
  nowMs: number,
): AccessPath {
  const { grant, membership } = reach;
  const group = grant.group;
  const privilege = `${check.resource}:${check.privilege}`;
  const grantExpired = grant.expiresMs <= nowMs;
  const membershipExpired = membership !== null && membership.expiresMs <= nowMs;
  const steps: AccessStep[] = [{ kind: 'member', id: member.id, name: member.email }];
  if (group !== null) {
    steps.push({
      kind: 'group',
      id: group.id,
      name: group.name,
      expires_at: membership?.expiresAt ?? null,
      expired: membershipExpired,
    });
  }
  steps.push(
    {
      kind: 'project_grant',
      id: grant.id,
      name: `${grant.role.name} on ${grant.project.name}`,
      expires_at: grant.expiresAt,
      expired: grantExpired,
    },
    { kind: 'project_role', id: grant.role.id, name: grant.role.name },
    { kind: 'privilege', id: null, name: privilege },
  );

  const through =
    group === null
      ? `${member.email} has project role "${grant.role.name}" on ${projectLabel(grant.project)} through a direct grant`
      : group.system
        ? `${member.email}, like every collaborator, is in group "${group.name}", which has project role "${grant.role.name}" on ${projectLabel(grant.project)}`
        : `${member.email} is a member of group "${group.name}", which has project role "${grant.role.name}" on ${projectLabel(grant.project)}`;
  let message: string;
  switch (outcome) {
    case 'grants':
      message = `${through}; the role allows ${privilege}.`;
      break;
    case 'expired': {
      const what = membershipExpired
        ? `the membership of group "${group?.name ?? ''}" expired at ${membership.expiresAt ?? ''}`
        : `the grant expired at ${grant.expiresAt ?? ''}`;
      message = `${through}; the role would allow ${privilege}, but ${what}.`;
      break;
    }
    default:
      message = `${through}, but the role does not allow ${privilege} (it allows ${describePrivileges(grant.role.described)}).`;
  }
  return { outcome, via: group === null ? 'direct_grant' : 'group_grant', message, steps };
}

/** A parsed check, resolved against the index; errors are AppErrors with the API's texts. */
function resolveSubject(index: WorkspaceIndex, subject: AccessSubject): MemberEntry {
  if (subject.member_id === undefined && subject.email === undefined) {
    throw badRequest('access.subject_missing', 'Give subject.member_id or subject.email');
  }
  const byId = subject.member_id === undefined ? undefined : index.memberById(subject.member_id);
  const byEmail =
    subject.email === undefined
      ? undefined
      : index.membersByEmail.get(subject.email.trim().toLowerCase());
  const member = byId ?? byEmail;
  if (member === undefined) throw notFound('member.not_found', 'Member not found');
  if (byId !== undefined && subject.email !== undefined && byEmail !== byId) {
    throw badRequest(
      'access.subject_mismatch',
      'subject.member_id and subject.email name different members',
    );
  }
  return member;
}

/** A check about an end user (and a feature) rather than a collaborator: see checkOne. */
export const isEndUserCheck = (check: AccessCheck): boolean =>
  check.feature_id !== undefined || check.subject.end_user_id !== undefined;

type Catalogue = ReadonlyMap<string, ReadonlySet<string>>;

function catalogueOf(resources: Readonly<Record<string, ResourceDefinition>>): Catalogue {
  return new Map(Object.entries(resources).map(([key, def]) => [key, new Set(def.privileges)]));
}

/** What a project check may name: the project roles' catalogue. */
const PROJECT_CATALOGUE = catalogueOf(PROJECT_RESOURCES);
/**
 * What an environment check may name: environment roles' resources, and the project resources,
 * which legacy roles grant environment-wide (`recipe:run`, `folder:view`).
 */
const ENVIRONMENT_CATALOGUE = catalogueOf({ ...ENVIRONMENT_RESOURCES, ...PROJECT_RESOURCES });

/**
 * A resource or privilege outside the catalogue can never be allowed: answering "not allowed"
 * would hide a typo (`recipe:bogus`), so it is a 400 that names the valid choices.
 */
function assertInCatalogue(check: PrivilegeCheck): void {
  const project = check.project_id !== undefined;
  const catalogue = project ? PROJECT_CATALOGUE : ENVIRONMENT_CATALOGUE;
  const privileges = catalogue.get(check.resource);
  if (privileges === undefined) {
    throw badRequest(
      'access.resource_unknown',
      `Unknown resource "${check.resource}" for ${project ? 'a project' : 'an environment'} check; valid resources: ${[...catalogue.keys()].join(', ')}`,
    );
  }
  if (!privileges.has(check.privilege)) {
    throw badRequest(
      'access.privilege_unknown',
      `Unknown privilege "${check.privilege}" for resource ${check.resource}; valid privileges: ${[...privileges].join(', ')}`,
    );
  }
}

/**
 * What the decisions read: the server's AccessIndex, or an index built from a snapshot in another
 * process (snapshot-index.ts, the SDK's local authorizer), so both answer with this same code.
 */
export type DecisionIndex = Pick<
  AccessIndex,
  'workspace' | 'endUsers' | 'nowMs' | 'ready' | 'readyEndUsers'
>;

export function createDecisionsService(deps: { index: DecisionIndex; observe?: DecisionObserver }) {
  const { index, observe } = deps;

  /** checkOne, counted and timed for /metrics: a clock read and two observations, nothing allocated. */
  const observedCheck: typeof checkOne =
    observe === undefined
      ? checkOne
      : (ctx, ws, input, nowMs) => {
          const started = performance.now();
          try {
            const decision = checkOne(ctx, ws, input, nowMs);
            const seconds = (performance.now() - started) / 1000;
            if (decision.allowed) observe.allowed(seconds);
            else observe.denied(seconds);
            return decision;
          } catch (error) {
            observe.failed((performance.now() - started) / 1000);
            throw error;
          }
        };

  function workspaceOf(ctx: RequestContext): WorkspaceIndex {
    const workspace = index.workspace(ctx.workspaceId);
    // Routes wait for `ready` first; only an eviction in between lands here (its retry reloads).
    if (workspace === undefined)
      throw new AppError(503, 'access.index_unavailable', 'The access index is not ready');
    return workspace;
  }

  function checkOne(
    ctx: RequestContext,
    ws: WorkspaceIndex,
    input: AccessCheck,
    nowMs: number,
  ): AccessDecision {
    if (isEndUserCheck(input)) return checkEndUser(ctx, ws, input);
    if (input.resource === undefined || input.privilege === undefined) {
      throw badRequest(
        'access.privilege_missing',
        'Give resource and privilege (or feature_id for an end user)',
      );
    }
    // Narrowed just above; a cast rather than a copy, as this runs for every check of a batch.
    const check = input as PrivilegeCheck;
    const member = resolveSubject(ws, check.subject);
    assertInCatalogue(check);
    const explain = check.explain === true;
    if (check.project_id !== undefined) {
      const project = ws.projects.get(check.project_id);
      if (project === undefined) throw notFound('project.not_found', 'Project not found');
      if (
        check.environment_type !== undefined &&
        check.environment_type !== project.environmentType
      ) {
        throw badRequest(
          'access.environment_mismatch',
          `Project ${project.id} is in the ${project.environmentType.toUpperCase()} environment, not ${check.environment_type.toUpperCase()}`,
        );
      }
      requireProjectAccess(ctx, project);
      const allowed = allowsProject(
        ws,
        member,
        project.id,
        ws.bitOf(check.resource, check.privilege),
        nowMs,
      );
      if (!explain) return allowed ? ALLOWED : DENIED;
      return { allowed, paths: explainProject(ws, member, project, check, allowed, nowMs) };
    }
    if (check.environment_type === undefined) {
      throw badRequest(
        'access.target_missing',
        'Give project_id, or environment_type for an environment-level check',
      );
    }
    const environment = ws.environmentsByType.get(check.environment_type);
    if (environment === undefined) {
      throw badRequest(
        'access.environment_unknown',
        `This workspace has no ${check.environment_type.toUpperCase()} environment`,
      );
    }
    // A collaborator's environment privileges are collaborator data: not for end-user sessions.
    requireCollaboratorActor(ctx);
    requireEnvironmentAccess(ctx, environment.type);
    const allowed = allowsEnvironment(ws, member, environment.id, check.resource, check.privilege);
    return {
      allowed,
      paths: explain ? [explainEnvironment(ws, member, environment, check, allowed)] : NO_PATHS,
    };
  }

  /** An end user and a feature (and tool): the end-user rule on the index's end-user slice. */
  function checkEndUser(
    ctx: RequestContext,
    ws: WorkspaceIndex,
    check: AccessCheck,
  ): AccessDecision {
    const { subject } = check;
    if (subject.member_id !== undefined) {
      throw badRequest(
        'access.subject_mixed',
        'A feature check is about an end user: give subject.end_user_id or subject.email, not member_id',
      );
    }
    if (subject.end_user_id === undefined && subject.email === undefined) {
      throw badRequest('access.subject_missing', 'Give subject.end_user_id or subject.email');
    }
    if (check.feature_id === undefined)
      throw badRequest('access.feature_missing', 'An end-user check needs feature_id');
    if (check.environment_type === undefined)
      throw badRequest('access.environment_missing', 'An end-user check needs environment_type');
    const slice = index.endUsers(ctx.workspaceId);
    if (slice === undefined)
      throw new AppError(503, 'access.index_unavailable', 'The access index is not ready');
    const { environment, user, feature } = resolveEndUserQuestion(
      slice,
      ws.environmentsByType,
      ctx,
      {
        end_user_id: subject.end_user_id,
        email: subject.email,
        environment_type: check.environment_type,
        feature_id: check.feature_id,
      },
    );
    const tool = check.tool ?? null;
    const outcome = evaluateEndUser(slice, user, environment, feature, tool);
    const allowed = outcome.kind === 'allow';
    return {
      allowed,
      paths:
        check.explain === true
          ? explainEndUser(slice, user, environment, feature, tool, outcome)
          : [],
    };
  }

  function explainProject(
    ws: WorkspaceIndex,
    member: MemberEntry,
    project: ProjectEntry,
    check: PrivilegeCheck,
    allowed: boolean,
    nowMs: number,
  ): AccessPath[] {
    if (suspendedOnProject(ws, member, project.id)) {
      const env = project.environmentType.toUpperCase();
      return [
        {
          outcome: 'denies',
          via: 'status',
          message: `${member.email} is deactivated by the identity provider (SCIM) in the ${env} environment, so no project grant on ${projectLabel(project)} counts until it reactivates them.`,
          steps: [
            { kind: 'member', id: member.id, name: member.email },
            { kind: 'environment', id: project.environmentId, name: project.environmentType },
          ],
        },
      ];
    }
    const bit = ws.bitOf(check.resource, check.privilege);
    const hasBit = (grant: GrantEntry) =>
      bit >= 0 && ((grant.role.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
    const reaches = ws
      .reachingGrants(member, project.id)
      .sort((a, b) => compareGrants(a.grant, b.grant));
    const granting: AccessPath[] = [];
    const expired: AccessPath[] = [];
    const lacking: AccessPath[] = [];
    for (const reach of reaches) {
      const gone = isExpired(reach, nowMs);
      if (hasBit(reach.grant))
        (gone ? expired : granting).push(
          explainReach(member, reach, gone ? 'expired' : 'grants', check, nowMs),
        );
      else if (!gone) lacking.push(explainReach(member, reach, 'lacks_privilege', check, nowMs));
    }
    const legacy = legacyRoleOn(ws, member, project.id);
    if (legacy !== undefined) {
      const bits = legacy.project.bits;
      const allows = bit >= 0 && ((bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
      (allows ? granting : lacking).push(explainLegacy(member, project, legacy, allows, check));
    }
    if (allowed) return granting;
    // Nearest first: an expired path that would grant it, then a live path with the wrong role.
    const misses = [...expired, ...lacking];
    if (misses.length > 0) return misses;
    // "All collaborators" counts: every member is in it, with no membership row.
    const groups = liveGroupCount(member, nowMs) + ws.systemGroups.length;
    const system = ws.systemGroups.map((g) => `"${g.name}"`).join(', ');
    const ofThem =
      groups === 1 && system !== ''
        ? `their one group, ${system}, which every collaborator is in`
        : `any of their ${groups} group${groups === 1 ? '' : 's'}${system === '' ? '' : ` (${system}, which every collaborator is in, included)`}`;
    const role = legacyRoleIn(ws, member, project.environmentId);
    const env = project.environmentType.toUpperCase();
    const legacyNote =
      role === undefined
        ? ''
        : role.project === null
          ? `; their legacy role "${role.name}" in the ${env} environment allows nothing on projects`
          : `; their legacy role "${role.name}" in the ${env} environment applies only to the projects it selects, and not to this one`;
    return [
      {
        outcome: 'no_access',
        via: 'none',
        message: `No project grant on ${projectLabel(project)} reaches ${member.email}: none to them directly, and none to ${ofThem}${legacyNote}.`,
        steps: [
          { kind: 'member', id: member.id, name: member.email },
          { kind: 'project', id: project.id, name: project.name },
        ],
      },
    ];
  }

  /** The path through the legacy role the member holds in the project's environment. */
  function explainLegacy(
    member: MemberEntry,
    project: ProjectEntry,
    legacy: LegacyProjectRole,
    allows: boolean,
    check: PrivilegeCheck,
  ): AccessPath {
    const privilege = `${check.resource}:${check.privilege}`;
    const env = project.environmentType.toUpperCase();
    const covers =
      legacy.projectIds === null
        ? 'which applies to every project of the environment'
        : 'which applies to the projects it selects';
    const through = `${member.email} has the legacy role "${legacy.name}" in the ${env} environment, ${covers}, ${projectLabel(project)} included`;
    return {
      outcome: allows ? 'grants' : 'lacks_privilege',
      via: 'legacy_role',
      message: allows
        ? `${through}; the role allows ${privilege}.`
        : `${through}, but the role does not allow ${privilege} (on projects it allows ${describePrivileges(legacy.project.described)}).`,
      steps: [
        { kind: 'member', id: member.id, name: member.email },
        { kind: 'environment', id: project.environmentId, name: project.environmentType },
        { kind: 'legacy_role', id: legacy.id, name: legacy.name },
        { kind: 'project', id: project.id, name: project.name },
        { kind: 'privilege', id: null, name: privilege },
      ],
    };
  }

  function explainEnvironment(
    ws: WorkspaceIndex,
    member: MemberEntry,
    environment: { id: number; type: string },
    check: PrivilegeCheck,
    allowed: boolean,
  ): AccessPath {
    const privilege = `${check.resource}:${check.privilege}`;
    const env = environment.type.toUpperCase();
    const assignment = roleIn(member, environment.id);
    const base: AccessStep[] = [
      { kind: 'member', id: member.id, name: member.email },
      { kind: 'environment', id: environment.id, name: environment.type },
    ];
    if (assignment === undefined) {
      return {
        outcome: 'no_access',
        via: 'none',
        message: `${member.email} has no role in the ${env} environment.`,
        steps: base,
      };
    }
    const legacy = assignment.roleType !== 'environment';
    const role = legacy
      ? ws.legacyRoles.get(assignment.legacyRoleId ?? -1)
      : ws.environmentRoles.get(assignment.environmentRoleId ?? -1);
    const name = role?.name ?? '';
    const steps: AccessStep[] = [
      ...base,
      { kind: legacy ? 'legacy_role' : 'environment_role', id: role?.id ?? null, name },
      { kind: 'privilege', id: null, name: privilege },
    ];
    const via = legacy ? 'legacy_role' : 'environment_role';
    const kind = legacy ? 'legacy role' : 'environment role';
    if (allowed || environmentRoleAllows(ws, assignment, check.resource, check.privilege)) {
      return {
        outcome: 'grants',
        via,
        message: `${member.email} has the ${kind} "${name}" in the ${env} environment, which allows ${privilege}.`,
        steps,
      };
    }
    const has =
      role === undefined
        ? 'nothing'
        : 'privileges' in role
          ? describePrivileges(role.privileges)
          : describePrivileges(describeRoleConfig(role.config, ENVIRONMENT_RESOURCES));
    return {
      outcome: 'lacks_privilege',
      via,
      message: `${member.email} has the ${kind} "${name}" in the ${env} environment, which does not allow ${privilege} (it allows ${has}).`,
      steps,
    };
  }

  /**
   * What reaches the member now, project by project, limited to the client's scope: active grants
   * and the legacy role of each project's environment. The privilege lists are made from this.
   */
  function activeReachesByProject(
    ctx: RequestContext,
    ws: WorkspaceIndex,
    member: MemberEntry,
    nowMs: number,
  ): Map<number, ProjectReach> {
    const byProject = new Map<number, ProjectReach>();
    const visible = (project: ProjectEntry) =>
      !suspendedOnProject(ws, member, project.id) &&
      canAccessProject(ctx, { id: project.id, environmentType: project.environmentType });
    for (const reach of ws.reachingGrants(member, null)) {
      if (isExpired(reach, nowMs)) continue;
      const project = reach.grant.project;
      const entry = byProject.get(project.id);
      if (entry !== undefined) entry.reaches.push(reach);
      else if (visible(project))
        byProject.set(project.id, { project, reaches: [reach], legacy: null });
    }
    for (const { project, role } of legacyProjectsOf(ws, member)) {
      const entry = byProject.get(project.id);
      if (entry !== undefined) entry.legacy = role.project;
      else if (visible(project))
        byProject.set(project.id, { project, reaches: [], legacy: role.project });
    }
    return byProject;
  }

  function projectAccessEntries(
    ws: WorkspaceIndex,
    project: ProjectEntry,
    nowMs: number,
  ): ProjectAccessEntry[] {
    const byMember = new Map<number, { member: MemberEntry; reaches: Reach[] }>();
    const add = (member: MemberEntry, reach: Reach) => {
      const entry = byMember.get(member.id);
      if (entry === undefined) byMember.set(member.id, { member, reaches: [reach] });
      else entry.reaches.push(reach);
    };
    for (const grant of ws.grantsOf(project)) {
      if (grant.member !== null) add(grant.member, { grant, membership: null });
      else if (grant.group?.system === true)
        for (const member of ws.members.values()) add(member, { grant, membership: null });
      else if (grant.group !== null)
        for (const membership of ws.membersOf(grant.group))
          add(membership.member, { grant, membership });
    }
    return [...byMember.values()]
      .sort((a, b) => a.member.id - b.member.id)
      .map(({ member, reaches }) => {
        const sorted = reaches.sort((a, b) => compareGrants(a.grant, b.grant));
        return {
          member: { id: member.id, name: member.name, email: member.email },
          // A member deactivated by the identity provider keeps their paths, not their privileges.
          privileges: suspendedOnProject(ws, member, project.id)
            ? {}
            : privilegesOf(
                sorted.filter((r) => !isExpired(r, nowMs)),
                legacyRoleOn(ws, member, project.id)?.project ?? null,
              ),
          paths: sorted.map((r) => grantPath(r, nowMs)),
        };
      });
  }

  return {
    /**
     * Undefined when the caller's workspace is loaded (with its end users for an end-user
     * question); else a promise of its load (a 503 with Retry-After when it fails or is slow).
     * Every route of this service awaits it first.
     */
    ready(ctx: RequestContext, endUsers = false): Promise<void> | undefined {
      return endUsers ? index.readyEndUsers(ctx.workspaceId) : index.ready(ctx.workspaceId);
    },

    check(ctx: RequestContext, check: AccessCheck): AccessDecision {
      return observedCheck(ctx, workspaceOf(ctx), check, index.nowMs());
    },

    /** Every check answered in order; one that cannot be answered carries its error, the rest still count. */
    checkBatch(ctx: RequestContext, body: AccessBatchBody): AccessBatchResult[] {
      if (body.checks.length > ACCESS_CHECKS_PER_BATCH) {
        throw badRequest(
          'access.batch_too_large',
          `A batch takes at most ${ACCESS_CHECKS_PER_BATCH} checks; this one has ${body.checks.length}`,
        );
      }
      const ws = workspaceOf(ctx);
      const nowMs = index.nowMs();
      // Counted for /metrics once for the whole batch (DecisionObserver.batch).
      const started = observe === undefined ? 0 : performance.now();
      let allowed = 0;
      let failed = 0;
      const results = body.checks.map((check): AccessBatchResult => {
        try {
          const decision = checkOne(ctx, ws, check, nowMs);
          if (decision.allowed) allowed += 1;
          return decision;
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          failed += 1;
          return {
            allowed: false,
            paths: [],
            error: { code: reasonCode(error.status), title: error.message },
          };
        }
      });
      if (observe !== undefined && results.length > 0) {
        const secondsPerCheck = (performance.now() - started) / 1000 / results.length;
        observe.batch(allowed, results.length - allowed - failed, failed, secondsPerCheck);
      }
      return results;
    },

    /** What a member can do, project by project, and through what (active paths only). */
    listMemberProjects(
      ctx: RequestContext,
      query: ListMemberAccessQuery,
      page: PageRequest,
    ): Paged<MemberProjectAccess> {
      const ws = workspaceOf(ctx);
      const member = resolveSubject(ws, { member_id: query.member_id, email: query.email });
      const nowMs = index.nowMs();
      const entries = [...activeReachesByProject(ctx, ws, member, nowMs).values()]
        .filter(
          ({ project }) =>
            query.environment_type === undefined ||
            project.environmentType === query.environment_type,
        )
        .sort((a, b) => a.project.id - b.project.id);
      const data = entries.slice(page.offset, page.offset + page.size).map((entry) => {
        const sorted = entry.reaches.sort((a, b) => compareGrants(a.grant, b.grant));
        const { project } = entry;
        return {
          project: {
            id: project.id,
            name: project.name,
            environment: { id: project.environmentId, type: project.environmentType },
          },
          privileges: privilegesOf(sorted, entry.legacy),
          // Grant paths only: a legacy role is not a grant (POST /api/access/check explains it).
          paths: sorted.map((r) => grantPath(r, nowMs)),
        };
      });
      return paged(data, entries.length, page);
    },

    /** Who a grant on the project reaches, with what they can do now and every path, expired ones marked. */
    projectAccess(
      ctx: RequestContext,
      projectId: number,
      page: PageRequest | null,
    ): Paged<ProjectAccessEntry> {
      const ws = workspaceOf(ctx);
      const project = ws.projects.get(projectId);
      if (project === undefined) throw notFound('project.not_found', 'Project not found');
      requireProjectAccess(ctx, { id: project.id, environmentType: project.environmentType });
      const entries = projectAccessEntries(ws, project, index.nowMs());
      if (page === null)
        return { data: entries, total: entries.length, page: { number: 1, size: entries.length } };
      return paged(entries.slice(page.offset, page.offset + page.size), entries.length, page);
    },

    /** Each environment's role and everything it allows, in the reference API's shape. */
    memberPrivileges(ctx: RequestContext, memberId: number): EnvironmentPrivileges[] {
      const ws = workspaceOf(ctx);
      const member = ws.members.get(memberId);
      return ws.environments.map((environment): EnvironmentPrivileges => {
        const role = member === undefined ? undefined : roleIn(member, environment.id);
        if (role === undefined) {
          return {
            environment_type: environment.type,
            name: 'No access',
            role_type: 'privilege_group',
            privileges: {},
          };
        }
        if (role.roleType === 'environment') {
          const entry =
            role.environmentRoleId === null
              ? undefined
              : ws.environmentRoles.get(role.environmentRoleId);
          return {
            environment_type: environment.type,
            name: entry?.name ?? '',
            role_type: 'environment',
            privileges: describeRoleConfig(entry?.config ?? {}, ENVIRONMENT_RESOURCES),
          };
        }
        const legacy =
          role.legacyRoleId === null ? undefined : ws.legacyRoles.get(role.legacyRoleId);
        return {
          environment_type: environment.type,
          name: legacy?.name ?? '',
          role_type: 'privilege_group',
          privileges: legacy?.privileges ?? {},
        };
      });
    },

    /** Project privileges per environment, direct and through groups; only environments with projects. */
    memberProjectsPrivileges(ctx: RequestContext, memberId: number): ProjectsPrivileges[] {
      const ws = workspaceOf(ctx);
      const member = ws.members.get(memberId);
      if (member === undefined) return [];
      const byProject = activeReachesByProject(ctx, ws, member, index.nowMs());
      const projects = [...byProject.values()]
        .map((entry) => entry.project)
        .sort((a, b) => a.environmentId - b.environmentId || a.id - b.id);
      const byEnvironment = new Map<number, ProjectsPrivileges>();
      for (const project of projects) {
        let entry = byEnvironment.get(project.environmentId);
        if (entry === undefined) {
          entry = {
            environment: { id: project.environmentId, type: project.environmentType },
            projects: {},
          };
          byEnvironment.set(project.environmentId, entry);
        }
        const reach = byProject.get(project.id);
        entry.projects[String(project.id)] = privilegesOf(reach?.reaches ?? [], reach?.legacy);
      }
      return [...byEnvironment.values()];
    },
  };
}
export type DecisionsService = ReturnType<typeof createDecisionsService>;

/** CSV of a project's access review: one row per path (the shared writer neutralises formulas). */
export function projectAccessCsv(entries: ProjectAccessEntry[]): string {
  const header = [
    'member_id',
    'member_name',
    'member_email',
    'via',
    'user_group_id',
    'user_group_name',
    'project_role_id',
    'project_role_name',
    'project_grant_id',
    'grant_expires_at',
    'membership_expires_at',
    'expired',
    'privileges_now',
  ];
  const lines = [csvLine(header)];
  for (const entry of entries) {
    const privileges = Object.entries(entry.privileges)
      .map(([label, list]) => `${label}: ${list.join(' ')}`)
      .join('; ');
    for (const path of entry.paths) {
      lines.push(
        csvLine([
          entry.member.id,
          entry.member.name,
          entry.member.email,
          path.via,
          path.user_group?.id ?? '',
          path.user_group?.name ?? '',
          path.project_role.id,
          path.project_role.name,
          path.project_grant.id,
          path.project_grant.expires_at ?? '',
          path.user_group?.membership_expires_at ?? '',
          path.expired ? 'true' : 'false',
          privileges,
        ]),
      );
    }
  }
  return lines.join('');
}
