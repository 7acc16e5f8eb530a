/**
 * End-user groups, each within one environment (specs 000 and 002). A manual group always has
 * at least one member: creation without members and removal of the last member are refused. The
 * system group `Everyone` of each environment holds every user with access to it, implicitly,
 * and can be neither changed nor deleted. Deleting a group keeps its users and removes the group
 * from every policy scope and feature grant (foreign keys cascade); a dry run first answers who
 * would lose what.
 */
import type {
  CreateEndUserGroupBody,
  EndUserGroup,
  EndUserGroupMember,
  EndUserGroupMembersBody,
  EndUserStatus,
  GroupDeletionImpact,
  ListEndUserGroupsQuery,
  PolicyEffect,
  UpdateEndUserGroupBody,
} from '@roster/contracts';
import type { Static } from 'typebox';
import type { Db, Executor } from '../../storage/database.js';
import { fromFlag, fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { nameAndKey } from '../../lib/names.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import {
  findEndUsersByIds,
  usersWithEnvironmentAccess,
} from '../end-users/end-users.repository.js';
import {
  environmentScope,
  requireEnvironment,
  requireInScope,
} from '../environments/environments.service.js';
import { inEveryone } from '../memberships/everyone.js';
import { listPoliciesTargetingGroup, targetsOf } from '../policies/policies.repository.js';
import {
  deleteEndUserGroup,
  findEndUserGroupById,
  findEndUserGroupByNameKey,
  insertEndUserGroup,
  listEndUserGroupMembers,
  listEndUserGroups,
  updateEndUserGroup,
  type EndUserGroupRow,
} from './end-user-groups.repository.js';
import {
  countExplicitMembers,
  deleteGroupMembers,
  ensureEveryoneGroups,
  insertGroupMembers,
  listGroupMemberIds,
} from '../memberships/memberships.repository.js';

type Impact = Static<typeof GroupDeletionImpact>;
type Role = EndUserGroup['roles'][number];

export function toEndUserGroup(row: EndUserGroupRow): EndUserGroup {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    environment_type: row.environment_type,
    managed_by: row.managed_by === 'external' ? 'external' : 'manual',
    roles: fromJson<Role[]>(row.roles),
    system: fromFlag(row.system),
    users_count: row.users_count,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const normalisedName = (name: string | undefined) => nameAndKey(name, 'end_user_group.name_blank');

const uniqueRoles = (roles: Role[]): Role[] => [...new Set(roles)];

const SYSTEM_GROUP_MESSAGE =
  'Everyone holds every end user with access to its environment; it can’t be changed or deleted';
const lastMemberMessage = (group: string) =>
  `An end-user group must have at least one member: you can’t remove the last member of ${group}. Add another member first, or delete the group.`;

export function createEndUserGroupsService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function requireGroup(
    db: Executor,
    ctx: RequestContext,
    id: number,
  ): Promise<EndUserGroupRow> {
    return requireInScope(ctx, await findEndUserGroupById(db, ctx.workspaceId, id), () =>
      notFound('end_user_group.not_found', 'End-user group not found'),
    );
  }

  async function assertNameFree(
    db: Executor,
    ctx: RequestContext,
    environmentId: number,
    key: string,
    exceptId?: number,
  ) {
    const existing = await findEndUserGroupByNameKey(db, ctx.workspaceId, environmentId, key);
    if (existing !== undefined && existing.id !== exceptId) {
      throw badRequest(
        'end_user_group.name_taken',
        'Name has already been taken in this environment',
      );
    }
  }

  /** Users to add: they exist in the workspace and may access the group's environment. */
  async function assertAddable(
    db: Executor,
    ctx: RequestContext,
    environment: { id: number; type: string },
    ids: number[],
  ) {
    const users = await findEndUsersByIds(db, ctx.workspaceId, ids);
    const missing = ids.filter((id) => !users.some((u) => u.id === id));
    if (missing.length > 0)
      throw badRequest('end_user_group.user_unknown', `End users not found: ${missing.join(', ')}`);
    const withAccess = await usersWithEnvironmentAccess(db, environment.id, ids);
    const without = users.filter((u) => !withAccess.has(u.id));
    if (without.length > 0) {
      throw badRequest(
        'end_user_group.user_no_environment',
        `End users without access to the ${environment.type.toUpperCase()} environment can’t join its groups: ${without.map((u) => u.email).join(', ')}`,
      );
    }
  }

  /** Who loses which feature grant or policy coverage when the group goes. */
  async function deletionImpact(
    db: Executor,
    ctx: RequestContext,
    group: EndUserGroupRow,
  ): Promise<Impact> {
    const everyone = (await ensureEveryoneGroups(db, ctx.workspaceId, now())).get(
      group.environment_id,
    );
    const memberIds = (await listGroupMemberIds(db, group.id)).map((m) => m.end_user_id);
    const members = await findEndUsersByIds(db, ctx.workspaceId, memberIds);
    const grants = await db
      .selectFrom('feature_grants as fg')
      .innerJoin('features as f', 'f.id', 'fg.feature_id')
      .select(['f.id', 'f.name', 'f.kind'])
      .where('fg.group_id', '=', group.id)
      .orderBy('f.id')
      .execute();
    const policies = await listPoliciesTargetingGroup(db, group.id);
    const policyTargets = await targetsOf(
      db,
      policies.map((p) => p.id),
    );
    // The members' other groups, Everyone included where they belong to it.
    const otherMemberships =
      memberIds.length === 0
        ? []
        : await db
            .selectFrom('end_user_group_members')
            .select(['end_user_id', 'group_id'])
            .where('end_user_id', 'in', memberIds)
            .where('group_id', '<>', group.id)
            .execute();
    const otherGroupsOf = (userId: number): Set<number> => {
      const ids = new Set(
        otherMemberships.filter((m) => m.end_user_id === userId).map((m) => m.group_id),
      );
      const user = members.find((u) => u.id === userId);
      // Explicit members of a group have access to its environment (revoking it drops them).
      if (everyone !== undefined && user !== undefined && inEveryone(user, true))
        ids.add(everyone.id);
      return ids;
    };
    const featureIds = grants.map((g) => g.id);
    const otherGrants =
      featureIds.length === 0
        ? []
        : await db
            .selectFrom('feature_grants')
            .select(['feature_id', 'end_user_id', 'group_id'])
            .where('feature_id', 'in', featureIds)
            .where((eb) => eb.or([eb('group_id', 'is', null), eb('group_id', '<>', group.id)]))
            .execute();
    const users: Impact['users'] = [];
    for (const user of members) {
      const groups = otherGroupsOf(user.id);
      const loses: Impact['users'][number]['loses'] = [];
      for (const feature of grants) {
        const keeps = otherGrants.some(
          (g) =>
            g.feature_id === feature.id &&
            (g.end_user_id === user.id || (g.group_id !== null && groups.has(g.group_id))),
        );
        if (!keeps)
          loses.push({ type: 'feature_grant', id: feature.id, name: feature.name, effect: null });
      }
      for (const policy of policies) {
        const stillCovered = (policyTargets.get(policy.id)?.groupIds ?? []).some(
          (id) => id !== group.id && groups.has(id),
        );
        if (!stillCovered)
          loses.push({
            type: 'policy',
            id: policy.id,
            name: policy.name,
            effect: policy.effect as PolicyEffect,
          });
      }
      if (loses.length > 0) users.push({ id: user.id, name: user.name, email: user.email, loses });
    }
    return {
      dry_run: true,
      group: { id: group.id, name: group.name, environment_type: group.environment_type },
      feature_grants: grants.map((g) => ({
        id: g.id,
        name: g.name,
        kind: g.kind,
        environment_type: group.environment_type,
      })),
      policies: policies.map((p) => ({ id: p.id, name: p.name, effect: p.effect as PolicyEffect })),
      users,
    };
  }

  return {
    async listGroups(
      ctx: RequestContext,
      query: ListEndUserGroupsQuery,
    ): Promise<Paged<EndUserGroup>> {
      const page = pageRequest(query);
      const environmentTypes = await environmentScope(deps.db, ctx, query.environment_type);
      await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      const { rows, total } = await listEndUserGroups(
        deps.db,
        ctx.workspaceId,
        {
          environmentTypes,
          name: query.name,
          role: query.role,
          sort: query.sort,
          direction: query.direction,
        },
        page,
      );
      return paged(rows.map(toEndUserGroup), total, page);
    },

    async getGroup(ctx: RequestContext, id: number): Promise<EndUserGroup> {
      return toEndUserGroup(await requireGroup(deps.db, ctx, id));
    },

    async createGroup(ctx: RequestContext, body: CreateEndUserGroupBody): Promise<EndUserGroup> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      const { name, key } = normalisedName(body.name);
      const memberIds = [...new Set(body.end_user_ids ?? [])];
      if (memberIds.length === 0) {
        throw badRequest(
          'end_user_group.members_required',
          'An end-user group must have at least one member: give end_user_ids',
        );
      }
      await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      const id = await deps.db.transaction().execute(async (trx) => {
        // One instant for the group and its first members: they joined when it was created.
        const at = now();
        await assertNameFree(trx, ctx, environment.id, key);
        await assertAddable(trx, ctx, environment, memberIds);
        const row = await insertEndUserGroup(trx, {
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          name,
          name_key: key,
          description: body.description ?? null,
          managed_by: body.managed_by ?? 'manual',
          roles: toJson(uniqueRoles(body.roles ?? [])),
          system: 0,
          created_at: at,
          updated_at: at,
        });
        await insertGroupMembers(trx, ctx.workspaceId, row.id, memberIds, at);
        await recordChange(trx, ctx, at, 'end_user_group.created', ['end_user_group', row.id], {
          after: {
            name,
            environment_type: environment.type,
            description: row.description,
            managed_by: row.managed_by,
            roles: fromJson(row.roles),
            end_user_ids: memberIds,
          },
        });
        return row.id;
      });
      return toEndUserGroup(await requireGroup(deps.db, ctx, id));
    },

    async updateGroup(
      ctx: RequestContext,
      id: number,
      body: UpdateEndUserGroupBody,
    ): Promise<EndUserGroup> {
      await deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx, id);
        if (fromFlag(group.system)) throw badRequest('end_user_group.system', SYSTEM_GROUP_MESSAGE);
        const renamed = body.name === undefined ? undefined : normalisedName(body.name);
        if (renamed !== undefined)
          await assertNameFree(trx, ctx, group.environment_id, renamed.key, id);
        const changes = {
          ...(renamed === undefined ? {} : { name: renamed.name, name_key: renamed.key }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.managed_by === undefined ? {} : { managed_by: body.managed_by }),
          ...(body.roles === undefined ? {} : { roles: toJson(uniqueRoles(body.roles)) }),
        };
        await updateEndUserGroup(trx, id, { ...changes, updated_at: now() });
        await recordChange(trx, ctx, now(), 'end_user_group.updated', ['end_user_group', id], {
          before: {
            name: group.name,
            description: group.description,
            managed_by: group.managed_by,
            roles: fromJson(group.roles),
          },
          after: {
            ...changes,
            ...(changes.roles === undefined ? {} : { roles: uniqueRoles(body.roles ?? []) }),
            name_key: undefined,
          },
        });
      });
      return toEndUserGroup(await requireGroup(deps.db, ctx, id));
    },

    /** With `dryRun`, answers the impact and changes nothing; otherwise deletes and answers nothing. */
    async deleteGroup(ctx: RequestContext, id: number, dryRun: boolean): Promise<Impact | null> {
      return deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx, id);
        if (fromFlag(group.system)) throw badRequest('end_user_group.system', SYSTEM_GROUP_MESSAGE);
        const impact = await deletionImpact(trx, ctx, group);
        if (dryRun) return impact;
        await deleteEndUserGroup(trx, id);
        await recordChange(trx, ctx, now(), 'end_user_group.deleted', ['end_user_group', id], {
          before: {
            name: group.name,
            environment_type: group.environment_type,
            users_count: group.users_count,
            feature_grants: impact.feature_grants,
            policies: impact.policies,
          },
        });
        return null;
      });
    },

    async listMembers(
      ctx: RequestContext,
      id: number,
      query: { 'page[number]'?: number; 'page[size]'?: number },
    ): Promise<Paged<EndUserGroupMember>> {
      const group = await requireGroup(deps.db, ctx, id);
      const page = pageRequest(query);
      const { rows, total } = await listEndUserGroupMembers(deps.db, group, page);
      return paged(
        rows.map((r) => ({
          id: r.id,
          name: r.name,
          email: r.email,
          avatar_url: r.avatar_url,
          status: r.status as EndUserStatus,
          joined_at: r.joined_at,
          source: r.source === 'external' ? ('external' as const) : ('manual' as const),
        })),
        total,
        page,
      );
    },

    async addMembers(
      ctx: RequestContext,
      id: number,
      body: EndUserGroupMembersBody,
    ): Promise<EndUserGroup> {
      const memberIds = [...new Set(body.end_user_ids)];
      await deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx, id);
        if (fromFlag(group.system)) throw badRequest('end_user_group.system', SYSTEM_GROUP_MESSAGE);
        await assertAddable(
          trx,
          ctx,
          { id: group.environment_id, type: group.environment_type },
          memberIds,
        );
        await insertGroupMembers(trx, ctx.workspaceId, id, memberIds, now());
        await recordChange(
          trx,
          ctx,
          now(),
          'end_user_group.members_added',
          ['end_user_group', id],
          { after: { end_user_ids: memberIds } },
        );
      });
      return toEndUserGroup(await requireGroup(deps.db, ctx, id));
    },

    async removeMembers(
      ctx: RequestContext,
      id: number,
      body: EndUserGroupMembersBody,
    ): Promise<EndUserGroup> {
      const memberIds = [...new Set(body.end_user_ids)];
      await deps.db.transaction().execute(async (trx) => {
        const group = await requireGroup(trx, ctx, id);
        if (fromFlag(group.system)) throw badRequest('end_user_group.system', SYSTEM_GROUP_MESSAGE);
        const current = new Set((await listGroupMemberIds(trx, id)).map((m) => m.end_user_id));
        const notMembers = memberIds.filter((memberId) => !current.has(memberId));
        if (notMembers.length > 0) {
          throw badRequest(
            'end_user_group.not_member',
            `Not members of ${group.name}: ${notMembers.join(', ')}`,
          );
        }
        if ((await countExplicitMembers(trx, id)) - memberIds.length < 1) {
          throw badRequest('end_user_group.last_member', lastMemberMessage(group.name));
        }
        await deleteGroupMembers(trx, id, memberIds);
        await recordChange(
          trx,
          ctx,
          now(),
          'end_user_group.members_removed',
          ['end_user_group', id],
          { before: { end_user_ids: memberIds } },
        );
      });
      return toEndUserGroup(await requireGroup(deps.db, ctx, id));
    },
  };
}
export type EndUserGroupsService = ReturnType<typeof createEndUserGroupsService>;
