import { sql } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';
import { insertAuditEvent } from '../audit/audit.repository.js';

export const EVERYONE_GROUP_NAME = 'Everyone';

export type EndUserGroupRow = Row<'end_user_groups'> & {
  environment_type: string;
  users_count: number;
};

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

/** Members of the system group: users with access to its environment who are past the invitation. */
function everyoneCount(db: Executor) {
  return db
    .selectFrom('end_user_environments as ue')
    .innerJoin('end_users as u', 'u.id', 'ue.end_user_id')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(sql<boolean>`ue.environment_id = g.environment_id`)
    .where('u.status', '<>', 'invited');
}

function explicitCount(db: Executor) {
  return db
    .selectFrom('end_user_group_members as m')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(sql<boolean>`m.group_id = g.id`);
}

function groupsWithCounts(db: Executor, workspaceId: number) {
  return db
    .selectFrom('end_user_groups as g')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .selectAll('g')
    .select('e.type as environment_type')
    .select(
      // COUNT is a bigint (a string) on PostgreSQL and a number on SQLite.
      sql<
        number | string
      >`case when g.system = 1 then (${everyoneCount(db)}) else (${explicitCount(db)}) end`.as(
        'users_count',
      ),
    )
    .where('g.workspace_id', '=', workspaceId);
}

const counted = <T extends { users_count: number | string }>(
  row: T,
): T & { users_count: number } => ({ ...row, users_count: Number(row.users_count) });

export async function findEndUserGroupById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<EndUserGroupRow | undefined> {
  const row = await groupsWithCounts(db, workspaceId).where('g.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : counted(row);
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

export function findEndUserGroupByNameKey(
  db: Executor,
  workspaceId: number,
  environmentId: number,
  nameKey: string,
) {
  return db
    .selectFrom('end_user_groups')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('environment_id', '=', environmentId)
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

export async function listEndUserGroups(
  db: Executor,
  workspaceId: number,
  filter: {
    environmentTypes: string[];
    name?: string | undefined;
    sort?: 'name' | 'users' | undefined;
    direction?: 'asc' | 'desc' | undefined;
  },
  page: PageRequest,
): Promise<{ rows: EndUserGroupRow[]; total: number }> {
  if (filter.environmentTypes.length === 0) return { rows: [], total: 0 };
  let query = groupsWithCounts(db, workspaceId).where('e.type', 'in', filter.environmentTypes);
  let base = db
    .selectFrom('end_user_groups as g')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .where('g.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.name !== undefined && filter.name !== '') {
    const pattern = likeContains(filter.name);
    query = query.where(sql<boolean>`g.name_key like ${pattern} escape '\\'`);
    base = base.where(sql<boolean>`g.name_key like ${pattern} escape '\\'`);
  }
  const direction = filter.direction ?? 'asc';
  let ordered = query;
  if (filter.sort === 'name') ordered = ordered.orderBy('g.name_key', direction);
  else if (filter.sort === 'users') ordered = ordered.orderBy(sql`users_count`, direction);
  else
    ordered = ordered
      .orderBy('g.environment_id')
      .orderBy('g.system', 'desc')
      .orderBy('g.created_at');
  const [rows, count] = await Promise.all([
    ordered.orderBy('g.id', direction).limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows: rows.map(counted), total: Number(count.n) };
}

export function insertEndUserGroup(db: Executor, row: NewRow<'end_user_groups'>) {
  return db.insertInto('end_user_groups').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateEndUserGroup(
  db: Executor,
  id: number,
  changes: Partial<
    Pick<
      Row<'end_user_groups'>,
      'name' | 'name_key' | 'description' | 'managed_by' | 'roles' | 'updated_at'
    >
  >,
) {
  return db.updateTable('end_user_groups').set(changes).where('id', '=', id).execute();
}

export function deleteEndUserGroup(db: Executor, id: number) {
  return db.deleteFrom('end_user_groups').where('id', '=', id).execute();
}

export interface GroupMemberRow {
  id: number;
  name: string;
  email: string;
  avatar_url: string | null;
  status: string;
  joined_at: string;
  /** manual | external (an identity provider added it over SCIM). */
  source: string;
}

/** Members in the order they joined; the system group's are its environment's users. */
export async function listEndUserGroupMembers(
  db: Executor,
  group: Row<'end_user_groups'>,
  page: PageRequest,
): Promise<{ rows: GroupMemberRow[]; total: number }> {
  if (group.system === 1) {
    const base = db
      .selectFrom('end_user_environments as ue')
      .innerJoin('end_users as u', 'u.id', 'ue.end_user_id')
      .where('ue.environment_id', '=', group.environment_id)
      .where('u.status', '<>', 'invited');
    const [rows, count] = await Promise.all([
      base
        .select([
          'u.id',
          'u.name',
          'u.email',
          'u.avatar_url',
          'u.status',
          'ue.created_at as joined_at',
          sql<string>`'manual'`.as('source'),
        ])
        .orderBy('ue.created_at')
        .orderBy('u.id')
        .limit(page.size)
        .offset(page.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(count.n) };
  }
  const base = db
    .selectFrom('end_user_group_members as m')
    .innerJoin('end_users as u', 'u.id', 'm.end_user_id')
    .where('m.group_id', '=', group.id);
  const [rows, count] = await Promise.all([
    base
      .select([
        'u.id',
        'u.name',
        'u.email',
        'u.avatar_url',
        'u.status',
        'm.created_at as joined_at',
        'm.source',
      ])
      .orderBy('m.created_at')
      .orderBy('u.id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
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
  endUserIds: number[],
  now: string,
) {
  if (endUserIds.length === 0) return;
  await db
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
    .execute();
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
