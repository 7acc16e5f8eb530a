/**
 * Collaborator groups: CRUD, membership (collaborators and pending invitees), and the system
 * group "All collaborators" that holds every collaborator implicitly and cannot be changed.
 */
import type {
  AddGroupMembersBody,
  CollaboratorGroup,
  CollaboratorGroupBody,
  GetGroupQuery,
  ListGroupMembersQuery,
  ListGroupsQuery,
  RemoveGroupMembersQuery,
} from '@roster/contracts';
import type { Db } from '../../storage/database.js';
import { fromFlag } from '../../storage/json.js';
import { isoNow, toStoredTimestamp, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { isForeignKeyViolation } from '../../storage/errors.js';
import { runTogether } from '../../storage/pipeline.js';
import { nameAndKey } from '../../lib/names.js';
import { newPrefixedId } from '../../lib/ids.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest } from '../../lib/pagination.js';
import { recordChange, recordChangeWith } from '../audit/audit.repository.js';
import { requireDevAccess } from '../../lib/scope.js';
import {
  deleteGroup,
  deleteMembershipsStatements,
  removedCount,
  findGroupById,
  findGroupByNameKey,
  findGroupRowById,
  insertGroup,
  listGroupMembers,
  listGroups,
  updateGroup,
  upsertMembershipsStatement,
  addedMembers,
  type GroupRow,
} from './groups.repository.js';

/** The reference shape; `withProvisioning` (`include=provisioning`) adds `managed_by` last. */
export function toCollaboratorGroup(row: GroupRow, withProvisioning = false): CollaboratorGroup {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    members_count: row.members_count,
    system: fromFlag(row.system),
    created_at: row.created_at,
    updated_at: row.updated_at,
    ...(withProvisioning ? { managed_by: managedBy(row.managed_by) } : {}),
  };
}

const managedBy = (value: string): 'manual' | 'external' =>
  value === 'external' ? 'external' : 'manual';

const normalisedName = (name: string | undefined) => nameAndKey(name, 'group.name_blank');

/** Thrown inside addMembers' transaction to undo it; never leaves this file. */
class MembersMissing extends Error {}

export function createGroupsService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function requireGroup(ctx: RequestContext, id: string): Promise<GroupRow> {
    const group = await findGroupById(deps.db, ctx.workspaceId, id, now());
    if (group === undefined) throw notFound('group.not_found');
    return group;
  }

  /**
   * The group as a membership change needs it (it exists, is it a system group): without the
   * member count, which walks the group's memberships on every add and remove.
   */
  async function requireGroupRow(ctx: RequestContext, id: string) {
    const group = await findGroupRowById(deps.db, ctx.workspaceId, id);
    if (group === undefined) throw notFound('group.not_found');
    return group;
  }

  async function assertNameFree(
    ctx: RequestContext,
    key: string,
    exceptId?: string,
  ): Promise<void> {
    const existing = await findGroupByNameKey(deps.db, ctx.workspaceId, key);
    if (existing !== undefined && existing.id !== exceptId) {
      throw badRequest('group.name_taken', 'Name has already been taken');
    }
  }

  return {
    async listGroups(ctx: RequestContext, query: ListGroupsQuery) {
      requireDevAccess(ctx);
      const page = pageRequest(query);
      const { rows, total } = await listGroups(
        deps.db,
        ctx.workspaceId,
        { name: query.name },
        page,
        now(),
      );
      const withProvisioning = query.include === 'provisioning';
      return paged(
        rows.map((row) => toCollaboratorGroup(row, withProvisioning)),
        total,
        page,
      );
    },

    async getGroup(
      ctx: RequestContext,
      id: string,
      query: GetGroupQuery = {},
    ): Promise<CollaboratorGroup> {
      requireDevAccess(ctx);
      return toCollaboratorGroup(await requireGroup(ctx, id), query.include === 'provisioning');
    },

    async createGroup(
      ctx: RequestContext,
      body: CollaboratorGroupBody,
    ): Promise<CollaboratorGroup> {
      requireDevAccess(ctx);
      const { name, key } = normalisedName(body.user_group.name);
      await assertNameFree(ctx, key);
      const id = newPrefixedId('am');
      await deps.db.transaction().execute(async (trx) => {
        const row = await insertGroup(trx, {
          id,
          workspace_id: ctx.workspaceId,
          name,
          name_key: key,
          description: body.user_group.description ?? null,
          system: 0,
          created_at: now(),
          updated_at: now(),
        });
        await recordChange(trx, ctx, now(), 'user_group.created', ['user_group', id], {
          after: { name: row.name, description: row.description },
        });
      });
      return toCollaboratorGroup(await requireGroup(ctx, id));
    },

    async updateGroup(
      ctx: RequestContext,
      id: string,
      body: CollaboratorGroupBody,
    ): Promise<CollaboratorGroup> {
      requireDevAccess(ctx);
      const group = await requireGroup(ctx, id);
      if (fromFlag(group.system))
        throw badRequest('group.system', 'System groups can’t be changed.');
      const { name, key } = normalisedName(body.user_group.name);
      await assertNameFree(ctx, key, id);
      const description =
        body.user_group.description === undefined ? group.description : body.user_group.description;
      await deps.db.transaction().execute(async (trx) => {
        await updateGroup(trx, id, { name, name_key: key, description, updated_at: now() });
        await recordChange(trx, ctx, now(), 'user_group.updated', ['user_group', id], {
          before: { name: group.name, description: group.description },
          after: { name, description },
        });
      });
      return toCollaboratorGroup(await requireGroup(ctx, id));
    },

    /** Deletes the group with its memberships and project grants (foreign keys cascade). */
    async deleteGroup(ctx: RequestContext, id: string): Promise<void> {
      requireDevAccess(ctx);
      const group = await requireGroup(ctx, id);
      if (fromFlag(group.system))
        throw badRequest('group.system', 'You can’t delete a system group.');
      await deps.db.transaction().execute(async (trx) => {
        const grants = await trx
          .selectFrom('project_grants')
          .select(['id', 'project_id', 'project_role_id'])
          .where('group_id', '=', id)
          .execute();
        await deleteGroup(trx, id);
        await recordChange(trx, ctx, now(), 'user_group.deleted', ['user_group', id], {
          before: { name: group.name, members_count: group.members_count, project_grants: grants },
        });
      });
    },

    async listMembers(ctx: RequestContext, id: string, query: ListGroupMembersQuery) {
      requireDevAccess(ctx);
      const group = await requireGroup(ctx, id);
      const page = pageRequest(query);
      const { rows, total } = await listGroupMembers(
        deps.db,
        group,
        { text: query.text },
        page,
        now(),
      );
      return paged(
        rows.map((row) => ({
          user_id: row.user_id,
          member_invitation_id: row.member_invitation_id,
          name: row.name,
          email: row.email,
          type: row.type,
          avatar_url: row.avatar_url,
          joined_at: row.joined_at,
          expires_at: row.expires_at,
          ...(query.include === 'provisioning' ? { source: managedBy(row.source) } : {}),
        })),
        total,
        page,
      );
    },

    async addMembers(ctx: RequestContext, id: string, body: AddGroupMembersBody): Promise<void> {
      requireDevAccess(ctx);
      const group = await requireGroupRow(ctx, id);
      if (fromFlag(group.system)) {
        throw badRequest(
          'group.system',
          'Every collaborator is in the system group; its members can’t be changed.',
        );
      }
      const expiresAt =
        body.expires_at === undefined || body.expires_at === null
          ? null
          : toStoredTimestamp(body.expires_at);
      if (expiresAt !== null && expiresAt <= now())
        throw badRequest('group.expiry_past', 'expires_at must be in the future');
      const memberIds = [...new Set(body.user_ids)];
      // The collaborators are checked by the write itself (upsertMembershipsStatement adds only
      // those of the workspace): one statement instead of a lookup and then the write, sent with
      // its event in one round trip.
      let missing: number[] = [];
      try {
        await deps.db.transaction().execute(async (trx) => {
          const [upserted] = await recordChangeWith(
            trx,
            [
              upsertMembershipsStatement(trx, {
                workspaceId: ctx.workspaceId,
                groupId: id,
                memberIds,
                createdAt: now(),
                expiresAt,
              }),
            ],
            ctx,
            now(),
            'user_group.members_added',
            ['user_group', id],
            { after: { user_ids: memberIds, expires_at: expiresAt } },
          );
          const added = addedMembers(upserted.rows);
          missing = memberIds.filter((memberId) => !added.has(memberId));
          // Undoes what was added, and its event: the request adds all of its collaborators or none.
          if (missing.length > 0) throw new MembersMissing();
        });
      } catch (error) {
        if (error instanceof MembersMissing)
          throw badRequest('group.member_unknown', `Users not found: ${missing.join(', ')}`);
        // A collaborator or the group deleted by another request between the read and the
        // write: answered as if it had been gone before.
        if (!isForeignKeyViolation(error)) throw error;
        await requireGroupRow(ctx, id);
        const found = await deps.db
          .selectFrom('members')
          .select('id')
          .where('workspace_id', '=', ctx.workspaceId)
          .where('id', 'in', memberIds)
          .execute();
        const gone = memberIds.filter((memberId) => !found.some((m) => m.id === memberId));
        if (gone.length === 0) throw error;
        throw badRequest('group.member_unknown', `Users not found: ${gone.join(', ')}`);
      }
    },

    async removeMembers(
      ctx: RequestContext,
      id: string,
      query: RemoveGroupMembersQuery,
    ): Promise<void> {
      requireDevAccess(ctx);
      const group = await requireGroupRow(ctx, id);
      const memberIds = [...new Set([...(query['user_ids[]'] ?? []), ...(query.user_ids ?? [])])];
      const invitationIds = [
        ...new Set([
          ...(query['member_invitation_ids[]'] ?? []),
          ...(query.member_invitation_ids ?? []),
        ]),
      ];
      if (memberIds.length === 0 && invitationIds.length === 0) {
        throw badRequest(
          'group.members_missing',
          'user_ids or member_invitation_ids must be given',
        );
      }
      if (fromFlag(group.system)) {
        throw badRequest(
          'group.system',
          'Every collaborator is in the system group; its members can’t be changed.',
        );
      }
      // The deletes first, then their event only if they removed someone. Not the two in one
      // round trip, rolled back when nobody was removed: an event's ID, once taken, is spent even
      // if its transaction rolls back, and on PostgreSQL every instance's change feed then
      // watches the gap it leaves for a minute, reading it again at each sync
      // (modules/audit/change-feed.ts). Removing non-members is common (a client that removes to
      // be sure): under the mixed load it was ~20 rollbacks a second, a thousand gaps watched.
      await deps.db.transaction().execute(async (trx) => {
        const deleted = await runTogether(
          trx,
          deleteMembershipsStatements(trx, id, memberIds, invitationIds),
        );
        if (removedCount(deleted) === 0) return;
        await recordChange(trx, ctx, now(), 'user_group.members_removed', ['user_group', id], {
          before: { user_ids: memberIds, member_invitation_ids: invitationIds },
        });
      });
    },
  };
}
export type GroupsService = ReturnType<typeof createGroupsService>;
