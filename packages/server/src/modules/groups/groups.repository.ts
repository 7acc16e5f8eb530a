import { sql } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { readAlone, rowsRead, type PlannedRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';

/** `count(*)` as the drivers return it: a number from SQLite, a bigint string from PostgreSQL. */
type DbCount = number | string;

export type GroupRow = Row<'collaborator_groups'> & { members_count: number };

/** Membership rows that count now: not expired, and for invitees, a pending unexpired invitation. */
function activeMembershipCount(db: Executor, now: string) {
  return db
    .selectFrom('group_memberships as gm')
    .leftJoin('member_invitations as mi', 'mi.id', 'gm.invitation_id')
    .select((eb) => eb.fn.countAll<DbCount>().as('n'))
    .where(sql<boolean>`gm.group_id = g.id`)
    .where((eb) => eb.or([eb('gm.expires_at', 'is', null), eb('gm.expires_at', '>', now)]))
    .where((eb) =>
      eb.or([
        eb('gm.member_id', 'is not', null),
        eb.and([eb('mi.status', '=', 'pending'), eb('mi.expires_at', '>', now)]),
      ]),
    );
}

function groupsWithCounts(db: Executor, workspaceId: number, now: string) {
  const memberCount = db
    .selectFrom('members')
    .select((eb) => eb.fn.countAll<DbCount>().as('n'))
    .where('members.workspace_id', '=', workspaceId);
  return db
    .selectFrom('collaborator_groups as g')
    .selectAll('g')
    .select(
      sql<DbCount>`case when g.system = 1 then (${memberCount}) else (${activeMembershipCount(db, now)}) end`.as(
        'members_count',
      ),
    )
    .where('g.workspace_id', '=', workspaceId);
}

export async function findGroupById(
  db: Executor,
  workspaceId: number,
  id: string,
  now: string,
): Promise<GroupRow | undefined> {
  const row = await groupsWithCounts(db, workspaceId, now)
    .where('g.id', '=', id)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...row, members_count: Number(row.members_count) };
}

const groupRowById = prepared((db, p: { workspaceId: number; id: string }) =>
  db
    .selectFrom('collaborator_groups')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('id', '=', p.id),
);

/** The group's row without its member count (which grows with the group): for writes. */
export function findGroupRowById(db: Executor, workspaceId: number, id: string) {
  return groupRowById.takeFirst(db, { workspaceId, id });
}

export function findGroupByNameKey(db: Executor, workspaceId: number, nameKey: string) {
  return db
    .selectFrom('collaborator_groups')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

export function findGroupsByIds(db: Executor, workspaceId: number, ids: string[]) {
  return readAlone(db, planGroupsByIds(db, workspaceId, ids));
}

/** findGroupsByIds as a read to send with others (storage/pipeline.ts, readTogether). */
export function planGroupsByIds(
  db: Executor,
  workspaceId: number,
  ids: string[],
): PlannedRead<Row<'collaborator_groups'>[]> {
  return rowsRead(
    ids.length === 0
      ? undefined
      : db
          .selectFrom('collaborator_groups')
          .selectAll()
          .where('workspace_id', '=', workspaceId)
          .where('id', 'in', ids)
          .compile(),
  );
}

export function findSystemGroup(db: Executor, workspaceId: number) {
  return db
    .selectFrom('collaborator_groups')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('system', '=', 1)
    .executeTakeFirstOrThrow();
}

export async function listGroups(
  db: Executor,
  workspaceId: number,
  filter: { name?: string | undefined },
  page: PageRequest,
  now: string,
): Promise<{ rows: GroupRow[]; total: number }> {
  let base = db.selectFrom('collaborator_groups').where('workspace_id', '=', workspaceId);
  let query = groupsWithCounts(db, workspaceId, now);
  if (filter.name !== undefined && filter.name !== '') {
    const pattern = likeContains(filter.name);
    base = base.where(sql<boolean>`name_key like ${pattern} escape '\\'`);
    query = query.where(sql<boolean>`g.name_key like ${pattern} escape '\\'`);
  }
  const [rows, count] = await Promise.all([
    query
      .orderBy('g.system', 'desc')
      .orderBy('g.created_at')
      .orderBy('g.id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<DbCount>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: rows.map((row) => ({ ...row, members_count: Number(row.members_count) })),
    total: Number(count.n),
  };
}

export function insertGroup(db: Executor, row: NewRow<'collaborator_groups'>) {
  return db.insertInto('collaborator_groups').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateGroup(
  db: Executor,
  id: string,
  changes: Pick<Row<'collaborator_groups'>, 'name' | 'name_key' | 'description' | 'updated_at'>,
) {
  return db.updateTable('collaborator_groups').set(changes).where('id', '=', id).execute();
}

export function deleteGroup(db: Executor, id: string) {
  return db.deleteFrom('collaborator_groups').where('id', '=', id).execute();
}

export interface GroupMemberRow {
  type: 'User' | 'MemberInvitation';
  user_id: number | null;
  member_invitation_id: number | null;
  name: string;
  email: string;
  avatar_url: string | null;
  joined_at: string;
  expires_at: string | null;
  membership_id: number;
  /** manual | external (docs/scim.md). */
  source: string;
}

/**
 * Members of a group, collaborators and pending invitees together (the reference API lists both),
 * in the order they joined. The system group holds every collaborator implicitly.
 */
export async function listGroupMembers(
  db: Executor,
  group: Row<'collaborator_groups'>,
  filter: { text?: string | undefined },
  page: PageRequest,
  now: string,
): Promise<{ rows: GroupMemberRow[]; total: number }> {
  const pattern =
    filter.text !== undefined && filter.text !== '' ? likeContains(filter.text) : null;
  if (group.system === 1) {
    let query = db.selectFrom('members as m').where('m.workspace_id', '=', group.workspace_id);
    if (pattern !== null) {
      query = query.where(
        sql<boolean>`(lower(m.name) like ${pattern} escape '\\' or m.email_key like ${pattern} escape '\\')`,
      );
    }
    const [rows, count] = await Promise.all([
      query
        .select(['m.id', 'm.name', 'm.email', 'm.avatar_url', 'm.created_at'])
        .orderBy('m.created_at')
        .orderBy('m.id')
        .limit(page.size)
        .offset(page.offset)
        .execute(),
      query.select((eb) => eb.fn.countAll<DbCount>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return {
      rows: rows.map((m) => ({
        type: 'User',
        user_id: m.id,
        member_invitation_id: null,
        name: m.name,
        email: m.email,
        avatar_url: m.avatar_url,
        joined_at: m.created_at,
        expires_at: null,
        membership_id: m.id,
        source: 'manual',
      })),
      total: Number(count.n),
    };
  }
  const users = db
    .selectFrom('group_memberships as gm')
    .innerJoin('members as m', 'm.id', 'gm.member_id')
    .where('gm.group_id', '=', group.id)
    .select([
      sql<'User' | 'MemberInvitation'>`'User'`.as('type'),
      sql<number | null>`m.id`.as('user_id'),
      sql<number | null>`cast(null as integer)`.as('member_invitation_id'),
      'm.name as name',
      'm.email as email',
      sql<string | null>`m.avatar_url`.as('avatar_url'),
      'gm.created_at as joined_at',
      'gm.expires_at as expires_at',
      'gm.id as membership_id',
      'gm.source as source',
    ]);
  const invitees = db
    .selectFrom('group_memberships as gm')
    .innerJoin('member_invitations as mi', 'mi.id', 'gm.invitation_id')
    .where('gm.group_id', '=', group.id)
    .where('mi.status', '=', 'pending')
    .where('mi.expires_at', '>', now)
    .select([
      sql<'User' | 'MemberInvitation'>`'MemberInvitation'`.as('type'),
      sql<number | null>`cast(null as integer)`.as('user_id'),
      sql<number | null>`mi.id`.as('member_invitation_id'),
      'mi.name as name',
      'mi.email as email',
      sql<string | null>`cast(null as text)`.as('avatar_url'),
      'gm.created_at as joined_at',
      'gm.expires_at as expires_at',
      'gm.id as membership_id',
      'gm.source as source',
    ]);
  let all = db.selectFrom(users.unionAll(invitees).as('u'));
  if (pattern !== null) {
    all = all.where(
      sql<boolean>`(lower(u.name) like ${pattern} escape '\\' or lower(u.email) like ${pattern} escape '\\')`,
    );
  }
  const [rows, count] = await Promise.all([
    all
      .selectAll()
      .orderBy('joined_at')
      .orderBy('membership_id')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    all.select((eb) => eb.fn.countAll<DbCount>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/**
 * Adds memberships, or renews the expiry of existing ones (re-adding is harmless), for
 * collaborators of the workspace only, in one statement: the rows are taken from `members`, so
 * an ID that names no collaborator of the workspace adds nothing. Its rows are the IDs added or
 * renewed (the upsert returns updated rows too; `addedMembers`), which the caller compares with
 * the IDs asked for instead of looking them up first. A statement to send with the event that
 * records it (recordChangeWith); at least one ID.
 */
export function upsertMembershipsStatement(
  db: Executor,
  values: {
    workspaceId: number;
    groupId: string;
    memberIds: readonly number[];
    createdAt: string;
    expiresAt: string | null;
  },
) {
  if (values.memberIds.length === 0) throw new Error('upsertMembershipsStatement needs member IDs');
  return upsertMembershipsOfMembersRows.compile(db, {
    ...values,
    memberIds: [...values.memberIds],
  });
}

/** The members upsertMembershipsStatement wrote. */
export function addedMembers(rows: readonly { member_id: number | null }[]): Set<number> {
  return new Set(rows.map((row) => row.member_id).filter((id) => id !== null));
}

const upsertMembershipsOfMembersRows = prepared(
  (
    db,
    p: {
      workspaceId: number;
      groupId: string;
      memberIds: number[];
      createdAt: string;
      expiresAt: string | null;
    },
  ) =>
    db
      .insertInto('group_memberships')
      .columns(['workspace_id', 'group_id', 'member_id', 'created_at', 'expires_at'])
      .expression(
        db
          .selectFrom('members')
          .select((eb) => [
            'workspace_id',
            eb.val(p.groupId).as('group_id'),
            'id',
            eb.val(p.createdAt).as('created_at'),
            eb.val(p.expiresAt).as('expires_at'),
          ])
          // The WHERE also keeps SQLite's parser from taking ON CONFLICT for a join's ON.
          .where('workspace_id', '=', p.workspaceId)
          .where('id', 'in', p.memberIds),
      )
      .onConflict((oc) =>
        oc
          .columns(['group_id', 'member_id'])
          .doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') })),
      )
      .returning('member_id'),
  { lists: ['memberIds'] },
);

const deleteMembersOf = prepared(
  (db, p: { groupId: string; ids: number[] }) =>
    db
      .deleteFrom('group_memberships')
      .where('group_id', '=', p.groupId)
      .where('member_id', 'in', p.ids),
  { lists: ['ids'] },
);
const deleteInvitationsOf = prepared(
  (db, p: { groupId: string; ids: number[] }) =>
    db
      .deleteFrom('group_memberships')
      .where('group_id', '=', p.groupId)
      .where('invitation_id', 'in', p.ids),
  { lists: ['ids'] },
);

/**
 * The deletes of these collaborators' and invitations' memberships of the group, to send with
 * the event that records them (recordChangeWith); `removedCount` of their results says how many
 * went.
 */
export function deleteMembershipsStatements(
  db: Executor,
  groupId: string,
  memberIds: number[],
  invitationIds: number[],
) {
  return [
    ...(memberIds.length > 0 ? [deleteMembersOf.compile(db, { groupId, ids: memberIds })] : []),
    ...(invitationIds.length > 0
      ? [deleteInvitationsOf.compile(db, { groupId, ids: invitationIds })]
      : []),
  ];
}

export function removedCount(results: readonly { numAffectedRows?: bigint }[]): number {
  return results.reduce((sum, result) => sum + Number(result.numAffectedRows ?? 0), 0);
}

/** Explicit group memberships of these members (the system group is added by the caller). */
const membershipsOfMembers = prepared(
  (db, p: { memberIds: number[] }) =>
    db
      .selectFrom('group_memberships as gm')
      .innerJoin('collaborator_groups as g', 'g.id', 'gm.group_id')
      .select(['gm.member_id', 'g.id', 'g.name', 'g.system', 'gm.expires_at', 'gm.created_at'])
      .where('gm.member_id', 'in', p.memberIds)
      .orderBy('gm.created_at')
      .orderBy('gm.id'),
  { lists: ['memberIds'] },
);

export function listMembershipsOfMembers(db: Executor, memberIds: number[]) {
  if (memberIds.length === 0) return Promise.resolve([]);
  return membershipsOfMembers.execute(db, { memberIds });
}
