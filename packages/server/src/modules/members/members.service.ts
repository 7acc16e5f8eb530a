/**
 * Collaborators: listing with their groups and roles, role changes per environment, deletion.
 * What a collaborator may do is answered by the decisions module, not here.
 */
import type { EnvRoleAssignment, ListMembersQuery, Member } from '@roster/contracts';
import type { Db, Executor, Row } from '../../storage/database.js';
import { fromFlag } from '../../storage/json.js';
import { readTogether } from '../../storage/pipeline.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireDevAccess } from '../../lib/scope.js';
import { findLastActivities, recordChange, recordChangeWith } from '../audit/audit.repository.js';
import { findSystemGroup, listMembershipsOfMembers } from '../groups/groups.repository.js';
import { planEnvRoles } from '../roles/roles.service.js';
import { listEnvironments } from '../environments/environments.repository.js';
import {
  deleteMember as deleteMemberRow,
  findMemberById,
  listMembers,
  listRolesOfMembers,
  planRolesOfMembers,
  setMemberEnvironmentRolesStatement,
  toRoleRow,
} from './members.repository.js';

/** Builds the reference API's member objects for a page of rows, with a fixed number of queries. */
export async function presentMembers(
  db: Executor,
  workspaceId: number,
  rows: Row<'members'>[],
  now: string,
): Promise<Member[]> {
  const ids = rows.map((row) => row.id);
  const [environments, systemGroup, memberships, roles, activities] = await Promise.all([
    listEnvironments(db, workspaceId),
    findSystemGroup(db, workspaceId),
    listMembershipsOfMembers(db, ids),
    listRolesOfMembers(db, ids),
    findLastActivities(db, workspaceId, ids),
  ]);
  // Grouped by member once: the page's memberships and roles were scanned whole for each of its
  // members, so a page cost its size times its members' groups — the oldest collaborators, on
  // the first pages, are the ones a long-lived workspace has put in the most groups.
  const membershipsOf = groupBy(memberships, (m) => m.member_id);
  const rolesOf = groupBy(roles, (r) => r.member_id);
  return rows.map((row) => ({
    id: row.id,
    grant_type: row.grant_type === 'federation_manager' ? 'federation_manager' : 'team',
    user_groups: [
      { id: systemGroup.id, name: systemGroup.name, system: true },
      ...(membershipsOf.get(row.id) ?? [])
        .filter((m) => m.expires_at === null || m.expires_at > now)
        .map((m) => ({ id: m.id, name: m.name, system: fromFlag(m.system) })),
    ],
    roles: environments.map((environment) => {
      const role = rolesOf.get(row.id)?.find((r) => r.environment_id === environment.id);
      return {
        environment_type: environment.type,
        role_name: role?.role_name ?? 'No access',
        role_type: role?.role_type === 'environment' ? 'environment' : 'privilege_group',
      };
    }),
    last_activity_log: activities.get(row.id) ?? null,
    external_id: row.external_id,
    name: row.name,
    email: row.email,
    time_zone: row.time_zone,
    created_at: row.created_at,
  }));
}

/** The items by key, each list in the items' order. */
function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [item]);
    else list.push(item);
  }
  return groups;
}

export function createMembersService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function requireMember(ctx: RequestContext, id: number): Promise<Row<'members'>> {
    const member = await findMemberById(deps.db, ctx.workspaceId, id);
    if (member === undefined) throw notFound('member.not_found');
    return member;
  }

  return {
    requireMember,

    async listMembers(ctx: RequestContext, query: ListMembersQuery): Promise<Paged<Member>> {
      requireDevAccess(ctx);
      const page = pageRequest(query);
      const { rows, total } = await listMembers(
        deps.db,
        ctx.workspaceId,
        { email: query.email },
        page,
      );
      return paged(await presentMembers(deps.db, ctx.workspaceId, rows, now()), total, page);
    },

    async getMember(ctx: RequestContext, id: number): Promise<Member> {
      requireDevAccess(ctx);
      const member = await requireMember(ctx, id);
      const [presented] = await presentMembers(deps.db, ctx.workspaceId, [member], now());
      if (presented === undefined) throw notFound('member.not_found');
      return presented;
    },

    /** Sets the roles of the named environments only; the others keep theirs. All or nothing. */
    async updateRoles(
      ctx: RequestContext,
      id: number,
      envRoles: EnvRoleAssignment[],
    ): Promise<void> {
      requireDevAccess(ctx);
      const member = await requireMember(ctx, id);
      await deps.db.transaction().execute(async (trx) => {
        // The roles named and the collaborator's current ones, read in one round trip.
        const [resolved, before] = await readTogether(trx, [
          planEnvRoles(trx, ctx.workspaceId, envRoles),
          planRolesOfMembers(trx, [member.id]),
        ]);
        // The roles' upsert and its event in one round trip.
        const setting = setMemberEnvironmentRolesStatement(
          trx,
          ctx.workspaceId,
          member.id,
          resolved.map(toRoleRow),
        );
        await recordChangeWith(
          trx,
          setting === undefined ? [] : [setting],
          ctx,
          now(),
          'member.roles_updated',
          ['member', member.id],
          {
            before: before.map((r) => ({
              environment_type: r.environment_type,
              role_name: r.role_name,
              role_type: r.role_type,
            })),
            after: resolved.map((r) => ({
              environment_type: r.environment.type,
              role_name: r.roleName,
              role_type: r.roleType,
            })),
          },
        );
      });
    },

    /** Deletes the collaborator with their roles, memberships and project grants (foreign keys cascade). */
    async deleteMember(ctx: RequestContext, id: number): Promise<void> {
      requireDevAccess(ctx);
      const member = await requireMember(ctx, id);
      await deps.db.transaction().execute(async (trx) => {
        await deleteMemberRow(trx, member.id);
        await recordChange(trx, ctx, now(), 'member.deleted', ['member', member.id], {
          before: { name: member.name, email: member.email },
        });
      });
    },
  };
}
export type MembersService = ReturnType<typeof createMembersService>;
