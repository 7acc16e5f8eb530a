/**
 * Environment roles, project roles (the new model) and legacy roles (privilege groups), and the
 * one place that resolves `env_roles` assignments for members and invitations.
 */
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_CATEGORY_MAPPING,
  NO_ACCESS_ALIASES,
  NO_ACCESS_ROLE,
  PROJECT_RESOURCES,
  type EnvRoleAssignment,
  type EnvironmentRole,
  type EnvironmentRoleSummary,
  type LegacyPrivileges,
  type LegacyRole,
  type LegacyRoleBody,
  type ListRolesQuery,
  type ProjectRole,
  type ProjectRoleSummary,
  type ResourceDefinition,
  type RoleConfig,
  type RoleInput,
} from '@roster/contracts';
import type { Db, Executor, Row } from '../../storage/database.js';
import { mapRead, readAlone, type PlannedRead } from '../../storage/pipeline.js';
import { fromFlag, fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, notFound } from '../../lib/errors.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest } from '../../lib/pagination.js';
import { requireDevAccess, requireProjectAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import { listEnvironments, type Environments } from '../environments/environments.repository.js';
import { environmentNotFound } from '../environments/environments.service.js';
import {
  deleteRole,
  findLegacyRoleById,
  findRoleRefByNameKey,
  planRoleRefsByNameKeys,
  findLegacyRoleByNameKey,
  findRoleById,
  findRoleByNameKey,
  insertRole,
  findProjectsByIds,
  listLegacyRoleProjects,
  listLegacyRoles,
  listRoles,
  replaceLegacyRoleProjects,
  updateRole,
  type LegacyRoleRow,
  type RoleKind,
  type RoleRow,
} from './roles.repository.js';

export const ROLE_IN_USE_MESSAGE =
  'You can’t delete a role when collaborators are assigned to the role.';

function countsAndDates(row: RoleRow) {
  return {
    members_count: row.members_count,
    type: row.type as EnvironmentRole['type'],
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}
export const toEnvironmentRoleSummary = (row: RoleRow): EnvironmentRoleSummary => ({
  id: Number(row.id),
  name: row.name,
  ...countsAndDates(row),
});
export const toProjectRoleSummary = (row: RoleRow): ProjectRoleSummary => ({
  id: String(row.id),
  name: row.name,
  ...countsAndDates(row),
});
export const toEnvironmentRole = (row: RoleRow): EnvironmentRole => ({
  id: Number(row.id),
  name: row.name,
  config: fromJson<RoleConfig>(row.config),
  ...countsAndDates(row),
});
export const toProjectRole = (row: RoleRow): ProjectRole => ({
  id: String(row.id),
  name: row.name,
  config: fromJson<RoleConfig>(row.config),
  ...countsAndDates(row),
});

const CATALOGUE: Readonly<Record<RoleKind, Readonly<Record<string, ResourceDefinition>>>> = {
  environment: ENVIRONMENT_RESOURCES,
  project: PROJECT_RESOURCES,
};

/**
 * Checks a role config against the privilege catalogue. The schema only checks the shape, and
 * the HTTP layer coerces scalars into arrays (`"privileges": 5` arrives as `["5"]`), so unknown
 * resources and privilege names are caught here rather than stored and silently ignored.
 */
export function assertValidRoleConfig(kind: RoleKind, config: RoleConfig): void {
  const catalogue = CATALOGUE[kind];
  for (const [resource, entry] of Object.entries(config)) {
    const definition = catalogue[resource];
    if (definition === undefined) {
      throw badRequest(
        'role.config_invalid',
        `Config has an unknown ${kind} resource: ${resource}`,
      );
    }
    if (entry.privileges === 'all') continue;
    const unknown = entry.privileges.filter(
      (privilege) => !definition.privileges.includes(privilege),
    );
    if (unknown.length > 0) {
      throw badRequest(
        'role.config_invalid',
        `Config has unknown privileges for ${resource}: ${unknown.join(', ')}`,
      );
    }
  }
}

/**
 * Checks a legacy privilege map: each category must be one the migration knows how to convert,
 * with privilege names that exist there under their legacy spelling (Folders say `read`, not `view`).
 */
export function assertValidLegacyPrivileges(privileges: LegacyPrivileges): void {
  for (const [category, names] of Object.entries(privileges)) {
    const mapping = LEGACY_CATEGORY_MAPPING[category];
    const definition =
      mapping === undefined ? undefined : CATALOGUE[mapping.scope][mapping.resource];
    if (mapping === undefined || definition === undefined) {
      throw badRequest(
        'role.privileges_invalid',
        `Privileges have an unknown category: ${category}`,
      );
    }
    const legacyName = Object.fromEntries(
      Object.entries(mapping.rename ?? {}).map(([legacy, current]) => [current, legacy]),
    );
    const allowed = new Set([
      'all',
      ...definition.privileges.map((privilege) => legacyName[privilege] ?? privilege),
    ]);
    const unknown = names.filter((name) => !allowed.has(name));
    if (unknown.length > 0) {
      throw badRequest(
        'role.privileges_invalid',
        `Privileges have unknown names for ${category}: ${unknown.join(', ')}`,
      );
    }
  }
}

/** `projectIds`: the role's selected projects (listLegacyRoleProjects); ignored unless 'selected'. */
export function toLegacyRole(row: LegacyRoleRow, projectIds: readonly number[] = []): LegacyRole {
  const selected = row.project_access === 'selected';
  return {
    id: row.id,
    name: row.name,
    privileges: fromJson<LegacyPrivileges>(row.privileges),
    project_access: selected ? 'selected' : 'all',
    project_ids: selected ? [...projectIds] : [],
    system: fromFlag(row.system),
    members_count: row.members_count,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function roleName(name: string | undefined): { name: string; key: string } {
  const trimmed = (name ?? '').trim();
  if (trimmed === '') throw badRequest('role.name_blank', "Name can't be blank");
  return { name: trimmed, key: trimmed.toLowerCase() };
}

/** `No access` is also accepted as `NoAccess`. */
export function legacyRoleKey(name: string): string {
  return NO_ACCESS_ALIASES.some((alias) => alias.toLowerCase() === name.trim().toLowerCase())
    ? NO_ACCESS_ROLE.toLowerCase()
    : name.trim().toLowerCase();
}

export interface ResolvedEnvRole {
  environment: Row<'environments'>;
  roleType: 'privilege_group' | 'environment';
  roleName: string;
  legacyRoleId: number | null;
  environmentRoleId: number | null;
}

/**
 * Resolves `env_roles` against the workspace, with the reference API's texts:
 * "Environment X not found" and "Role X not found" (status 400). The environments are read once
 * and every role named in one statement per kind of role (it was one per assignment); the first
 * assignment that does not resolve is the one the error names, as before.
 */
export async function resolveEnvRoles(
  db: Executor,
  workspaceId: number,
  assignments: readonly EnvRoleAssignment[],
): Promise<ResolvedEnvRole[]> {
  return readAlone(db, planEnvRoles(db, workspaceId, assignments));
}

/** resolveEnvRoles as a read to send with a transaction's other first reads (readTogether). */
export function planEnvRoles(
  db: Executor,
  workspaceId: number,
  assignments: readonly EnvRoleAssignment[],
): PlannedRead<ResolvedEnvRole[]> {
  return mapRead(planAssignments(db, workspaceId, assignments, false), ({ resolved }) => resolved);
}

/**
 * `resolveEnvRoles`, then `No access` for every environment the assignments leave out, as the
 * reference API does for invitations: the environments read once, the "No access" role with the
 * roles named. As a read to send with others (readTogether).
 */
export function planEnvRolesWithNoAccessDefaults(
  db: Executor,
  workspaceId: number,
  assignments: readonly EnvRoleAssignment[],
): PlannedRead<ResolvedEnvRole[]> {
  return mapRead(
    planAssignments(db, workspaceId, assignments, true),
    ({ resolved, environments, noAccess }) =>
      withDefaults(workspaceId, environments, resolved, noAccess),
  );
}

/** Environments an assignment list leaves out get `No access`, as the reference API does for invitations. */
export async function withNoAccessDefaults(
  db: Executor,
  workspaceId: number,
  resolved: ResolvedEnvRole[],
): Promise<ResolvedEnvRole[]> {
  const [environments, noAccess] = await Promise.all([
    listEnvironments(db, workspaceId),
    // Runs for every new collaborator (invitations, SCIM): no count of the role's members here.
    findRoleRefByNameKey(db, 'legacy_roles', workspaceId, NO_ACCESS_ROLE.toLowerCase()),
  ]);
  return withDefaults(workspaceId, environments, resolved, noAccess);
}

function withDefaults(
  workspaceId: number,
  environments: readonly Row<'environments'>[],
  resolved: readonly ResolvedEnvRole[],
  noAccess: { id: number; name: string } | undefined,
): ResolvedEnvRole[] {
  if (noAccess === undefined) throw new Error(`workspace ${workspaceId} has no "No access" role`);
  return environments.map(
    (environment) =>
      resolved.find((r) => r.environment.id === environment.id) ?? {
        environment,
        roleType: 'privilege_group',
        roleName: noAccess.name,
        legacyRoleId: noAccess.id,
        environmentRoleId: null,
      },
  );
}

function planAssignments(
  db: Executor,
  workspaceId: number,
  assignments: readonly EnvRoleAssignment[],
  withNoAccess: boolean,
): PlannedRead<{
  resolved: ResolvedEnvRole[];
  environments: Environments;
  noAccess: { id: number; name: string } | undefined;
}> {
  const keyOf = (assignment: EnvRoleAssignment) =>
    (assignment.role_type ?? 'privilege_group') === 'privilege_group'
      ? legacyRoleKey(assignment.name)
      : assignment.name.trim().toLowerCase();
  const isLegacy = (assignment: EnvRoleAssignment) =>
    (assignment.role_type ?? 'privilege_group') === 'privilege_group';
  const noAccessKey = NO_ACCESS_ROLE.toLowerCase();
  const legacyKeys = assignments.filter(isLegacy).map(keyOf);
  if (withNoAccess) legacyKeys.push(noAccessKey);
  const environmentKeys = assignments.filter((a) => !isLegacy(a)).map(keyOf);
  // Resolving roles by name runs for every invitation and SCIM write: no counts.
  const legacyRefs = planRoleRefsByNameKeys(db, 'legacy_roles', workspaceId, legacyKeys);
  const environmentRefs = planRoleRefsByNameKeys(
    db,
    'environment_roles',
    workspaceId,
    environmentKeys,
  );
  const legacyCount = legacyRefs.statements.length;
  return {
    statements: [...legacyRefs.statements, ...environmentRefs.statements],
    async finish(results) {
      const [environments, legacyRoles, environmentRoles] = await Promise.all([
        listEnvironments(db, workspaceId),
        legacyRefs.finish(results.slice(0, legacyCount)),
        environmentRefs.finish(results.slice(legacyCount)),
      ]);
      const resolved = new Map<number, ResolvedEnvRole>();
      for (const assignment of assignments) {
        const environment = environments.find((env) => env.type === assignment.environment_type);
        if (environment === undefined) {
          throw environmentNotFound(assignment.environment_type);
        }
        const roleType = assignment.role_type ?? 'privilege_group';
        const legacy = isLegacy(assignment);
        const role = (legacy ? legacyRoles : environmentRoles).get(keyOf(assignment));
        if (role === undefined)
          throw new AppError(400, 'role.not_found', `Role ${assignment.name} not found`);
        resolved.set(environment.id, {
          environment,
          roleType,
          roleName: role.name,
          legacyRoleId: legacy ? role.id : null,
          environmentRoleId: legacy ? null : role.id,
        });
      }
      return {
        resolved: [...resolved.values()],
        environments,
        noAccess: legacyRoles.get(noAccessKey),
      };
    },
  };
}

export function createRolesService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  function newModel<T, S>(
    kind: RoleKind,
    present: (row: RoleRow) => T,
    summarise: (row: RoleRow) => S,
  ) {
    const target = `${kind}_role` as const;

    async function requireRole(ctx: RequestContext, id: number | string): Promise<RoleRow> {
      const row = await findRoleById(deps.db, kind, ctx.workspaceId, id);
      if (row === undefined) throw notFound('role.not_found');
      return row;
    }

    async function validated(ctx: RequestContext, input: RoleInput, exceptId?: number | string) {
      const { name, key } = roleName(input.name);
      if (input.inheritable === true) {
        throw badRequest(
          'role.inheritable_unsupported',
          'Inheritable can only be set to true in Admin AHQ or Embedded partner workspaces',
        );
      }
      assertValidRoleConfig(kind, input.config);
      const existing = await findRoleByNameKey(deps.db, kind, ctx.workspaceId, key);
      if (existing !== undefined && String(existing.id) !== String(exceptId)) {
        throw badRequest('role.name_taken', 'Name has already been taken');
      }
      return { name, key, config: toJson(input.config) };
    }

    return {
      async list(ctx: RequestContext, query: ListRolesQuery) {
        requireDevAccess(ctx);
        const page = pageRequest(query);
        const { rows, total } = await listRoles(
          deps.db,
          kind,
          ctx.workspaceId,
          { name: query.name },
          page,
        );
        return paged(rows.map(summarise), total, page);
      },
      async get(ctx: RequestContext, id: number | string) {
        requireDevAccess(ctx);
        return present(await requireRole(ctx, id));
      },
      async create(ctx: RequestContext, input: RoleInput) {
        requireDevAccess(ctx);
        const { name, key, config } = await validated(ctx, input);
        const id = await deps.db.transaction().execute(async (trx) => {
          const newId = await insertRole(
            trx,
            kind,
            {
              workspace_id: ctx.workspaceId,
              name,
              name_key: key,
              config,
              type: 'custom',
              inheritable: 0,
              created_at: now(),
              updated_at: now(),
            },
            kind === 'project' ? newPrefixedId('pr') : undefined,
          );
          await recordChange(trx, ctx, now(), `${target}.created`, [target, newId], {
            after: { name, config: input.config },
          });
          return newId;
        });
        return present(await requireRole(ctx, id));
      },
      async update(ctx: RequestContext, id: number | string, input: RoleInput) {
        requireDevAccess(ctx);
        const existing = await requireRole(ctx, id);
        if (existing.type === 'system')
          throw badRequest('role.system', 'System roles can’t be changed.');
        const { name, key, config } = await validated(ctx, input, existing.id);
        await deps.db.transaction().execute(async (trx) => {
          await updateRole(trx, kind, existing.id, {
            name,
            name_key: key,
            config,
            updated_at: now(),
          });
          await recordChange(trx, ctx, now(), `${target}.updated`, [target, existing.id], {
            before: { name: existing.name, config: fromJson(existing.config) },
            after: { name, config: input.config },
          });
        });
        return present(await requireRole(ctx, existing.id));
      },
      async remove(ctx: RequestContext, id: number | string) {
        requireDevAccess(ctx);
        const existing = await requireRole(ctx, id);
        if (existing.type === 'system')
          throw badRequest('role.system', 'System roles can’t be deleted.');
        if (existing.members_count > 0) throw badRequest('role.in_use', ROLE_IN_USE_MESSAGE);
        await deps.db.transaction().execute(async (trx) => {
          await deleteRole(trx, kind, existing.id);
          await recordChange(trx, ctx, now(), `${target}.deleted`, [target, existing.id], {
            before: { name: existing.name, config: fromJson(existing.config) },
          });
        });
      },
    };
  }

  async function requireLegacyRole(ctx: RequestContext, id: number): Promise<LegacyRoleRow> {
    const row = await findLegacyRoleById(deps.db, ctx.workspaceId, id);
    if (row === undefined) throw notFound('role.not_found');
    return row;
  }

  async function legacyRoleView(ctx: RequestContext, id: number): Promise<LegacyRole> {
    const row = await requireLegacyRole(ctx, id);
    const projects = await listLegacyRoleProjects(deps.db, ctx.workspaceId, [row.id]);
    return toLegacyRole(row, projects.get(row.id));
  }

  /**
   * The project access a create or update asks for: `project_ids` alone means 'selected'; 'all'
   * takes no projects; every selected project must be in the workspace and in the client's scope
   * (selecting a project is giving access to it). Undefined on an update that names neither.
   */
  async function legacyProjectAccess(
    ctx: RequestContext,
    input: LegacyRoleBody['role'],
  ): Promise<{ access: 'all' | 'selected'; projectIds: number[] } | undefined> {
    if (input.project_access === undefined && input.project_ids === undefined) return undefined;
    const access = input.project_access ?? 'selected';
    const projectIds = [...new Set(input.project_ids ?? [])].sort((a, b) => a - b);
    if (access === 'all') {
      if (projectIds.length > 0)
        throw badRequest(
          'role.project_ids_unexpected',
          'project_ids are only for project_access selected',
        );
      return { access, projectIds };
    }
    const found = await findProjectsByIds(deps.db, ctx.workspaceId, projectIds);
    const missing = projectIds.find((id) => !found.some((p) => p.id === id));
    if (missing !== undefined)
      throw badRequest('role.project_unknown', `Project ${missing} not found`);
    for (const project of found)
      requireProjectAccess(ctx, { id: project.id, environmentType: project.environment_type });
    return { access, projectIds };
  }

  async function legacyName(ctx: RequestContext, input: LegacyRoleBody['role'], exceptId?: number) {
    const { name } = roleName(input.name);
    assertValidLegacyPrivileges(input.privileges);
    const key = legacyRoleKey(name);
    const existing = await findLegacyRoleByNameKey(deps.db, ctx.workspaceId, key);
    if (existing !== undefined && existing.id !== exceptId)
      throw badRequest('role.name_taken', 'Name has already been taken');
    return { name, key };
  }

  return {
    environmentRoles: newModel('environment', toEnvironmentRole, toEnvironmentRoleSummary),
    projectRoles: newModel('project', toProjectRole, toProjectRoleSummary),
    legacyRoles: {
      async list(ctx: RequestContext, query: ListRolesQuery) {
        requireDevAccess(ctx);
        const page = pageRequest(query);
        const { rows, total } = await listLegacyRoles(
          deps.db,
          ctx.workspaceId,
          { name: query.name },
          page,
        );
        const projects = await listLegacyRoleProjects(
          deps.db,
          ctx.workspaceId,
          rows.filter((row) => row.project_access === 'selected').map((row) => row.id),
        );
        return paged(
          rows.map((row) => toLegacyRole(row, projects.get(row.id))),
          total,
          page,
        );
      },
      async get(ctx: RequestContext, id: number) {
        requireDevAccess(ctx);
        return legacyRoleView(ctx, id);
      },
      async create(ctx: RequestContext, input: LegacyRoleBody['role']) {
        requireDevAccess(ctx);
        const { name, key } = await legacyName(ctx, input);
        const projects = (await legacyProjectAccess(ctx, input)) ?? {
          access: 'all',
          projectIds: [],
        };
        const id = await deps.db.transaction().execute(async (trx) => {
          const row = await trx
            .insertInto('legacy_roles')
            .values({
              workspace_id: ctx.workspaceId,
              name,
              name_key: key,
              privileges: toJson(input.privileges),
              system: 0,
              project_access: projects.access,
              created_at: now(),
              updated_at: now(),
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          await replaceLegacyRoleProjects(trx, ctx.workspaceId, row.id, projects.projectIds);
          await recordChange(trx, ctx, now(), 'role.created', ['role', row.id], {
            after: {
              name,
              privileges: input.privileges,
              project_access: projects.access,
              project_ids: projects.projectIds,
            },
          });
          return row.id;
        });
        return legacyRoleView(ctx, id);
      },
      async update(ctx: RequestContext, id: number, input: LegacyRoleBody['role']) {
        requireDevAccess(ctx);
        const existing = await requireLegacyRole(ctx, id);
        if (fromFlag(existing.system))
          throw badRequest('role.system', 'System roles can’t be changed.');
        const { name, key } = await legacyName(ctx, input, id);
        const projects = await legacyProjectAccess(ctx, input);
        const before = await legacyRoleView(ctx, id);
        await deps.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('legacy_roles')
            .set({
              name,
              name_key: key,
              privileges: toJson(input.privileges),
              ...(projects === undefined ? {} : { project_access: projects.access }),
              updated_at: now(),
            })
            .where('id', '=', id)
            .execute();
          if (projects !== undefined)
            await replaceLegacyRoleProjects(trx, ctx.workspaceId, id, projects.projectIds);
          await recordChange(trx, ctx, now(), 'role.updated', ['role', id], {
            before: {
              name: before.name,
              privileges: before.privileges,
              project_access: before.project_access,
              project_ids: before.project_ids,
            },
            after: {
              name,
              privileges: input.privileges,
              project_access: projects?.access ?? before.project_access,
              project_ids: projects?.projectIds ?? before.project_ids,
            },
          });
        });
        return legacyRoleView(ctx, id);
      },
      async remove(ctx: RequestContext, id: number) {
        requireDevAccess(ctx);
        const existing = await requireLegacyRole(ctx, id);
        if (fromFlag(existing.system))
          throw badRequest('role.system', 'System roles can’t be deleted.');
        if (existing.members_count > 0) throw badRequest('role.in_use', ROLE_IN_USE_MESSAGE);
        await deps.db.transaction().execute(async (trx) => {
          await trx.deleteFrom('legacy_roles').where('id', '=', id).execute();
          await recordChange(trx, ctx, now(), 'role.deleted', ['role', id], {
            before: { name: existing.name, privileges: fromJson(existing.privileges) },
          });
        });
      },
    },
  };
}
export type RolesService = ReturnType<typeof createRolesService>;
