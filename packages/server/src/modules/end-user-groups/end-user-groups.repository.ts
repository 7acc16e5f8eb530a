import { sql } from 'kysely';
import type { EndUserGroup } from '@roster/contracts';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';
import { everyoneMembers } from '../memberships/everyone.js';

export type EndUserGroupRow = Row<'end_user_groups'> & {
  environment_type: string;
  users_count: number;
};

/** Members of the system group (memberships/everyone.ts), counted per group. */
function everyoneCount(db: Executor) {
  return everyoneMembers(db)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(sql<boolean>`ue.environment_id = g.environment_id`);
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
    role?: EndUserGroup['roles'][number] | undefined;
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
  if (filter.role !== undefined) {
    // `roles` is the JSON text of a list of role names (none holds a LIKE wildcard): the role's
    // JSON string, quotes included, is in it exactly when the group has that role, on both stores.
    const pattern = `%${JSON.stringify(filter.role)}%`;
    query = query.where(sql<boolean>`g.roles like ${pattern}`);
    base = base.where(sql<boolean>`g.roles like ${pattern}`);
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
  // Who is in the group and since when: the system group's are its environment's users (by the
  // Everyone rule), another group's its member rows. One list query serves both.
  const joined =
    group.system === 1
      ? everyoneMembers(db)
          .where('ue.environment_id', '=', group.environment_id)
          .select([
            'ue.end_user_id',
            'ue.created_at as joined_at',
            sql<string>`'manual'`.as('source'),
          ])
          .as('j')
      : db
          .selectFrom('end_user_group_members as m')
          .where('m.group_id', '=', group.id)
          .select(['m.end_user_id', 'm.created_at as joined_at', 'm.source'])
          .as('j');
  const base = db.selectFrom(joined).innerJoin('end_users as u', 'u.id', 'j.end_user_id');
  const [rows, count] = await Promise.all([
    base
      .select(['u.id', 'u.name', 'u.email', 'u.avatar_url', 'u.status', 'j.joined_at', 'j.source'])
      .orderBy('j.joined_at')
      .orderBy('u.id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
