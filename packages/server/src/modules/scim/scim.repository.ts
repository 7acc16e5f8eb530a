/**
 * Kysely queries for SCIM connections and the SCIM view of the users and groups they manage.
 * Dialect-neutral; every function takes a database handle or an open transaction first.
 */
import { sql, type CompiledQuery, type RawBuilder } from 'kysely';
import type { Dialect, Executor, NewRow, Row } from '../../storage/database.js';
import { firstRowRead, type PlannedRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import type { Actor } from '../../lib/context.js';
import type { ChangeTracker } from '../../lib/change-tracking.js';
import {
  insertAuditEvent,
  insertAuditEventWith,
  type ResultsOf,
} from '../audit/audit.repository.js';
import type { ChangeTargetType } from '../audit/change-kinds.js';

export type ScimConnectionRow = Row<'scim_connections'>;
export type ScimUserRow = Row<'scim_users'>;
export type ScimGroupRow = Row<'scim_groups'>;

/** Long lists (group push with thousands of members) go to the database in slices. */
export const CHUNK = 500;
export function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---- connections ----------------------------------------------------------------------------

export function insertConnection(db: Executor, row: NewRow<'scim_connections'>) {
  return db.insertInto('scim_connections').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findConnection(db: Executor, id: string) {
  return db.selectFrom('scim_connections').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listConnections(db: Executor, workspaceId: number) {
  return (
    db
      .selectFrom('scim_connections as c')
      .innerJoin('environments as e', 'e.id', 'c.environment_id')
      .leftJoin('legacy_roles as lr', 'lr.id', 'c.default_legacy_role_id')
      .leftJoin('environment_roles as er', 'er.id', 'c.default_environment_role_id')
      .selectAll('c')
      .select('e.type as environment_type')
      // The default role's current name (it may have been renamed since it was set).
      .select(sql<string | null>`coalesce(lr.name, er.name)`.as('default_role_name'))
      .select((eb) => [
        eb
          .selectFrom('scim_users as su')
          .whereRef('su.connection_id', '=', 'c.id')
          .select(eb.fn.countAll<number | string>().as('n'))
          .as('users_count'),
        eb
          .selectFrom('scim_groups as sg')
          .whereRef('sg.connection_id', '=', 'c.id')
          .select(eb.fn.countAll<number | string>().as('n'))
          .as('groups_count'),
      ])
      .where('c.workspace_id', '=', workspaceId)
      .orderBy('c.created_at')
      .orderBy('c.id')
      .execute()
  );
}

export function updateConnection(
  db: Executor,
  id: string,
  changes: Partial<
    Pick<
      ScimConnectionRow,
      | 'token_hash'
      | 'token_prefix'
      | 'rotated_at'
      | 'last_sync_at'
      | 'name'
      | 'default_role'
      | 'default_role_type'
      | 'default_legacy_role_id'
      | 'default_environment_role_id'
    >
  >,
) {
  return db.updateTable('scim_connections').set(changes).where('id', '=', id).execute();
}

/** A connection's `last_sync_at` update, to send with the write it dates. */
export function touchConnectionStatement(db: Executor, id: string, at: string) {
  return db
    .updateTable('scim_connections')
    .set({ last_sync_at: at })
    .where('id', '=', id)
    .compile();
}

export function deleteConnection(db: Executor, id: string) {
  return db.deleteFrom('scim_connections').where('id', '=', id).execute();
}

// ---- users ----------------------------------------------------------------------------------

/** The connection's user whose person (end user or member, by `column`) has this ID. */
export function findScimUser(
  db: Executor,
  connectionId: string,
  column: 'end_user_id' | 'member_id',
  personId: number,
  dialect: Dialect,
  lock = false,
) {
  let query = db
    .selectFrom('scim_users')
    .selectAll()
    .where('connection_id', '=', connectionId)
    .where(column, '=', personId);
  if (lock && dialect === 'postgres') query = query.forUpdate();
  return query.executeTakeFirst();
}

// Every SCIM user create and group PATCH runs these: compiled once (storage/prepared.ts).
const scimUserByUserNameKey = prepared((db, p: { connectionId: string; key: string }) =>
  db
    .selectFrom('scim_users')
    .selectAll()
    .where('connection_id', '=', p.connectionId)
    .where('user_name_key', '=', p.key),
);

export function findScimUserByUserNameKey(db: Executor, connectionId: string, key: string) {
  return scimUserByUserNameKey.takeFirst(db, { connectionId, key });
}

/** findScimUserByUserNameKey as a read to send with others (storage/pipeline.ts, readTogether). */
export function planScimUserByUserNameKey(
  db: Executor,
  connectionId: string,
  key: string,
): PlannedRead<ScimUserRow | undefined> {
  return firstRowRead(scimUserByUserNameKey.compile(db, { connectionId, key }));
}

/** How many other connections manage this person (an end user or a member, by `column`). */
export function countOtherLinks(
  db: Executor,
  column: 'end_user_id' | 'member_id',
  personId: number,
  connectionId: string,
) {
  return db
    .selectFrom('scim_users')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(column, '=', personId)
    .where('connection_id', '<>', connectionId)
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.n));
}

/** A SCIM user's insert, to send with the event that records it (its row is returned). */
export function insertScimUserStatement(db: Executor, row: NewRow<'scim_users'>) {
  return db.insertInto('scim_users').values(row).returningAll().compile();
}

export function updateScimUser(
  db: Executor,
  id: number,
  changes: Partial<Omit<ScimUserRow, 'id'>>,
) {
  return db.updateTable('scim_users').set(changes).where('id', '=', id).execute();
}

export function deleteScimUser(db: Executor, id: number) {
  return db.deleteFrom('scim_users').where('id', '=', id).execute();
}

export async function listScimUsers(
  db: Executor,
  connectionId: string,
  where: RawBuilder<boolean> | undefined,
  offset: number,
  limit: number,
): Promise<{ rows: ScimUserRow[]; total: number }> {
  let base = db.selectFrom('scim_users as su').where('su.connection_id', '=', connectionId);
  if (where !== undefined) base = base.where(where);
  const [rows, count] = await Promise.all([
    limit === 0
      ? Promise.resolve([])
      : base.selectAll('su').orderBy('su.id').limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

function prepareLinkedIds(column: 'end_user_id' | 'member_id') {
  return prepared(
    (db, p: { connectionId: string; ids: number[] }) =>
      db
        .selectFrom('scim_users')
        .select(column)
        .where('connection_id', '=', p.connectionId)
        .where(column, 'in', p.ids),
    { lists: ['ids'] },
  );
}
const linkedIds = {
  end_user_id: prepareLinkedIds('end_user_id'),
  member_id: prepareLinkedIds('member_id'),
};

/** Users of the connection among these SCIM ids (end-user or member IDs). */
export async function existingUserIds(
  db: Executor,
  connectionId: string,
  column: 'end_user_id' | 'member_id',
  ids: number[],
): Promise<Set<number>> {
  const found = new Set<number>();
  for (const slice of chunks(ids)) {
    const rows = await linkedIds[column].execute(db, { connectionId, ids: slice });
    for (const row of rows) {
      const id = row[column];
      if (id !== null) found.add(id);
    }
  }
  return found;
}

// ---- groups ---------------------------------------------------------------------------------

function prepareScimGroup(column: 'end_user_group_id' | 'collaborator_group_id', lock: boolean) {
  return prepared((db, p: { connectionId: string; id: number | string }) => {
    const query = db
      .selectFrom('scim_groups')
      .selectAll()
      .where('connection_id', '=', p.connectionId)
      // The column's type: a number for end-user groups, text for collaborator groups (the
      // caller converts, below).
      .where(column, '=', p.id as never);
    return lock ? query.forUpdate() : query;
  });
}
/** By column, then unlocked / locked (FOR UPDATE, PostgreSQL only). */
const scimGroups = {
  end_user_group_id: [
    prepareScimGroup('end_user_group_id', false),
    prepareScimGroup('end_user_group_id', true),
  ],
  collaborator_group_id: [
    prepareScimGroup('collaborator_group_id', false),
    prepareScimGroup('collaborator_group_id', true),
  ],
} as const;

export function findScimGroup(
  db: Executor,
  connectionId: string,
  column: 'end_user_group_id' | 'collaborator_group_id',
  id: number | string,
  dialect: Dialect,
  lock = false,
) {
  const query = scimGroups[column][lock && dialect === 'postgres' ? 1 : 0];
  return query.takeFirst(db, {
    connectionId,
    id: column === 'end_user_group_id' ? Number(id) : String(id),
  });
}

export function insertScimGroup(db: Executor, row: NewRow<'scim_groups'>) {
  return db.insertInto('scim_groups').values(row).returningAll().executeTakeFirstOrThrow();
}

/**
 * A PATCH of members only touches the group's time and version: that update compiled once
 * (prepared.ts), sent with the event that records the PATCH (runTogether).
 */
const touchScimGroup = prepared((db, p: { id: number; updatedAt: string }) =>
  db
    .updateTable('scim_groups')
    .set({ updated_at: p.updatedAt, version: sql<number>`version + 1` })
    .where('id', '=', p.id)
    .returningAll(),
);

export function touchScimGroupStatement(db: Executor, id: number, updatedAt: string) {
  return touchScimGroup.compile(db, { id, updatedAt });
}

export function updateScimGroup(
  db: Executor,
  id: number,
  changes: Partial<Pick<ScimGroupRow, 'display_name' | 'external_id' | 'updated_at'>>,
): Promise<ScimGroupRow> {
  // The version goes up in the same statement, so concurrent PATCHes each get their own; the row
  // as updated comes back with it, so a write need not read it again for its answer.
  return db
    .updateTable('scim_groups')
    .set({ ...changes, version: sql<number>`version + 1` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listScimGroups(
  db: Executor,
  connectionId: string,
  where: RawBuilder<boolean> | undefined,
  offset: number,
  limit: number,
): Promise<{ rows: ScimGroupRow[]; total: number }> {
  let base = db.selectFrom('scim_groups as sg').where('sg.connection_id', '=', connectionId);
  if (where !== undefined) base = base.where(where);
  const [rows, count] = await Promise.all([
    limit === 0
      ? Promise.resolve([])
      : base.selectAll('sg').orderBy('sg.id').limit(limit).offset(offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

// ---- audit ----------------------------------------------------------------------------------

/** insertAuditEvent with the connection as actor (actor_type `scim_connection`). */
export async function insertScimAuditEvent(
  db: Executor,
  entry: {
    /** The request's (lib/change-tracking.ts); when absent, every tracked request is marked. */
    changes?: ChangeTracker;
    workspaceId: number;
    actor: Omit<Actor, 'type'>;
    action: string;
    targetType: ChangeTargetType;
    targetId: string | number;
    before?: unknown;
    after?: unknown;
    createdAt: string;
  },
): Promise<void> {
  await insertAuditEvent(db, { ...entry, actor: { ...entry.actor, type: 'scim_connection' } });
}

/** insertScimAuditEvent with the writes it records sent in the same round trip. */
export function insertScimAuditEventWith<const W extends readonly CompiledQuery[]>(
  db: Executor,
  writes: W,
  entry: Parameters<typeof insertScimAuditEvent>[1],
): Promise<ResultsOf<W>> {
  return insertAuditEventWith(db, writes, {
    ...entry,
    actor: { ...entry.actor, type: 'scim_connection' },
  });
}
