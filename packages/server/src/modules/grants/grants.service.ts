/**
 * Project grants: a project role given to a collaborator or a collaborator group on one project.
 * An assignee may hold several roles on a project; the same role twice is "already taken".
 */
import {
  PROJECT_GRANTS_PER_REQUEST,
  type ProjectGrant,
  type UpdateProjectGrantBody,
  type UpsertProjectGrantsBody,
} from '@roster/contracts';
import type { Db } from '../../storage/database.js';
import { fromFlag } from '../../storage/json.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { isoNow, toStoredTimestamp, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest } from '../../lib/pagination.js';
import { requireDevAccess, requireProjectAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import type { ProjectsService } from '../projects/projects.service.js';
import {
  deleteGrantById,
  findExistingIds,
  findGrantById,
  listGrants,
  upsertGrant,
  type GrantFilter,
  type GrantRow,
} from './grants.repository.js';

export const ASSIGNMENT_TAKEN_MESSAGE = 'Assignment has already been taken';

export function toProjectGrant(row: GrantRow, now: string): ProjectGrant {
  return {
    id: row.id,
    project: {
      id: row.project_id,
      name: row.project_name,
      environment: { id: row.environment_id, type: row.environment_type },
    },
    project_role: { id: row.project_role_id, name: row.project_role_name },
    user_group:
      row.group_id === null
        ? null
        : { id: row.group_id, name: row.group_name ?? '', system: fromFlag(row.group_system ?? 0) },
    user:
      row.member_id === null
        ? null
        : { id: row.member_id, name: row.member_name ?? '', email: row.member_email ?? '' },
    expires_at: row.expires_at,
    expired: row.expires_at !== null && row.expires_at <= now,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function expiry(value: string | null | undefined, now: string): string | null {
  if (value === undefined || value === null) return null;
  const stored = toStoredTimestamp(value);
  if (stored <= now) throw badRequest('grant.expiry_past', 'expires_at must be in the future');
  return stored;
}

/**
 * Collaborator IDs are integers, but the reference API sends them as strings ("1"). Anything but
 * plain digits is an unknown user, never NaN or a loosely parsed number (" 1", "1e0", "0x1").
 */
function memberIdOf(assignmentId: string | number): number | undefined {
  const text = String(assignmentId);
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : undefined;
}

export function createGrantsService(deps: { db: Db; clock: Clock; projects: ProjectsService }) {
  const now = () => isoNow(deps.clock);

  async function requireGrant(ctx: RequestContext, id: string): Promise<GrantRow> {
    const grant = await findGrantById(deps.db, ctx.workspaceId, id);
    if (grant === undefined) throw notFound('grant.not_found');
    requireProjectAccess(ctx, { id: grant.project_id, environmentType: grant.environment_type });
    return grant;
  }

  /** One page of grants, each shown with the fields its listing names (the rest is implied by the path). */
  async function list<K extends keyof ProjectGrant>(
    ctx: RequestContext,
    filter: GrantFilter,
    query: { 'page[number]'?: number; 'page[size]'?: number },
    fields: readonly K[],
  ) {
    const page = pageRequest(query);
    const { rows, total } = await listGrants(deps.db, ctx.workspaceId, filter, page, ctx.scope);
    const at = now();
    return paged(
      rows.map((row) => {
        const grant = toProjectGrant(row, at);
        // Object.fromEntries loses the key types; the entries are exactly `fields` of a ProjectGrant.
        return Object.fromEntries(fields.map((field) => [field, grant[field]])) as Pick<
          ProjectGrant,
          K
        >;
      }),
      total,
      page,
    );
  }

  async function requireRole(ctx: RequestContext, roleId: string) {
    const role = await deps.db
      .selectFrom('project_roles')
      .select(['id', 'name'])
      .where('workspace_id', '=', ctx.workspaceId)
      .where('id', '=', roleId)
      .executeTakeFirst();
    if (role === undefined)
      throw badRequest('grant.role_unknown', `Project role ${roleId} not found`);
    return role;
  }

  return {
    async getGrant(ctx: RequestContext, id: string): Promise<ProjectGrant> {
      return toProjectGrant(await requireGrant(ctx, id), now());
    },

    async updateGrant(
      ctx: RequestContext,
      id: string,
      body: UpdateProjectGrantBody,
    ): Promise<ProjectGrant> {
      const grant = await requireGrant(ctx, id);
      const role = await requireRole(ctx, body.project_grant.project_role_id);
      const expiresAt =
        body.project_grant.expires_at === undefined
          ? grant.expires_at
          : expiry(body.project_grant.expires_at, now());
      try {
        await deps.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('project_grants')
            .set({ project_role_id: role.id, expires_at: expiresAt, updated_at: now() })
            .where('id', '=', id)
            .execute();
          await recordChange(trx, ctx, now(), 'project_grant.updated', ['project_grant', id], {
            before: { project_role_id: grant.project_role_id, expires_at: grant.expires_at },
            after: { project_role_id: role.id, expires_at: expiresAt },
          });
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw badRequest('grant.taken', ASSIGNMENT_TAKEN_MESSAGE);
        throw error;
      }
      return toProjectGrant(await requireGrant(ctx, id), now());
    },

    async deleteGrant(ctx: RequestContext, id: string): Promise<void> {
      const grant = await requireGrant(ctx, id);
      await deps.db.transaction().execute(async (trx) => {
        await deleteGrantById(trx, id);
        await recordChange(trx, ctx, now(), 'project_grant.deleted', ['project_grant', id], {
          before: toProjectGrant(grant, now()),
        });
      });
    },

    async listProjectGrants(
      ctx: RequestContext,
      projectId: number,
      query: { 'page[number]'?: number; 'page[size]'?: number },
    ) {
      await deps.projects.requireProject(ctx, projectId);
      return list(ctx, { projectId }, query, [
        'id',
        'project_role',
        'user',
        'user_group',
        'expires_at',
        'expired',
      ]);
    },

    /** Grants of one collaborator (direct only) or one group, limited to projects the caller may see. */
    async listAssigneeGrants(
      ctx: RequestContext,
      filter: { memberId: number } | { groupId: string },
      query: { 'page[number]'?: number; 'page[size]'?: number },
    ) {
      requireDevAccess(ctx);
      return list(ctx, filter, query, ['id', 'project', 'project_role', 'expires_at', 'expired']);
    },

    /** Adds grants, or refreshes the identical ones; at most 100 a request, all or nothing. */
    async upsertProjectGrants(
      ctx: RequestContext,
      projectId: number,
      body: UpsertProjectGrantsBody,
    ): Promise<void> {
      if (body.project_grants.length > PROJECT_GRANTS_PER_REQUEST) {
        throw badRequest(
          'grant.limit_exceeded',
          `Max ${PROJECT_GRANTS_PER_REQUEST} project grants per request`,
        );
      }
      const project = await deps.projects.requireProject(ctx, projectId);
      const at = now();
      const roleIds = [...new Set(body.project_grants.map((g) => g.project_role_id))];
      const memberIds = [
        ...new Set(
          body.project_grants
            .filter((g) => g.assignment_type === 'User')
            .map((g) => memberIdOf(g.assignment_id))
            .filter((id) => id !== undefined),
        ),
      ];
      const groupIds = [
        ...new Set(
          body.project_grants
            .filter((g) => g.assignment_type === 'UserGroup')
            .map((g) => String(g.assignment_id)),
        ),
      ];
      const [knownRoles, knownMembers, knownGroups] = await Promise.all([
        findExistingIds(deps.db, 'project_roles', ctx.workspaceId, roleIds),
        findExistingIds(deps.db, 'members', ctx.workspaceId, memberIds),
        findExistingIds(deps.db, 'collaborator_groups', ctx.workspaceId, groupIds),
      ]);
      const items = body.project_grants.map((grant) => {
        if (!knownRoles.has(grant.project_role_id)) {
          throw badRequest('grant.role_unknown', `Project role ${grant.project_role_id} not found`);
        }
        if (grant.assignment_type === 'User') {
          const memberId = memberIdOf(grant.assignment_id);
          if (memberId === undefined || !knownMembers.has(memberId))
            throw badRequest('grant.user_unknown', `User ${String(grant.assignment_id)} not found`);
          return {
            member_id: memberId,
            group_id: null,
            role: grant.project_role_id,
            expires_at: expiry(grant.expires_at, at),
          };
        }
        const groupId = String(grant.assignment_id);
        if (!knownGroups.has(groupId))
          throw badRequest('grant.group_unknown', `User group ${groupId} not found`);
        return {
          member_id: null,
          group_id: groupId,
          role: grant.project_role_id,
          expires_at: expiry(grant.expires_at, at),
        };
      });
      await deps.db.transaction().execute(async (trx) => {
        const grantIds: string[] = [];
        for (const item of items) {
          const grantId = await upsertGrant(
            trx,
            newPrefixedId('pg'),
            {
              workspace_id: ctx.workspaceId,
              project_id: project.id,
              project_role_id: item.role,
              member_id: item.member_id,
              group_id: item.group_id,
              expires_at: item.expires_at,
            },
            at,
          );
          grantIds.push(grantId);
        }
        // Each grant's ID beside what was asked: the log says which grants the request made or
        // refreshed, and the access index reloads those grants, not the whole project.
        await recordChange(trx, ctx, at, 'project_grants.upserted', ['project', project.id], {
          after: body.project_grants.map((grant, i) => ({ ...grant, id: grantIds[i] })),
        });
      });
    },
  };
}
export type GrantsService = ReturnType<typeof createGrantsService>;
