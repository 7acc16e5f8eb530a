/**
 * Declarative workspace configuration (docs/integration.md#cli): export a workspace's roles,
 * groups, projects, grants, end-user groups, features and policies as a document of names, and
 * apply such a document — create what is missing, update what differs, delete what the document
 * leaves out — in one transaction. Every change goes through the owning module's service, so its
 * validation rules and audit events (and with them the decision index) are the same as for the
 * API call a person would make; this module only decides which calls to make, in which order.
 *
 * Built-in objects are never exported nor deleted, and the document may not define them: the
 * system roles and groups, each environment's `Everyone` end-user group, and the groups a SCIM
 * connection manages. A document may refer to them (a grant to `All collaborators`).
 *
 * A policy carries its approver chain (collaborators by email, end-user groups by name); an MCP
 * server feature its upstream's URL and header names, never the header values (secrets): apply
 * sets the URL and leaves the stored values alone, and refuses a name that has no value there.
 */
import type { SecretBox } from '../../lib/secret-box.js';
import type {
  PlanKind,
  PlanStep,
  ProjectRef,
  RoleConfig,
  RoleInput,
  WorkspaceDocument,
} from '@roster/contracts';
import { WORKSPACE_DOCUMENT_VERSION } from '@roster/contracts';
import type { Transaction } from 'kysely';
import type { Database, Db } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { isoNow, toStoredTimestamp, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, conflict } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { requireWorkspaceAdmin } from '../../lib/scope.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { ensureEveryoneGroups } from '../memberships/memberships.repository.js';
import { createRolesService, legacyRoleKey } from '../roles/roles.service.js';
import { createGroupsService } from '../groups/groups.service.js';
import { createProjectsService } from '../projects/projects.service.js';
import { createGrantsService } from '../grants/grants.service.js';
import { createEndUserGroupsService } from '../end-user-groups/end-user-groups.service.js';
import { createFeaturesService } from '../features/features.service.js';
import { checkUpstreamUrl } from '../features/features.upstream.js';
import { createPoliciesService } from '../policies/policies.service.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../storage/errors.js';
import { readWorkspaceState, type WorkspaceState } from './workspace-config.repository.js';

export interface ApplyResult {
  dry_run: boolean;
  applied: boolean;
  steps: PlanStep[];
  summary: Record<string, { create: number; update: number; delete: number }>;
}

/** Thrown out of the transaction of a dry run, so that everything it did is rolled back. */
class DryRunRollback extends Error {
  constructor(readonly steps: PlanStep[]) {
    super('dry run');
  }
}

const key = (name: string) => name.trim().toLowerCase();
const envKey = (environment: string, name: string) => `${environment}\u0000${key(name)}`;
/** Project names are not unique in the database: the document names them exactly. */
const projectKey = (ref: ProjectRef) => `${ref.environment}\u0000${ref.name.trim()}`;
const projectLabel = (ref: ProjectRef) => `${ref.environment}/${ref.name.trim()}`;

/** JSON with object keys sorted: two configs that differ only in key order are the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === 'object' && inner !== null && !Array.isArray(inner)
      ? Object.fromEntries(
          Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : inner,
  );
}
const sameJson = (a: unknown, b: unknown) => canonical(a) === canonical(b);
const sameSet = <T>(a: readonly T[], b: readonly T[]) => {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((item) => right.has(item));
};
const sortedUnique = (values: readonly string[]) =>
  [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const byKey = <T>(items: readonly T[], keyOf: (item: T) => string) => {
  const sorted = items.map((item) => [keyOf(item), item] as const);
  sorted.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.map(([, item]) => item);
};
const timestamp = (value: string | null) => (value === null ? null : toStoredTimestamp(value));

/**
 * A service's error, told where in the document it comes from: `/roles/2: Privileges have …`.
 * A constraint the database enforces and the service's own checks did not see (they read before
 * another transaction committed the same name, or deleted what this one refers to) is a change
 * made concurrently with the apply: a 409 naming the step, not the storage layer's generic one.
 */
async function atStep<T>(
  path: string,
  step: PlanStep | undefined,
  run: () => Promise<T>,
  /** A finer place for some errors, by their code (a policy's chain errors: its approval_steps). */
  refine?: (code: string) => string | undefined,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AppError && error.status < 500 && !error.message.startsWith('/'))
      throw new AppError(
        error.status,
        error.code,
        `${refine?.(error.code) ?? path}: ${error.message}`,
        error.headers,
      );
    if (isUniqueViolation(error) || isForeignKeyViolation(error)) {
      const what = step === undefined ? 'this step' : `${step.action} ${step.kind} "${step.name}"`;
      throw conflict(
        'workspace_config.concurrent_change',
        `${path}: could not ${what}: another request changed the same object while this apply ran (${isUniqueViolation(error) ? 'it now exists' : 'an object it refers to was deleted'}). Nothing was applied; export the workspace again and re-run the apply.`,
      );
    }
    throw error;
  }
}

const unknownReference = (path: string, message: string) =>
  badRequest('workspace_config.reference_unknown', `${path}: ${message}`);

/**
 * The executor the modules' services get during an apply: the apply's transaction, where their own
 * `db.transaction().execute(fn)` runs `fn` in it instead of opening another (Kysely refuses nested
 * transactions, and SQLite has one connection). Each service's writes stay atomic as before; the
 * whole apply commits or rolls back as one.
 */
function joinedTransaction(trx: Transaction<Database>): Db {
  const join = {
    execute: <T>(run: (inner: Transaction<Database>) => Promise<T>): Promise<T> => run(trx),
  };
  return new Proxy(trx, {
    get(target, property) {
      if (property === 'transaction') return () => join;
      const value: unknown = Reflect.get(target, property, target);
      // Kysely's methods use private fields: they must run on the transaction, not the proxy.
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

class Plan {
  readonly steps: PlanStep[] = [];
  add(action: PlanStep['action'], kind: PlanKind, name: string): void {
    this.steps.push({ action, kind, name });
  }
}

function summarise(steps: readonly PlanStep[]): ApplyResult['summary'] {
  const summary: ApplyResult['summary'] = {};
  for (const step of steps) {
    const counts = (summary[step.kind] ??= { create: 0, update: 0, delete: 0 });
    counts[step.action] += 1;
  }
  return summary;
}

/** The document a workspace's state is: only what it defines, sorted, references by name. */
function toDocument(state: WorkspaceState, now: string): WorkspaceDocument {
  const seen = new Map<string, number>();
  for (const project of state.projects) {
    const ref = projectKey(project);
    if (seen.has(ref))
      throw conflict(
        'workspace_config.project_ambiguous',
        `Two projects are named "${project.name}" in the ${project.environment.toUpperCase()} environment: rename one, since the document names projects by environment and name`,
      );
    seen.set(ref, project.id);
  }
  const projectById = new Map(state.projects.map((p) => [p.id, p]));
  const projectRef = (id: number): ProjectRef => {
    const project = projectById.get(id);
    return { environment: project?.environment ?? '', name: project?.name ?? String(id) };
  };
  const projectRoleName = new Map(state.projectRoles.map((r) => [r.id, r.name]));
  const groupName = new Map(state.groups.map((g) => [g.id, g.name]));
  const endUserGroupName = new Map(state.endUserGroups.map((g) => [g.id, g.name]));
  const endUserEmail = new Map(state.endUsers.map((u) => [u.id, u.email]));
  const memberEmail = new Map(state.members.map((m) => [m.id, m.email]));
  const featureName = new Map(state.features.map((f) => [f.id, f.name]));
  const names = (ids: readonly number[], map: Map<number, string>) =>
    sortedUnique(ids.map((id) => map.get(id) ?? String(id)));

  const grants = state.grants
    // An expired grant gives nothing and could not be applied again (expiry must be in the future).
    .filter((grant) => grant.expiresAt === null || grant.expiresAt > now)
    .map((grant) => ({
      project: projectRef(grant.projectId),
      role: projectRoleName.get(grant.roleId) ?? grant.roleId,
      ...(grant.groupId === null ? {} : { group: groupName.get(grant.groupId) ?? grant.groupId }),
      ...(grant.memberEmail === null ? {} : { user: grant.memberEmail }),
      expires_at: grant.expiresAt,
    }));

  return {
    version: WORKSPACE_DOCUMENT_VERSION,
    roles: byKey(
      state.legacyRoles.filter((r) => !r.system),
      (r) => r.nameKey,
    ).map((role) => ({
      name: role.name,
      privileges: fromJson(role.privileges),
      project_access: role.projectAccess === 'selected' ? 'selected' : 'all',
      projects:
        role.projectAccess === 'selected'
          ? byKey(role.projectIds.map(projectRef), projectLabel)
          : [],
    })),
    environment_roles: byKey(
      state.environmentRoles.filter((r) => !r.system),
      (r) => r.nameKey,
    ).map((role) => ({ name: role.name, config: fromJson<RoleConfig>(role.config) })),
    project_roles: byKey(
      state.projectRoles.filter((r) => !r.system),
      (r) => r.nameKey,
    ).map((role) => ({ name: role.name, config: fromJson<RoleConfig>(role.config) })),
    groups: byKey(
      state.groups.filter((g) => !g.builtIn),
      (g) => g.nameKey,
    ).map((group) => ({ name: group.name, description: group.description })),
    projects: byKey(state.projects, (p) => projectKey(p)).map((project) => ({
      environment: project.environment,
      name: project.name,
      description: project.description,
    })),
    grants: byKey(grants, (g) =>
      [projectKey(g.project), key(g.role), g.group === undefined ? '' : key(g.group), g.user ?? '']
        .map((part) => part.toLowerCase())
        .join('\u0001'),
    ),
    end_user_groups: byKey(
      state.endUserGroups.filter((g) => !g.builtIn),
      (g) => envKey(g.environment, g.name),
    ).map((group) => ({
      environment: group.environment,
      name: group.name,
      description: group.description,
      roles: sortedUnique(
        fromJson<string[]>(group.roles),
      ) as WorkspaceDocument['end_user_groups'][number]['roles'],
      members: names(group.memberIds, endUserEmail),
    })),
    features: byKey(state.features, (f) => envKey(f.environment, f.name)).map((feature) => ({
      environment: feature.environment,
      kind: feature.kind as WorkspaceDocument['features'][number]['kind'],
      name: feature.name,
      description: feature.description,
      access: {
        groups: names(feature.groupIds, endUserGroupName),
        end_users: names(feature.endUserIds, endUserEmail),
      },
      // The URL and header names only: header values are secrets and never leave the server.
      ...(feature.upstream === null
        ? {}
        : {
            upstream: {
              url: feature.upstream.url,
              header_names: sortedUnique(feature.upstream.headerNames),
            },
          }),
    })),
    policies: byKey(state.policies, (p) => envKey(p.environment, p.name)).map((policy) => ({
      environment: policy.environment,
      feature: featureName.get(policy.featureId) ?? String(policy.featureId),
      name: policy.name,
      description: policy.description,
      tools: fromJson<string[]>(policy.tools),
      scope: {
        type: policy.scopeType as WorkspaceDocument['policies'][number]['scope']['type'],
        targets:
          policy.scopeType === 'users'
            ? names(policy.userIds, endUserEmail)
            : policy.scopeType === 'groups'
              ? names(policy.groupIds, endUserGroupName)
              : [],
      },
      effect: policy.effect as WorkspaceDocument['policies'][number]['effect'],
      ...(policy.chain.length === 0
        ? {}
        : {
            approval_steps: policy.chain.map((step) => ({
              collaborators: names(step.member_ids, memberEmail),
              end_user_groups: names(step.group_ids, endUserGroupName),
            })),
          }),
    })),
  };
}

/** A document entry's key, unique within its list: a repeated name is refused with both paths. */
function assertUnique<T>(
  list: readonly T[],
  path: string,
  keyOf: (item: T) => string,
  label: (item: T) => string,
) {
  const first = new Map<string, number>();
  list.forEach((item, index) => {
    const k = keyOf(item);
    const earlier = first.get(k);
    if (earlier !== undefined)
      throw badRequest(
        'workspace_config.duplicate',
        `/${path}/${index}: ${label(item)} is already defined at /${path}/${earlier}`,
      );
    first.set(k, index);
  });
}

/**
 * What can be checked before anything changes: known environments, no name twice, no built-in
 * object defined, and every reference to something the document defines or the workspace keeps
 * (built-ins, collaborators and end users by email). The modules check the rest as they apply.
 */
function checkDocument(doc: WorkspaceDocument, state: WorkspaceState): void {
  const environments = new Set(state.environments.map((env) => env.type));
  const environment = (path: string, type: string) => {
    if (!environments.has(type))
      throw unknownReference(`${path}/environment`, `Environment ${type} not found`);
  };
  doc.projects.forEach((p, i) => {
    environment(`/projects/${i}`, p.environment);
  });
  doc.end_user_groups.forEach((g, i) => {
    environment(`/end_user_groups/${i}`, g.environment);
  });
  doc.features.forEach((f, i) => {
    environment(`/features/${i}`, f.environment);
  });
  doc.policies.forEach((p, i) => {
    environment(`/policies/${i}`, p.environment);
  });

  assertUnique(
    doc.roles,
    'roles',
    (r) => legacyRoleKey(r.name),
    (r) => `Role ${r.name}`,
  );
  assertUnique(
    doc.environment_roles,
    'environment_roles',
    (r) => key(r.name),
    (r) => `Role ${r.name}`,
  );
  assertUnique(
    doc.project_roles,
    'project_roles',
    (r) => key(r.name),
    (r) => `Role ${r.name}`,
  );
  assertUnique(
    doc.groups,
    'groups',
    (g) => key(g.name),
    (g) => `Group ${g.name}`,
  );
  assertUnique(doc.projects, 'projects', projectKey, (p) => `Project ${projectLabel(p)}`);
  assertUnique(
    doc.end_user_groups,
    'end_user_groups',
    (g) => envKey(g.environment, g.name),
    (g) => `Group ${g.environment}/${g.name}`,
  );
  assertUnique(
    doc.features,
    'features',
    (f) => envKey(f.environment, f.name),
    (f) => `Feature ${f.environment}/${f.name}`,
  );
  assertUnique(
    doc.policies,
    'policies',
    (p) => envKey(p.environment, p.name),
    (p) => `Policy ${p.environment}/${p.name}`,
  );

  const builtIn = (path: string, what: string, found: boolean) => {
    if (found)
      throw badRequest(
        'workspace_config.built_in',
        `${path}/name: ${what} is built in (a system object, or managed by a SCIM connection); the document defines custom objects only`,
      );
  };
  const systemLegacy = new Set(state.legacyRoles.filter((r) => r.system).map((r) => r.nameKey));
  doc.roles.forEach((r, i) => {
    builtIn(`/roles/${i}`, `Role ${r.name}`, systemLegacy.has(legacyRoleKey(r.name)));
  });
  const systemEnvRoles = new Set(
    state.environmentRoles.filter((r) => r.system).map((r) => r.nameKey),
  );
  doc.environment_roles.forEach((r, i) => {
    builtIn(`/environment_roles/${i}`, `Role ${r.name}`, systemEnvRoles.has(key(r.name)));
  });
  const systemProjectRoles = new Set(
    state.projectRoles.filter((r) => r.system).map((r) => r.nameKey),
  );
  doc.project_roles.forEach((r, i) => {
    builtIn(`/project_roles/${i}`, `Role ${r.name}`, systemProjectRoles.has(key(r.name)));
  });
  const builtInGroups = new Set(state.groups.filter((g) => g.builtIn).map((g) => g.nameKey));
  doc.groups.forEach((g, i) => {
    builtIn(`/groups/${i}`, `Group ${g.name}`, builtInGroups.has(key(g.name)));
  });
  const builtInEndUserGroups = new Set(
    state.endUserGroups.filter((g) => g.builtIn).map((g) => envKey(g.environment, g.name)),
  );
  doc.end_user_groups.forEach((g, i) => {
    builtIn(
      `/end_user_groups/${i}`,
      `Group ${g.name}`,
      builtInEndUserGroups.has(envKey(g.environment, g.name)),
    );
  });

  const projects = new Set(doc.projects.map(projectKey));
  const projectRoles = new Set([
    ...systemProjectRoles,
    ...doc.project_roles.map((r) => key(r.name)),
  ]);
  const groups = new Set([...builtInGroups, ...doc.groups.map((g) => key(g.name))]);
  const members = new Set(state.members.map((m) => m.emailKey));
  const endUsers = new Set(state.endUsers.map((u) => u.emailKey));
  const endUserGroups = new Set([
    ...builtInEndUserGroups,
    ...doc.end_user_groups.map((g) => envKey(g.environment, g.name)),
  ]);
  const features = new Set(doc.features.map((f) => envKey(f.environment, f.name)));
  const project = (path: string, ref: ProjectRef) => {
    if (!projects.has(projectKey(ref)))
      throw unknownReference(
        path,
        `Project ${projectLabel(ref)} is not in the document's projects`,
      );
  };

  doc.roles.forEach((role, i) => {
    role.projects.forEach((ref, j) => {
      project(`/roles/${i}/projects/${j}`, ref);
    });
  });
  doc.grants.forEach((grant, i) => {
    const path = `/grants/${i}`;
    if ((grant.group === undefined) === (grant.user === undefined))
      throw badRequest(
        'workspace_config.grant_assignee',
        `${path}: a grant names either a group or a user`,
      );
    project(`${path}/project`, grant.project);
    if (!projectRoles.has(key(grant.role)))
      throw unknownReference(`${path}/role`, `Project role ${grant.role} not found`);
    if (grant.group !== undefined && !groups.has(key(grant.group)))
      throw unknownReference(`${path}/group`, `Group ${grant.group} not found`);
    if (grant.user !== undefined && !members.has(key(grant.user)))
      throw unknownReference(`${path}/user`, `No collaborator has the email ${grant.user}`);
  });
  doc.end_user_groups.forEach((group, i) => {
    group.members.forEach((email, j) => {
      if (!endUsers.has(key(email)))
        throw unknownReference(
          `/end_user_groups/${i}/members/${j}`,
          `No end user has the email ${email}`,
        );
    });
  });
  doc.features.forEach((feature, i) => {
    feature.access.groups.forEach((name, j) => {
      if (!endUserGroups.has(envKey(feature.environment, name)))
        throw unknownReference(
          `/features/${i}/access/groups/${j}`,
          `End-user group ${name} not found in ${feature.environment}`,
        );
    });
    feature.access.end_users.forEach((email, j) => {
      if (!endUsers.has(key(email)))
        throw unknownReference(
          `/features/${i}/access/end_users/${j}`,
          `No end user has the email ${email}`,
        );
    });
  });
  doc.policies.forEach((policy, i) => {
    if (!features.has(envKey(policy.environment, policy.feature)))
      throw unknownReference(
        `/policies/${i}/feature`,
        `Feature ${policy.feature} is not in the document's ${policy.environment} features`,
      );
    if (policy.scope.type === 'all' && policy.scope.targets.length > 0)
      throw badRequest(
        'policy.scope_ids',
        `/policies/${i}/scope/targets: A policy scoped to all users takes no targets`,
      );
    policy.scope.targets.forEach((target, j) => {
      const path = `/policies/${i}/scope/targets/${j}`;
      if (policy.scope.type === 'users' && !endUsers.has(key(target)))
        throw unknownReference(path, `No end user has the email ${target}`);
      if (policy.scope.type === 'groups' && !endUserGroups.has(envKey(policy.environment, target)))
        throw unknownReference(path, `End-user group ${target} not found in ${policy.environment}`);
    });
    (policy.approval_steps ?? []).forEach((step, j) => {
      const path = `/policies/${i}/approval_steps/${j}`;
      step.collaborators.forEach((email, k) => {
        if (!members.has(key(email)))
          throw unknownReference(
            `${path}/collaborators/${k}`,
            `No collaborator has the email ${email}`,
          );
      });
      step.end_user_groups.forEach((name, k) => {
        if (!endUserGroups.has(envKey(policy.environment, name)))
          throw unknownReference(
            `${path}/end_user_groups/${k}`,
            `End-user group ${name} not found in ${policy.environment}`,
          );
      });
    });
  });
  // Header values are secrets a document never carries: a header it names must already be set.
  doc.features.forEach((feature, i) => {
    if (feature.upstream === undefined || feature.upstream === null) return;
    const stored = state.features.find(
      (f) => envKey(f.environment, f.name) === envKey(feature.environment, feature.name),
    )?.upstream;
    const set = new Set((stored?.headerNames ?? []).map((name) => name.toLowerCase()));
    feature.upstream.header_names.forEach((name, j) => {
      if (!set.has(name.toLowerCase()))
        throw badRequest(
          'workspace_config.upstream_header_unset',
          `/features/${i}/upstream/header_names/${j}: The upstream of feature ${feature.environment}/${feature.name.trim()} has no value for header ${name}; a document never carries header values: set it with PATCH /api/features/{id} first, or leave it out of the document`,
        );
    });
  });
}

export function createWorkspaceConfigService(deps: {
  db: Db;
  clock: Clock;
  /** The features service's box for MCP upstream headers (a document never carries them). */
  secrets: SecretBox;
}) {
  const now = () => isoNow(deps.clock);

  async function requireWholeWorkspace(ctx: RequestContext): Promise<void> {
    const environments = await listEnvironments(deps.db, ctx.workspaceId);
    requireWorkspaceAdmin(
      ctx,
      environments.map((env) => env.type),
    );
  }

  async function applyDocument(
    trx: Transaction<Database>,
    ctx: RequestContext,
    doc: WorkspaceDocument,
  ): Promise<PlanStep[]> {
    const db = joinedTransaction(trx);
    const clock = deps.clock;
    const roles = createRolesService({ db, clock });
    const groups = createGroupsService({ db, clock });
    const projects = createProjectsService({ db, clock });
    const grants = createGrantsService({ db, clock, projects });
    const endUserGroups = createEndUserGroupsService({ db, clock });
    const features = createFeaturesService({ db, clock, secrets: deps.secrets });
    const policies = createPoliciesService({ db, clock });
    const plan = new Plan();
    /** The step being applied is the plan's last: a concurrent-change error names it. */
    const at = <T>(
      path: string,
      run: () => Promise<T>,
      refine?: (code: string) => string | undefined,
    ): Promise<T> => atStep(path, plan.steps.at(-1), run, refine);

    // Everyone may be referred to by name, so each environment's must exist first.
    await ensureEveryoneGroups(trx, ctx.workspaceId, now());
    let state = await readWorkspaceState(trx, ctx.workspaceId);
    checkDocument(doc, state);

    // 1. Definitions that reference nothing: create the missing, update what differs.
    /** Environment and project roles: the same rules, the same service shape. */
    const syncRoles = async (
      kind: 'environment_role' | 'project_role',
      service: {
        create(ctx: RequestContext, input: RoleInput): Promise<unknown>;
        update(ctx: RequestContext, id: number | string, input: RoleInput): Promise<unknown>;
      },
      current: readonly {
        id: number | string;
        name: string;
        nameKey: string;
        system: boolean;
        config: string;
      }[],
      list: WorkspaceDocument['project_roles'],
    ) => {
      for (const [i, role] of list.entries()) {
        const path = `/${kind}s/${i}`;
        const existing = current.find((r) => !r.system && r.nameKey === key(role.name));
        const input = { name: role.name, config: role.config };
        if (existing === undefined) {
          plan.add('create', kind, role.name.trim());
          await at(path, () => service.create(ctx, input));
        } else if (
          existing.name !== role.name.trim() ||
          !sameJson(fromJson(existing.config), role.config)
        ) {
          plan.add('update', kind, role.name.trim());
          await at(path, () => service.update(ctx, existing.id, input));
        }
      }
    };
    await syncRoles(
      'environment_role',
      roles.environmentRoles,
      state.environmentRoles,
      doc.environment_roles,
    );
    await syncRoles('project_role', roles.projectRoles, state.projectRoles, doc.project_roles);
    for (const [i, group] of doc.groups.entries()) {
      const existing = state.groups.find((g) => !g.builtIn && g.nameKey === key(group.name));
      const body = { user_group: { name: group.name, description: group.description } };
      if (existing === undefined) {
        plan.add('create', 'group', group.name.trim());
        await at(`/groups/${i}`, () => groups.createGroup(ctx, body));
      } else if (
        existing.name !== group.name.trim() ||
        existing.description !== group.description
      ) {
        plan.add('update', 'group', group.name.trim());
        await at(`/groups/${i}`, () => groups.updateGroup(ctx, existing.id, body));
      }
    }
    for (const [i, project] of doc.projects.entries()) {
      const existing = state.projects.find((p) => projectKey(p) === projectKey(project));
      if (existing === undefined) {
        plan.add('create', 'project', projectLabel(project));
        await at(`/projects/${i}`, () =>
          projects.createProject(ctx, {
            name: project.name,
            environment_type: project.environment,
            description: project.description,
          }),
        );
      } else if (existing.description !== project.description) {
        plan.add('update', 'project', projectLabel(project));
        await at(`/projects/${i}`, () =>
          projects.updateProject(ctx, existing.id, { description: project.description }),
        );
      }
    }
    for (const [i, group] of doc.end_user_groups.entries()) {
      const existing = state.endUserGroups.find(
        (g) =>
          !g.builtIn && envKey(g.environment, g.name) === envKey(group.environment, group.name),
      );
      const label = `${group.environment}/${group.name.trim()}`;
      const memberIds = [
        ...new Set(
          group.members.map(
            (email) => state.endUsers.find((u) => u.emailKey === key(email))?.id ?? 0,
          ),
        ),
      ];
      if (existing === undefined) {
        plan.add('create', 'end_user_group', label);
        await at(`/end_user_groups/${i}`, () =>
          endUserGroups.createGroup(ctx, {
            environment_type: group.environment,
            name: group.name,
            description: group.description,
            roles: group.roles,
            end_user_ids: memberIds,
          }),
        );
      } else {
        const settingsDiffer =
          existing.name !== group.name.trim() ||
          existing.description !== group.description ||
          !sameSet(fromJson<string[]>(existing.roles), group.roles);
        const adding = memberIds.filter((id) => !existing.memberIds.includes(id));
        const removing = existing.memberIds.filter((id) => !memberIds.includes(id));
        if (settingsDiffer || adding.length > 0 || removing.length > 0)
          plan.add('update', 'end_user_group', label);
        if (settingsDiffer)
          await at(`/end_user_groups/${i}`, () =>
            endUserGroups.updateGroup(ctx, existing.id, {
              name: group.name,
              description: group.description,
              roles: group.roles,
            }),
          );
        // Added before removed: a group never goes through having no member.
        if (adding.length > 0)
          await at(`/end_user_groups/${i}/members`, () =>
            endUserGroups.addMembers(ctx, existing.id, { end_user_ids: adding }),
          );
        if (removing.length > 0)
          await at(`/end_user_groups/${i}/members`, () =>
            endUserGroups.removeMembers(ctx, existing.id, { end_user_ids: removing }),
          );
      }
    }
    for (const [i, feature] of doc.features.entries()) {
      const existing = state.features.find(
        (f) => envKey(f.environment, f.name) === envKey(feature.environment, feature.name),
      );
      const label = `${feature.environment}/${feature.name.trim()}`;
      const path = `/features/${i}`;
      const upstreamPath = (code: string) =>
        code.startsWith('feature.upstream') ? `${path}/upstream` : undefined;
      // The URL only: without `headers` the features service keeps the stored header values.
      const upstream =
        feature.upstream === undefined || feature.upstream === null
          ? feature.upstream
          : { url: feature.upstream.url };
      if (existing === undefined) {
        plan.add('create', 'feature', label);
        await at(
          path,
          () =>
            features.createFeature(ctx, {
              environment_type: feature.environment,
              kind: feature.kind,
              name: feature.name,
              description: feature.description,
              ...(upstream === undefined || upstream === null ? {} : { upstream }),
            }),
          upstreamPath,
        );
      } else {
        if (existing.kind !== feature.kind)
          throw badRequest(
            'workspace_config.feature_kind',
            `/features/${i}/kind: Feature ${label} is a ${existing.kind}; a feature's kind cannot change (give the new one another name)`,
          );
        const upstreamDiffers =
          upstream === null
            ? existing.upstream !== null
            : upstream !== undefined &&
              (existing.upstream === null ||
                existing.upstream.url !==
                  (await at(`${path}/upstream/url`, () =>
                    Promise.resolve(checkUpstreamUrl(upstream.url)),
                  )));
        if (
          existing.name !== feature.name.trim() ||
          existing.description !== feature.description ||
          upstreamDiffers
        ) {
          plan.add('update', 'feature', label);
          await at(
            path,
            () =>
              features.updateFeature(ctx, existing.id, {
                name: feature.name,
                description: feature.description,
                ...(upstreamDiffers ? { upstream } : {}),
              }),
            upstreamPath,
          );
        }
      }
    }

    // 2. What references them, resolved by name in the state as it now is.
    state = await readWorkspaceState(trx, ctx.workspaceId);
    const projectId = (ref: ProjectRef) => {
      const found = state.projects.find((p) => projectKey(p) === projectKey(ref));
      if (found === undefined) throw new Error(`project ${projectLabel(ref)} vanished`);
      return found.id;
    };
    for (const [i, role] of doc.roles.entries()) {
      const existing = state.legacyRoles.find(
        (r) => !r.system && r.nameKey === legacyRoleKey(role.name),
      );
      const projectIds = role.projects.map(projectId);
      const input = {
        name: role.name,
        privileges: role.privileges,
        project_access: role.project_access,
        project_ids: projectIds,
      };
      if (existing === undefined) {
        plan.add('create', 'role', role.name.trim());
        await at(`/roles/${i}`, () => roles.legacyRoles.create(ctx, input));
      } else if (
        existing.name !== role.name.trim() ||
        !sameJson(fromJson(existing.privileges), role.privileges) ||
        existing.projectAccess !== role.project_access ||
        !sameSet(role.project_access === 'selected' ? existing.projectIds : [], projectIds)
      ) {
        plan.add('update', 'role', role.name.trim());
        await at(`/roles/${i}`, () => roles.legacyRoles.update(ctx, existing.id, input));
      }
    }

    // Grants: identified by project, role and assignee; only their expiry can change in place.
    const grantKey = (g: {
      projectId: number;
      roleId: string;
      groupId: string | null;
      memberId: number | null;
    }) => `${g.projectId}|${g.roleId}|${g.groupId ?? ''}|${g.memberId ?? ''}`;
    const desiredGrants = doc.grants.map((grant, index) => {
      const role = state.projectRoles.find((r) => r.nameKey === key(grant.role));
      const group =
        grant.group === undefined
          ? undefined
          : state.groups.find((g) => g.nameKey === key(grant.group ?? ''));
      const member =
        grant.user === undefined
          ? undefined
          : state.members.find((m) => m.emailKey === key(grant.user ?? ''));
      if (
        role === undefined ||
        (grant.group !== undefined && group === undefined) ||
        (grant.user !== undefined && member === undefined)
      )
        throw new Error(`grant ${index} lost a reference`);
      return {
        index,
        label: `${projectLabel(grant.project)}: ${role.name} → ${group === undefined ? `user ${grant.user ?? ''}` : `group ${group.name}`}`,
        projectId: projectId(grant.project),
        roleId: role.id,
        groupId: group?.id ?? null,
        memberId: member?.id ?? null,
        expiresAt: timestamp(grant.expires_at),
      };
    });
    const desiredKeys = new Set(desiredGrants.map(grantKey));
    const projectLabelOf = (id: number) => {
      const p = state.projects.find((candidate) => candidate.id === id);
      return p === undefined ? String(id) : projectLabel(p);
    };
    for (const existing of state.grants) {
      if (desiredKeys.has(grantKey(existing))) continue;
      const role =
        state.projectRoles.find((r) => r.id === existing.roleId)?.name ?? existing.roleId;
      const assignee =
        existing.groupId === null
          ? `user ${existing.memberEmail ?? ''}`
          : `group ${state.groups.find((g) => g.id === existing.groupId)?.name ?? existing.groupId}`;
      plan.add('delete', 'grant', `${projectLabelOf(existing.projectId)}: ${role} → ${assignee}`);
      await grants.deleteGrant(ctx, existing.id);
    }
    for (const grant of desiredGrants) {
      const existing = state.grants.find((g) => grantKey(g) === grantKey(grant));
      const path = `/grants/${grant.index}`;
      if (existing === undefined) {
        plan.add('create', 'grant', grant.label);
        await at(path, () =>
          grants.upsertProjectGrants(ctx, grant.projectId, {
            project_grants: [
              {
                project_role_id: grant.roleId,
                assignment_type: grant.groupId === null ? 'User' : 'UserGroup',
                assignment_id: grant.groupId ?? String(grant.memberId),
                expires_at: grant.expiresAt,
              },
            ],
          }),
        );
      } else if (existing.expiresAt !== grant.expiresAt) {
        plan.add('update', 'grant', grant.label);
        await at(path, () =>
          grants.updateGrant(ctx, existing.id, {
            project_grant: { project_role_id: grant.roleId, expires_at: grant.expiresAt },
          }),
        );
      }
    }

    // Feature access: grant what is missing, revoke what the document leaves out.
    const changedFeatures = new Set(
      plan.steps.filter((s) => s.kind === 'feature').map((s) => s.name),
    );
    for (const [i, feature] of doc.features.entries()) {
      const label = `${feature.environment}/${feature.name.trim()}`;
      const current = state.features.find(
        (f) => envKey(f.environment, f.name) === envKey(feature.environment, feature.name),
      );
      if (current === undefined) throw new Error(`feature ${label} vanished`);
      const groupIds = feature.access.groups.map(
        (name) =>
          state.endUserGroups.find(
            (g) => envKey(g.environment, g.name) === envKey(feature.environment, name),
          )?.id ?? 0,
      );
      const userIds = feature.access.end_users.map(
        (email) => state.endUsers.find((u) => u.emailKey === key(email))?.id ?? 0,
      );
      const grant = {
        end_user_group_ids: [...new Set(groupIds)].filter((id) => !current.groupIds.includes(id)),
        end_user_ids: [...new Set(userIds)].filter((id) => !current.endUserIds.includes(id)),
      };
      const revoke = {
        end_user_group_ids: current.groupIds.filter((id) => !groupIds.includes(id)),
        end_user_ids: current.endUserIds.filter((id) => !userIds.includes(id)),
      };
      const granting = grant.end_user_group_ids.length + grant.end_user_ids.length > 0;
      const revoking = revoke.end_user_group_ids.length + revoke.end_user_ids.length > 0;
      if ((granting || revoking) && !changedFeatures.has(label))
        plan.add('update', 'feature', label);
      if (revoking)
        await at(`/features/${i}/access`, () => features.revokeAccess(ctx, current.id, revoke));
      if (granting)
        await at(`/features/${i}/access`, () => features.grantAccess(ctx, current.id, grant));
    }

    // Policies: a policy moved to another feature is replaced (its feature cannot change).
    const desiredPolicies = doc.policies.map((policy, index) => {
      const feature = state.features.find(
        (f) => envKey(f.environment, f.name) === envKey(policy.environment, policy.feature),
      );
      if (feature === undefined) throw new Error(`feature of policy ${index} vanished`);
      const chain = (policy.approval_steps ?? []).map((step) => ({
        collaborator_ids: [
          ...new Set(
            step.collaborators.map(
              (email) => state.members.find((m) => m.emailKey === key(email))?.id ?? 0,
            ),
          ),
        ],
        end_user_group_ids: [
          ...new Set(
            step.end_user_groups.map(
              (name) =>
                state.endUserGroups.find(
                  (g) => envKey(g.environment, g.name) === envKey(policy.environment, name),
                )?.id ?? 0,
            ),
          ),
        ],
      }));
      const ids = policy.scope.targets.map((target) =>
        policy.scope.type === 'users'
          ? (state.endUsers.find((u) => u.emailKey === key(target))?.id ?? 0)
          : (state.endUserGroups.find(
              (g) => envKey(g.environment, g.name) === envKey(policy.environment, target),
            )?.id ?? 0),
      );
      return {
        index,
        policy,
        featureId: feature.id,
        ids,
        chain,
        label: `${policy.environment}/${policy.name.trim()}`,
      };
    });
    for (const existing of state.policies) {
      const wanted = desiredPolicies.find(
        (d) =>
          envKey(d.policy.environment, d.policy.name) ===
          envKey(existing.environment, existing.name),
      );
      if (wanted !== undefined && wanted.featureId === existing.featureId) continue;
      if (wanted === undefined)
        plan.add('delete', 'policy', `${existing.environment}/${existing.name}`);
      await policies.deletePolicy(ctx, existing.id);
    }
    for (const { index, policy, featureId, ids, chain, label } of desiredPolicies) {
      const existing = state.policies.find(
        (p) =>
          envKey(p.environment, p.name) === envKey(policy.environment, policy.name) &&
          p.featureId === featureId,
      );
      const path = `/policies/${index}`;
      // The chain's own rules (Admin groups only, require_approval only) are the policies service's.
      const chainPath = (code: string) =>
        code.startsWith('policy.approv') || code === 'policy.group_unknown'
          ? `${path}/approval_steps`
          : undefined;
      const scope = { type: policy.scope.type, ids: policy.scope.type === 'all' ? [] : ids };
      if (existing === undefined) {
        const replaced = state.policies.some(
          (p) => envKey(p.environment, p.name) === envKey(policy.environment, policy.name),
        );
        plan.add(replaced ? 'update' : 'create', 'policy', label);
        await at(
          path,
          () =>
            policies.createPolicy(ctx, {
              name: policy.name,
              description: policy.description,
              environment_type: policy.environment,
              feature_id: featureId,
              tools: policy.tools,
              scope,
              effect: policy.effect,
              ...(chain.length === 0 ? {} : { approval_steps: chain }),
            }),
          chainPath,
        );
      } else if (
        existing.name !== policy.name.trim() ||
        existing.description !== policy.description ||
        !sameJson(
          sortedUnique(fromJson<string[]>(existing.tools)),
          sortedUnique(policy.tools.map((t) => t.trim())),
        ) ||
        existing.scopeType !== policy.scope.type ||
        !sameSet(
          existing.scopeType === 'users'
            ? existing.userIds
            : existing.scopeType === 'groups'
              ? existing.groupIds
              : [],
          scope.ids,
        ) ||
        existing.effect !== policy.effect ||
        existing.chain.length !== chain.length ||
        existing.chain.some(
          (step, s) =>
            !sameSet(step.member_ids, chain[s]?.collaborator_ids ?? []) ||
            !sameSet(step.group_ids, chain[s]?.end_user_group_ids ?? []),
        )
      ) {
        plan.add('update', 'policy', label);
        await at(
          path,
          () =>
            policies.updatePolicy(ctx, existing.id, {
              name: policy.name,
              description: policy.description,
              tools: policy.tools,
              scope,
              effect: policy.effect,
              // Replaces the chain whole; [] removes it.
              approval_steps: chain,
            }),
          chainPath,
        );
      }
    }

    // 3. Deletions, dependents first: what the document leaves out, built-ins excepted.
    const inDoc = {
      features: new Set(doc.features.map((f) => envKey(f.environment, f.name))),
      endUserGroups: new Set(doc.end_user_groups.map((g) => envKey(g.environment, g.name))),
      roles: new Set(doc.roles.map((r) => legacyRoleKey(r.name))),
      projects: new Set(doc.projects.map(projectKey)),
      groups: new Set(doc.groups.map((g) => key(g.name))),
      projectRoles: new Set(doc.project_roles.map((r) => key(r.name))),
      environmentRoles: new Set(doc.environment_roles.map((r) => key(r.name))),
    };
    for (const feature of state.features) {
      if (inDoc.features.has(envKey(feature.environment, feature.name))) continue;
      plan.add('delete', 'feature', `${feature.environment}/${feature.name}`);
      await features.deleteFeature(ctx, feature.id);
    }
    for (const group of state.endUserGroups) {
      if (group.builtIn || inDoc.endUserGroups.has(envKey(group.environment, group.name))) continue;
      plan.add('delete', 'end_user_group', `${group.environment}/${group.name}`);
      await endUserGroups.deleteGroup(ctx, group.id, false);
    }
    for (const role of state.legacyRoles) {
      if (role.system || inDoc.roles.has(role.nameKey)) continue;
      plan.add('delete', 'role', role.name);
      await at(`role ${role.name}`, () => roles.legacyRoles.remove(ctx, role.id));
    }
    for (const project of state.projects) {
      if (inDoc.projects.has(projectKey(project))) continue;
      plan.add('delete', 'project', projectLabel(project));
      await projects.deleteProject(ctx, project.id);
    }
    for (const group of state.groups) {
      if (group.builtIn || inDoc.groups.has(group.nameKey)) continue;
      plan.add('delete', 'group', group.name);
      await groups.deleteGroup(ctx, group.id);
    }
    for (const role of state.projectRoles) {
      if (role.system || inDoc.projectRoles.has(role.nameKey)) continue;
      plan.add('delete', 'project_role', role.name);
      await at(`project role ${role.name}`, () => roles.projectRoles.remove(ctx, role.id));
    }
    for (const role of state.environmentRoles) {
      if (role.system || inDoc.environmentRoles.has(role.nameKey)) continue;
      plan.add('delete', 'environment_role', role.name);
      await at(`environment role ${role.name}`, () => roles.environmentRoles.remove(ctx, role.id));
    }
    return plan.steps;
  }

  return {
    async exportDocument(ctx: RequestContext): Promise<WorkspaceDocument> {
      await requireWholeWorkspace(ctx);
      return toDocument(await readWorkspaceState(deps.db, ctx.workspaceId), now());
    },

    /** Plans and applies the document in one transaction; a dry run rolls it back and reports the plan. */
    async apply(
      ctx: RequestContext,
      doc: WorkspaceDocument,
      dryRun: boolean,
    ): Promise<ApplyResult> {
      await requireWholeWorkspace(ctx);
      let steps: PlanStep[];
      try {
        steps = await deps.db.transaction().execute(async (trx) => {
          const planned = await applyDocument(trx, ctx, doc);
          if (dryRun) throw new DryRunRollback(planned);
          return planned;
        });
      } catch (error) {
        if (!(error instanceof DryRunRollback)) throw error;
        steps = error.steps;
      }
      return {
        dry_run: dryRun,
        applied: !dryRun && steps.length > 0,
        steps,
        summary: summarise(steps),
      };
    },
  };
}
export type WorkspaceConfigService = ReturnType<typeof createWorkspaceConfigService>;
