/**
 * The legacy-roles migration tool: converts legacy system roles, or one custom role, into
 * environment roles and project roles, reassigns collaborators and grants project access.
 * A dry run computes the same plan and writes nothing. The mapping is documented in
 * docs/roles-migration.md.
 */
import {
  convertLegacyPrivileges,
  LEGACY_SYSTEM_ROLE_MIGRATION,
  MODERATOR_MIGRATION,
  SYSTEM_ENVIRONMENT_ROLES,
  SYSTEM_PROJECT_ROLES,
  type CustomRoleMigrationBody,
  type LegacyPrivileges,
  type MigrationPlan,
  type RoleConfig,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { fromFlag, fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { RequestContext } from '../../lib/context.js';
import { requireDevAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import { upsertGrant } from '../grants/grants.repository.js';
import { setMemberEnvironmentRoles } from '../members/members.repository.js';
import { listProjectsInEnvironments } from '../projects/projects.repository.js';
import {
  findLegacyRoleById,
  findRoleByNameKey,
  insertRole,
  listLegacyRoleProjects,
} from '../roles/roles.repository.js';
import { assertValidRoleConfig } from '../roles/roles.service.js';
import { listEnvironments } from '../environments/environments.repository.js';

interface Assignment {
  memberId: number;
  email: string;
  name: string;
  environmentId: number;
  environmentType: string;
  environmentRole: string;
  projectRole: string;
  /** The projects a custom legacy role selects (project_access 'selected'); null: all of them. */
  projectIds: ReadonlySet<number> | null;
}

/** The projects of the assignment's environment that its legacy role applies to. */
const coveredBy = (a: Assignment) => (project: { id: number; environment_id: number }) =>
  project.environment_id === a.environmentId &&
  (a.projectIds === null || a.projectIds.has(project.id));

/** Adds extra permissions to a config: privilege lists are united, and `all` wins. */
export function withAdditionalPermissions(
  config: RoleConfig,
  additional: RoleConfig | undefined,
): RoleConfig {
  const merged: RoleConfig = structuredClone(config);
  for (const [resource, entry] of Object.entries(additional ?? {})) {
    const current = merged[resource]?.privileges;
    if (current === 'all' || entry.privileges === 'all') merged[resource] = { privileges: 'all' };
    else merged[resource] = { privileges: [...new Set([...(current ?? []), ...entry.privileges])] };
  }
  return merged;
}

async function legacyAssignments(db: Executor, workspaceId: number, legacyRoleIds: number[]) {
  if (legacyRoleIds.length === 0) return [];
  return db
    .selectFrom('member_environment_roles as mer')
    .innerJoin('members as m', 'm.id', 'mer.member_id')
    .innerJoin('environments as e', 'e.id', 'mer.environment_id')
    .innerJoin('legacy_roles as lr', 'lr.id', 'mer.legacy_role_id')
    .select([
      'm.id as member_id',
      'm.email',
      'm.name',
      'm.grant_type',
      'e.id as environment_id',
      'e.type as environment_type',
      'lr.name as role_name',
    ])
    .where('mer.workspace_id', '=', workspaceId)
    .where('mer.role_type', '=', 'privilege_group')
    .where('mer.legacy_role_id', 'in', legacyRoleIds)
    .orderBy('m.id')
    .orderBy('e.id')
    .execute();
}

function buildPlan(
  environmentRoles: MigrationPlan['environment_roles'],
  projectRoles: MigrationPlan['project_roles'],
  assignments: Assignment[],
  moderators: Assignment[],
  projects: { id: number; name: string; environment_id: number; environment_type: string }[],
): MigrationPlan {
  const people = new Map<number, MigrationPlan['collaborators'][number]>();
  for (const a of assignments) {
    const person = people.get(a.memberId) ?? {
      user_id: a.memberId,
      email: a.email,
      name: a.name,
      roles: [],
    };
    person.roles.push({ environment: a.environmentType, name: a.environmentRole });
    people.set(a.memberId, person);
  }
  const everyone = [...assignments, ...moderators];
  const moderatorSeen = new Set<number>();
  return {
    environment_roles: environmentRoles,
    project_roles: projectRoles,
    collaborators: [...people.values()],
    projects: projects
      .map((project) => ({
        id: project.id,
        name: project.name,
        environment: project.environment_type,
        collaborators: everyone
          .filter((a) => coveredBy(a)(project))
          .map((a) => ({
            user_id: a.memberId,
            email: a.email,
            name: a.name,
            project_role: a.projectRole,
          })),
      }))
      .filter((project) => project.collaborators.length > 0),
    moderators: moderators
      .filter((m) =>
        moderatorSeen.has(m.memberId) ? false : (moderatorSeen.add(m.memberId), true),
      )
      .map((m) => ({
        user_id: m.memberId,
        email: m.email,
        name: m.name,
        environment_role: m.environmentRole,
        project_role: m.projectRole,
      })),
  };
}

function roleExists(kind: 'environment' | 'project', name: string) {
  const article = kind === 'environment' ? 'An' : 'A';
  return badRequest(
    'migration.role_exists',
    `${article} ${kind} role named ${name} already exists`,
  );
}

/**
 * The system roles the migration creates may already exist from an earlier run (harmless: they
 * are reused), but a custom role holding one of their names would block the real run; a dry run
 * reports that too rather than promising a plan that cannot be applied.
 */
async function assertSystemRoleNamesFree(db: Executor, workspaceId: number): Promise<void> {
  const wanted = [
    ...Object.keys(SYSTEM_ENVIRONMENT_ROLES).map((name) => ['environment', name] as const),
    ...Object.keys(SYSTEM_PROJECT_ROLES).map((name) => ['project', name] as const),
  ];
  for (const [kind, name] of wanted) {
    const existing = await findRoleByNameKey(db, kind, workspaceId, name.toLowerCase());
    if (existing !== undefined && existing.type !== 'system') throw roleExists(kind, name);
  }
}

export function createRolesMigrationService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  /** Finds or creates the named role; an existing role of another kind with that name is a conflict. */
  async function ensureRole(
    trx: Executor,
    ctx: RequestContext,
    kind: 'environment' | 'project',
    name: string,
    config: RoleConfig,
    type: 'system' | 'custom',
  ): Promise<number | string> {
    const existing = await findRoleByNameKey(trx, kind, ctx.workspaceId, name.toLowerCase());
    if (existing !== undefined) {
      if (type === 'system' && existing.type === 'system') return existing.id;
      throw roleExists(kind, name);
    }
    return insertRole(
      trx,
      kind,
      {
        workspace_id: ctx.workspaceId,
        name,
        name_key: name.toLowerCase(),
        config: toJson(config),
        type,
        inheritable: 0,
        created_at: now(),
        updated_at: now(),
      },
      kind === 'project' ? newPrefixedId('pr') : undefined,
    );
  }

  async function apply(
    trx: Executor,
    ctx: RequestContext,
    assignments: Assignment[],
    roleIds: { environment: Map<string, number | string>; project: Map<string, number | string> },
    projects: { id: number; environment_id: number }[],
  ) {
    for (const a of assignments) {
      const environmentRoleId = roleIds.environment.get(a.environmentRole);
      const projectRoleId = roleIds.project.get(a.projectRole);
      if (environmentRoleId === undefined || projectRoleId === undefined)
        throw new Error('migration role missing');
      await setMemberEnvironmentRoles(trx, ctx.workspaceId, a.memberId, [
        {
          environmentId: a.environmentId,
          roleType: 'environment',
          legacyRoleId: null,
          environmentRoleId: Number(environmentRoleId),
        },
      ]);
      for (const project of projects.filter(coveredBy(a))) {
        await upsertGrant(
          trx,
          newPrefixedId('pg'),
          {
            workspace_id: ctx.workspaceId,
            project_id: project.id,
            project_role_id: String(projectRoleId),
            member_id: a.memberId,
            group_id: null,
            expires_at: null,
          },
          now(),
        );
      }
    }
  }

  return {
    async migrateSystemRoles(ctx: RequestContext, dryRun: boolean): Promise<MigrationPlan> {
      requireDevAccess(ctx);
      const run = async (trx: Executor) => {
        await assertSystemRoleNamesFree(trx, ctx.workspaceId);
        const environments = await listEnvironments(trx, ctx.workspaceId);
        const systemRoles = await trx
          .selectFrom('legacy_roles')
          .select(['id', 'name'])
          .where('workspace_id', '=', ctx.workspaceId)
          .where('system', '=', 1)
          .execute();
        const rows = await legacyAssignments(
          trx,
          ctx.workspaceId,
          systemRoles.map((r) => r.id),
        );
        const assignments: Assignment[] = [];
        const moderators: Assignment[] = [];
        for (const row of rows) {
          const isModerator = row.grant_type === 'federation_manager';
          const mapping = isModerator
            ? MODERATOR_MIGRATION
            : LEGACY_SYSTEM_ROLE_MIGRATION[row.role_name];
          if (mapping === undefined || mapping === null) continue;
          const assignment = {
            memberId: row.member_id,
            email: row.email,
            name: row.name,
            environmentId: row.environment_id,
            environmentType: row.environment_type,
            environmentRole: mapping.environment_role,
            projectRole: mapping.project_role,
            projectIds: null,
          };
          (isModerator ? moderators : assignments).push(assignment);
        }
        const projects = await listProjectsInEnvironments(
          trx,
          ctx.workspaceId,
          environments.map((e) => e.id),
        );
        const plan = buildPlan(
          Object.entries(SYSTEM_ENVIRONMENT_ROLES).map(([name, config]) => ({ name, config })),
          Object.entries(SYSTEM_PROJECT_ROLES).map(([name, config]) => ({ name, config })),
          assignments,
          moderators,
          projects,
        );
        if (dryRun) return plan;
        const roleIds = {
          environment: new Map<string, number | string>(),
          project: new Map<string, number | string>(),
        };
        for (const [name, config] of Object.entries(SYSTEM_ENVIRONMENT_ROLES)) {
          roleIds.environment.set(
            name,
            await ensureRole(trx, ctx, 'environment', name, config, 'system'),
          );
        }
        for (const [name, config] of Object.entries(SYSTEM_PROJECT_ROLES)) {
          roleIds.project.set(name, await ensureRole(trx, ctx, 'project', name, config, 'system'));
        }
        await apply(trx, ctx, [...assignments, ...moderators], roleIds, projects);
        await recordChange(
          trx,
          ctx,
          now(),
          'roles_migration.system_roles',
          ['workspace', ctx.workspaceId],
          {
            after: plan,
          },
        );
        return plan;
      };
      return dryRun ? run(deps.db) : deps.db.transaction().execute(run);
    },

    async migrateCustomRole(
      ctx: RequestContext,
      body: CustomRoleMigrationBody,
    ): Promise<MigrationPlan> {
      requireDevAccess(ctx);
      const dryRun = body.dry_run ?? false;
      const run = async (trx: Executor) => {
        const legacy = await findLegacyRoleById(trx, ctx.workspaceId, body.privilege_group_id);
        if (legacy === undefined)
          throw notFound('migration.role_not_found', `Role ${body.privilege_group_id} not found`);
        if (fromFlag(legacy.system)) {
          throw badRequest(
            'migration.system_role',
            `${legacy.name} is a system role: migrate it with /api/roles_migration/system_roles`,
          );
        }
        const environmentRoleName = body.environment_role.name.trim();
        const projectRoleName = body.project_role.name.trim();
        if (environmentRoleName === '' || projectRoleName === '')
          throw badRequest('migration.name_blank', "Name can't be blank");
        for (const [kind, name] of [
          ['environment', environmentRoleName],
          ['project', projectRoleName],
        ] as const) {
          if (
            (await findRoleByNameKey(trx, kind, ctx.workspaceId, name.toLowerCase())) !== undefined
          ) {
            throw roleExists(kind, name);
          }
        }
        assertValidRoleConfig('environment', body.environment_role.additional_permissions ?? {});
        assertValidRoleConfig('project', body.project_role.additional_permissions ?? {});
        const converted = convertLegacyPrivileges(fromJson<LegacyPrivileges>(legacy.privileges));
        const environmentConfig = withAdditionalPermissions(
          converted.environment,
          body.environment_role.additional_permissions,
        );
        const projectConfig = withAdditionalPermissions(
          converted.project,
          body.project_role.additional_permissions,
        );
        const rows = await legacyAssignments(trx, ctx.workspaceId, [legacy.id]);
        // A role that selects projects gives grants on those only: nothing gained, nothing lost.
        const projectIds =
          legacy.project_access === 'selected'
            ? new Set(
                (await listLegacyRoleProjects(trx, ctx.workspaceId, [legacy.id])).get(legacy.id),
              )
            : null;
        const all = rows.map((row) => ({
          memberId: row.member_id,
          email: row.email,
          name: row.name,
          environmentId: row.environment_id,
          environmentType: row.environment_type,
          environmentRole: environmentRoleName,
          projectRole: projectRoleName,
          projectIds,
          moderator: row.grant_type === 'federation_manager',
        }));
        const environments = await listEnvironments(trx, ctx.workspaceId);
        const projects = await listProjectsInEnvironments(
          trx,
          ctx.workspaceId,
          environments.map((e) => e.id),
        );
        const plan = buildPlan(
          [{ name: environmentRoleName, config: environmentConfig }],
          [{ name: projectRoleName, config: projectConfig }],
          all.filter((a) => !a.moderator),
          all.filter((a) => a.moderator),
          projects,
        );
        if (dryRun) return plan;
        const roleIds = {
          environment: new Map([
            [
              environmentRoleName,
              await ensureRole(
                trx,
                ctx,
                'environment',
                environmentRoleName,
                environmentConfig,
                'custom',
              ),
            ],
          ]),
          project: new Map([
            [
              projectRoleName,
              await ensureRole(trx, ctx, 'project', projectRoleName, projectConfig, 'custom'),
            ],
          ]),
        };
        await apply(trx, ctx, all, roleIds, projects);
        await recordChange(trx, ctx, now(), 'roles_migration.custom_role', ['role', legacy.id], {
          after: plan,
        });
        return plan;
      };
      return dryRun ? run(deps.db) : deps.db.transaction().execute(run);
    },
  };
}
export type RolesMigrationService = ReturnType<typeof createRolesMigrationService>;
