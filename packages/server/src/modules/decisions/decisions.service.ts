/**
 * Effective access: the one module that computes what a collaborator may do. Environment
 * privileges come from the collaborator's role in each environment; project privileges are the
 * union of the project roles granted to them directly and to every group they belong to, leaving
 * out grants and memberships that have expired.
 */
import {
  ENVIRONMENT_RESOURCES,
  PROJECT_RESOURCES,
  describeRoleConfig,
  type LegacyPrivileges,
  type RoleConfig,
} from '@roster/contracts';

import type { Db, Executor } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import type { RequestContext } from '../../lib/context.js';
import { listRolesOfMembers } from '../members/members.repository.js';
import { listEnvironments } from '../workspaces/workspaces.repository.js';

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

/** Project roles that reach a member now: direct grants and grants to their unexpired groups. */
function effectiveProjectRoles(db: Executor, workspaceId: number, memberId: number, now: string) {
  const groupIds = db
    .selectFrom('group_memberships')
    .select('group_id')
    .where('member_id', '=', memberId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  const systemGroupIds = db
    .selectFrom('collaborator_groups')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('system', '=', 1);
  return db
    .selectFrom('project_grants as g')
    .innerJoin('projects as p', 'p.id', 'g.project_id')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .innerJoin('project_roles as r', 'r.id', 'g.project_role_id')
    .select(['g.project_id', 'p.environment_id', 'e.type as environment_type', 'r.config'])
    .where('g.workspace_id', '=', workspaceId)
    .where((eb) =>
      eb.or([
        eb('g.member_id', '=', memberId),
        eb('g.group_id', 'in', groupIds),
        eb('g.group_id', 'in', systemGroupIds),
      ]),
    )
    .where((eb) => eb.or([eb('g.expires_at', 'is', null), eb('g.expires_at', '>', now)]))
    .orderBy('e.id')
    .orderBy('g.project_id')
    .execute();
}

function mergeInto(target: Record<string, string[]>, addition: Record<string, string[]>): void {
  for (const [resource, privileges] of Object.entries(addition)) {
    const merged = new Set([...(target[resource] ?? []), ...privileges]);
    target[resource] = [...merged];
  }
}

export function createDecisionsService(deps: { db: Db; clock: Clock }) {
  return {
    /** Each environment's role and everything it allows, in the reference API's shape. */
    async memberPrivileges(ctx: RequestContext, memberId: number): Promise<EnvironmentPrivileges[]> {
      const [environments, roles] = await Promise.all([
        listEnvironments(deps.db, ctx.workspaceId),
        listRolesOfMembers(deps.db, [memberId]),
      ]);
      return environments.map((environment) => {
        const role = roles.find((r) => r.environment_id === environment.id);
        if (role === undefined) {
          return { environment_type: environment.type, name: 'No access', role_type: 'privilege_group', privileges: {} };
        }
        if (role.role_type === 'environment') {
          const config = fromJson<RoleConfig>(role.environment_config ?? '{}');
          return {
            environment_type: environment.type,
            name: role.role_name ?? '',
            role_type: 'environment',
            privileges: describeRoleConfig(config, ENVIRONMENT_RESOURCES),
          };
        }
        return {
          environment_type: environment.type,
          name: role.role_name ?? '',
          role_type: 'privilege_group',
          privileges: fromJson<LegacyPrivileges>(role.legacy_privileges ?? '{}'),
        };
      });
    },

    /** Project privileges per environment, direct and through groups; only environments with projects. */
    async memberProjectsPrivileges(ctx: RequestContext, memberId: number): Promise<ProjectsPrivileges[]> {
      const rows = await effectiveProjectRoles(deps.db, ctx.workspaceId, memberId, isoNow(deps.clock));
      const byEnvironment = new Map<number, ProjectsPrivileges>();
      for (const row of rows) {
        let entry = byEnvironment.get(row.environment_id);
        if (entry === undefined) {
          entry = { environment: { id: row.environment_id, type: row.environment_type }, projects: {} };
          byEnvironment.set(row.environment_id, entry);
        }
        const key = String(row.project_id);
        const project = (entry.projects[key] ??= {});
        mergeInto(project, describeRoleConfig(fromJson<RoleConfig>(row.config), PROJECT_RESOURCES));
      }
      return [...byEnvironment.values()];
    },
  };
}
export type DecisionsService = ReturnType<typeof createDecisionsService>;
