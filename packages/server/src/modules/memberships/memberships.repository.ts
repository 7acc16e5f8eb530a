/**
 * End-user group membership: who is in which group, and the system group `Everyone` of each
 * environment. End users, groups, features, policies, SSO and SCIM all change or read membership,
 * so it lives below all of them (docs/architecture.md); the Everyone rule is written once,
 * in everyone.ts.
 */
import type { CompiledQuery } from 'kysely';
import type { Executor, Row } from '../../storage/database.js';
import { insertAuditEvent } from '../audit/audit.repository.js';

export const EVERYONE_GROUP_NAME = 'Everyone';

/**
 * The `Everyone` group of every environment of the workspace, created on first use: workspaces
 * are created by another module, and an idempotent insert keeps that module unaware of end users.
 * Returns the groups by environment ID.
 */
export async function ensureEveryoneGroups(
  db: Executor,
  workspaceId: number,
  now: string,
): Promise<Map<number, Row<'end_user_groups'>>> {
  const read = () =>
    db
      .selectFrom('end_user_groups')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('system', '=', 1)
      .execute();
  let groups = await read();
  const environments = await db
    .selectFrom('environments')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .execute();
  const missing = environments.filter((env) => !groups.some((g) => g.environment_id === env.id));
  if (missing.length > 0) {
    const created = await db
      .insertInto('end_user_groups')
      .values(
        missing.map((env) => ({
          workspace_id: workspaceId,
          environment_id: env.id,
          name: EVERYONE_GROUP_NAME,
          name_key: EVERYONE_GROUP_NAME.toLowerCase(),
          description: 'Every end user with access to this environment',
          managed_by: 'manual',
          roles: '[]',
          system: 1,
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['workspace_id', 'environment_id', 'name_key']).doNothing())
      .returning(['id', 'environment_id'])
      .execute();
    // Recorded like any other write (only the rows this call inserted: a concurrent call's
    // doNothing returns none), so the decision index and other instances learn of the group.
    for (const group of created) {
      await insertAuditEvent(db, {
        workspaceId,
        actor: { type: 'system', id: null, name: 'Roster' },
        action: 'end_user_group.created',
        targetType: 'end_user_group',
        targetId: group.id,
        after: { name: EVERYONE_GROUP_NAME, environment_id: group.environment_id, system: true },
        createdAt: now,
      });
    }
    groups = await read();
  }
  return new Map(groups.map((g) => [g.environment_id, g]));
}

export function findEndUserGroupsByIds(db: Executor, workspaceId: number, ids: number[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('end_user_groups as g')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .selectAll('g')
    .select('e.type as environment_type')
    .where('g.workspace_id', '=', workspaceId)
    .where('g.id', 'in', ids)
    .execute();
}

export async function countExplicitMembers(db: Executor, groupId: number): Promise<number> {
  const row = await db
    .selectFrom('end_user_group_members')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('group_id', '=', groupId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Adds memberships; re-adding a member keeps the time they first joined. */
export async function insertGroupMembers(
  db: Executor,
  workspaceId: number,
  groupId: number,
  endUserIds: readonly number[],
  now: string,
) {
  const statement = groupMembersStatement(db, workspaceId, groupId, endUserIds, now);
  if (statement !== undefined) await db.executeQuery(statement);
}

/** insertGroupMembers's statement, to send with others (none for no users). */
export function groupMembersStatement(
  db: Executor,
  workspaceId: number,
  groupId: number,
  endUserIds: readonly number[],
  now: string,
): CompiledQuery | undefined {
  if (endUserIds.length === 0) return undefined;
  return db
    .insertInto('end_user_group_members')
    .values(
      endUserIds.map((endUserId) => ({
        workspace_id: workspaceId,
        group_id: groupId,
        end_user_id: endUserId,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['group_id', 'end_user_id']).doNothing())
    .compile();
}

export async function deleteGroupMembers(
  db: Executor,
  groupId: number,
  endUserIds: number[],
): Promise<number> {
  if (endUserIds.length === 0) return 0;
  const result = await db
    .deleteFrom('end_user_group_members')
    .where('group_id', '=', groupId)
    .where('end_user_id', 'in', endUserIds)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export function listGroupMemberIds(db: Executor, groupId: number) {
  return db
    .selectFrom('end_user_group_members')
    .select('end_user_id')
    .where('group_id', '=', groupId)
    .execute();
}

/**
 * Explicit group memberships of a user, with each group's environment, name key (compared with an
 * SSO groups claim) and `managed_by`, in the order the user joined them per environment.
 */
export function listMembershipsOfEndUser(db: Executor, endUserId: number) {
  return db
    .selectFrom('end_user_group_members as m')
    .innerJoin('end_user_groups as g', 'g.id', 'm.group_id')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .select([
      'g.id',
      'g.name',
      'g.name_key',
      'g.managed_by',
      'g.environment_id',
      'e.type as environment_type',
      'm.created_at as joined_at',
    ])
    .where('m.end_user_id', '=', endUserId)
    .orderBy('e.id')
    .orderBy('m.created_at')
    .orderBy('g.id')
    .execute();
}
