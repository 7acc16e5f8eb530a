import { sql, type CompiledQuery } from 'kysely';
import type { Executor, NewRow, Row } from '../../storage/database.js';
import { firstRowRead, type PlannedRead } from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';

export type EndUserRow = Row<'end_users'>;

export function findEndUserById(db: Executor, workspaceId: number, id: number) {
  return db
    .selectFrom('end_users')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

// A SCIM user's creation and every SSO sign-in look this up: compiled once (storage/prepared.ts).
const endUserByEmailKey = prepared((db, p: { workspaceId: number; emailKey: string }) =>
  db
    .selectFrom('end_users')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('email_key', '=', p.emailKey),
);

export function findEndUserByEmailKey(db: Executor, workspaceId: number, emailKey: string) {
  return endUserByEmailKey.takeFirst(db, { workspaceId, emailKey });
}

/** findEndUserByEmailKey as a read to send with others (storage/pipeline.ts, readTogether). */
export function planEndUserByEmailKey(
  db: Executor,
  workspaceId: number,
  emailKey: string,
): PlannedRead<EndUserRow | undefined> {
  return firstRowRead(endUserByEmailKey.compile(db, { workspaceId, emailKey }));
}

export function findEndUsersByIds(db: Executor, workspaceId: number, ids: number[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('end_users')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
}

export interface EndUserListFilter {
  email?: string | undefined;
  status?: string | undefined;
  environmentId?: number | undefined;
  sort?: 'email' | 'mfa' | 'created_at' | undefined;
  direction?: 'asc' | 'desc' | undefined;
}

export async function listEndUsers(
  db: Executor,
  workspaceId: number,
  filter: EndUserListFilter,
  page: PageRequest,
): Promise<{ rows: EndUserRow[]; total: number }> {
  let base = db.selectFrom('end_users as u').where('u.workspace_id', '=', workspaceId);
  if (filter.email !== undefined && filter.email !== '') {
    base = base.where(sql<boolean>`u.email_key like ${likeContains(filter.email)} escape '\\'`);
  }
  if (filter.status !== undefined) base = base.where('u.status', '=', filter.status);
  if (filter.environmentId !== undefined) {
    const environmentId = filter.environmentId;
    base = base.where((eb) =>
      eb.exists(
        eb
          .selectFrom('end_user_environments as ue')
          .select('ue.end_user_id')
          .whereRef('ue.end_user_id', '=', 'u.id')
          .where('ue.environment_id', '=', environmentId),
      ),
    );
  }
  const direction = filter.direction ?? 'asc';
  let ordered = base.selectAll('u');
  if (filter.sort === 'email') ordered = ordered.orderBy('u.email_key', direction);
  else if (filter.sort === 'mfa')
    ordered = ordered.orderBy('u.mfa_enabled', direction).orderBy('u.email_key', direction);
  else ordered = ordered.orderBy('u.created_at', direction);
  const [rows, count] = await Promise.all([
    ordered.orderBy('u.id', direction).limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function insertEndUser(db: Executor, row: NewRow<'end_users'>) {
  return db.insertInto('end_users').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateEndUser(
  db: Executor,
  id: number,
  changes: Partial<
    Pick<
      EndUserRow,
      'name' | 'avatar_url' | 'external_id' | 'mfa_enabled' | 'status' | 'updated_at'
    >
  >,
) {
  return db.updateTable('end_users').set(changes).where('id', '=', id).execute();
}

export function deleteEndUser(db: Executor, id: number) {
  return db.deleteFrom('end_users').where('id', '=', id).execute();
}

/** Environment types each user may access, by user ID, in environment order. */
export async function environmentTypesOf(
  db: Executor,
  endUserIds: number[],
): Promise<Map<number, string[]>> {
  const result = new Map<number, string[]>(endUserIds.map((id) => [id, []]));
  if (endUserIds.length === 0) return result;
  const rows = await db
    .selectFrom('end_user_environments as ue')
    .innerJoin('environments as e', 'e.id', 'ue.environment_id')
    .select(['ue.end_user_id', 'e.type'])
    .where('ue.end_user_id', 'in', endUserIds)
    .orderBy('e.id')
    .execute();
  for (const row of rows) result.get(row.end_user_id)?.push(row.type);
  return result;
}

export async function insertEnvironmentAccess(
  db: Executor,
  workspaceId: number,
  endUserId: number,
  environmentIds: readonly number[],
  now: string,
) {
  const statement = environmentAccessStatement(db, workspaceId, endUserId, environmentIds, now);
  if (statement !== undefined) await db.executeQuery(statement);
}

/** insertEnvironmentAccess's statement, to send with others (none for no environments). */
export function environmentAccessStatement(
  db: Executor,
  workspaceId: number,
  endUserId: number,
  environmentIds: readonly number[],
  now: string,
): CompiledQuery | undefined {
  if (environmentIds.length === 0) return undefined;
  return db
    .insertInto('end_user_environments')
    .values(
      environmentIds.map((environmentId) => ({
        workspace_id: workspaceId,
        end_user_id: endUserId,
        environment_id: environmentId,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['end_user_id', 'environment_id']).doNothing())
    .compile();
}

export function deleteEnvironmentAccess(db: Executor, endUserId: number, environmentId: number) {
  return db
    .deleteFrom('end_user_environments')
    .where('end_user_id', '=', endUserId)
    .where('environment_id', '=', environmentId)
    .executeTakeFirst();
}

/** Users (of these) who may access the environment. */
export async function usersWithEnvironmentAccess(
  db: Executor,
  environmentId: number,
  endUserIds: number[],
): Promise<Set<number>> {
  if (endUserIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('end_user_environments')
    .select('end_user_id')
    .where('environment_id', '=', environmentId)
    .where('end_user_id', 'in', endUserIds)
    .execute();
  return new Set(rows.map((r) => r.end_user_id));
}

export function listEnvironmentAccessRows(db: Executor, endUserId: number) {
  return db
    .selectFrom('end_user_environments as ue')
    .innerJoin('environments as e', 'e.id', 'ue.environment_id')
    .select(['ue.environment_id', 'e.type', 'ue.created_at'])
    .where('ue.end_user_id', '=', endUserId)
    .orderBy('e.id')
    .execute();
}

/** Audit events about the user, newest first: what the detail view calls recent activity. */
export function listRecentActivity(
  db: Executor,
  workspaceId: number,
  endUserId: number,
  limit: number,
) {
  return db
    .selectFrom('audit_events')
    .select(['id', 'action', 'actor_type', 'actor_id', 'actor_name', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('target_type', '=', 'end_user')
    .where('target_id', '=', String(endUserId))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

export function insertEndUserInvitation(db: Executor, row: NewRow<'end_user_invitations'>) {
  return db.insertInto('end_user_invitations').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findEndUserInvitationByTokenHash(db: Executor, tokenHash: string) {
  return db
    .selectFrom('end_user_invitations')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}
