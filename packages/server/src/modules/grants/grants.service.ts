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
import { isForeignKeyViolation, isUniqueViolation } from '../../storage/errors.js';
import { isoNow, toStoredTimestamp, type Clock } from '../../lib/clock.js';
import { badRequest, conflict, notFound } from '../../lib/errors.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest } from '../../lib/pagination.js';
import { requireDevAccess, requireProjectAccess } from '../../lib/scope.js';
import { recordChange, recordChangeWith } from '../audit/audit.repository.js';
import type { ProjectsService } from '../projects/projects.service.js';
import {
  deleteGrantStatement,
  findExistingIds,
  findGrantById,
  listGrants,
  upsertGrantIfReferencesExist,
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

/** Thrown inside the transaction to undo it when a grant cannot be written; never leaves this file. */
class GrantRejected extends Error {}

/** The expiry as stored, or undefined when it is not in the future (rejectGrant says so). */
function storedExpiry(value: string | null | undefined, now: string): string | null | undefined {
  if (value === undefined || value === null) return null;
  const stored = toStoredTimestamp(value);
  return stored <= now ? undefined : stored;
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

  /**
   * Throws the 400 of a grant that could not be written, checking in the order the API reports:
   * the project role, then the grantee, then the expiry. Returns when all three are fine now.
   */
  async function rejectGrant(
    ctx: RequestContext,
    grant: UpsertProjectGrantsBody['project_grants'][number],
    at: string,
  ): Promise<void> {
    const roles = await findExistingIds(deps.db, 'project_roles', ctx.workspaceId, [
      grant.project_role_id,
    ]);
    if (!roles.has(grant.project_role_id))
      throw badRequest('grant.role_unknown', `Project role ${grant.project_role_id} not found`);
    if (grant.assignment_type === 'User') {
      const memberId = memberIdOf(grant.assignment_id);
      const members =
        memberId === undefined
          ? new Set<number>()
          : await findExistingIds(deps.db, 'members', ctx.workspaceId, [memberId]);
      if (memberId === undefined || !members.has(memberId))
        throw badRequest('grant.user_unknown', `User ${String(grant.assignment_id)} not found`);
    } else {
      const groupId = String(grant.assignment_id);
      const groups = await findExistingIds(deps.db, 'collaborator_groups', ctx.workspaceId, [
        groupId,
      ]);
      if (!groups.has(groupId))
        throw badRequest('grant.group_unknown', `User group ${groupId} not found`);
    }
    expiry(grant.expires_at, at);
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
        await recordChangeWith(
          trx,
          [deleteGrantStatement(trx, id)],
          ctx,
          now(),
          'project_grant.deleted',
          ['project_grant', id],
          { before: toProjectGrant(grant, now()) },
        );
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
      // Each grant is validated by its own write (upsertGrantIfReferencesExist): one statement a
      // grant instead of a lookup per table before the transaction and then the write. The first
      // grant that cannot be written ends the transaction (nothing is kept), and `rejectGrant`
      // then names its first fault as the lookups did: the role, the grantee, the expiry.
      let failed: number | undefined;
      try {
        await deps.db.transaction().execute(async (trx) => {
          const grantIds: string[] = [];
          for (const [i, grant] of body.project_grants.entries()) {
            failed = i;
            const memberId =
              grant.assignment_type === 'User' ? memberIdOf(grant.assignment_id) : null;
            const expiresAt = storedExpiry(grant.expires_at, at);
            if (memberId === undefined || expiresAt === undefined) throw new GrantRejected();
            const grantId = await upsertGrantIfReferencesExist(
              trx,
              newPrefixedId('pg'),
              {
                workspace_id: ctx.workspaceId,
                project_id: project.id,
                project_role_id: grant.project_role_id,
                member_id: memberId,
                group_id: memberId === null ? String(grant.assignment_id) : null,
                expires_at: expiresAt,
              },
              at,
            );
            if (grantId === undefined) throw new GrantRejected();
            grantIds.push(grantId);
          }
          failed = undefined;
          // Each grant's ID beside what was asked: the log says which grants the request made or
          // refreshed, and the access index reloads those grants, not the whole project.
          await recordChange(trx, ctx, at, 'project_grants.upserted', ['project', project.id], {
            after: body.project_grants.map((grant, i) => ({ ...grant, id: grantIds[i] })),
          });
        });
      } catch (error) {
        // A foreign-key failure is a role or grantee deleted by another request between the
        // guard's read and the write: the same 400 as when it was gone before.
        const grant = failed === undefined ? undefined : body.project_grants[failed];
        if (
          grant === undefined ||
          !(error instanceof GrantRejected || isForeignKeyViolation(error))
        )
          throw error;
        await rejectGrant(ctx, grant, at);
        // Missing at the write, present now: created by another request meanwhile.
        throw conflict('grant.changed', 'The project role or grantee changed meanwhile; try again');
      }
    },
  };
}
export type GrantsService = ReturnType<typeof createGrantsService>;
