import type { Executor, Row } from '../../storage/database.js';

export function findSessionByTokenHash(db: Executor, tokenHash: string, now: string) {
  return db
    .selectFrom('console_sessions as s')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .innerJoin('workspaces as w', 'w.id', 's.workspace_id')
    .select([
      's.id as session_id',
      's.workspace_id',
      's.member_id',
      's.csrf_hash',
      's.expires_at',
      'm.name as member_name',
      'm.email as member_email',
      'w.name as workspace_name',
    ])
    .where('s.token_hash', '=', tokenHash)
    .where('s.expires_at', '>', now)
    .executeTakeFirst();
}

export async function insertSession(
  db: Executor,
  row: Omit<Row<'console_sessions'>, 'id'>,
): Promise<void> {
  await db.insertInto('console_sessions').values(row).execute();
}

export async function deleteSessionByTokenHash(db: Executor, tokenHash: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('token_hash', '=', tokenHash).execute();
}

export async function deleteExpiredSessions(db: Executor, now: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('expires_at', '<=', now).execute();
}

/** Every collaborator with a console password and this email, in any workspace (oldest workspace first). */
export function listCredentialsByEmailKey(db: Executor, emailKey: string) {
  return db
    .selectFrom('console_credentials as c')
    .innerJoin('members as m', 'm.id', 'c.member_id')
    .select(['c.member_id', 'c.workspace_id', 'c.password_hash'])
    .where('m.email_key', '=', emailKey)
    .orderBy('c.workspace_id')
    .execute();
}

export async function countCredentials(db: Executor, workspaceId?: number): Promise<number> {
  let query = db
    .selectFrom('console_credentials')
    .select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (workspaceId !== undefined) query = query.where('workspace_id', '=', workspaceId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function upsertCredential(
  db: Executor,
  row: { member_id: number; workspace_id: number; password_hash: string; now: string },
): Promise<void> {
  await db
    .insertInto('console_credentials')
    .values({
      member_id: row.member_id,
      workspace_id: row.workspace_id,
      password_hash: row.password_hash,
      created_at: row.now,
      updated_at: row.now,
    })
    .onConflict((oc) =>
      oc.column('member_id').doUpdateSet({ password_hash: row.password_hash, updated_at: row.now }),
    )
    .execute();
}

/** An end user's console session, with what is needed to re-check the grant on every request. */
export function findEndUserSessionByTokenHash(db: Executor, tokenHash: string, now: string) {
  return db
    .selectFrom('console_end_user_sessions as s')
    .innerJoin('end_users as u', 'u.id', 's.end_user_id')
    .innerJoin('workspaces as w', 'w.id', 's.workspace_id')
    .select([
      's.id as session_id',
      's.workspace_id',
      's.end_user_id',
      's.csrf_hash',
      's.expires_at',
      'u.name as user_name',
      'u.email as user_email',
      'u.status as user_status',
      'w.name as workspace_name',
    ])
    .where('s.token_hash', '=', tokenHash)
    .where('s.expires_at', '>', now)
    .executeTakeFirst();
}

export async function insertEndUserSession(
  db: Executor,
  row: Omit<Row<'console_end_user_sessions'>, 'id'>,
): Promise<void> {
  await db.insertInto('console_end_user_sessions').values(row).execute();
}

export async function deleteEndUserSessionByTokenHash(
  db: Executor,
  tokenHash: string,
): Promise<void> {
  await db.deleteFrom('console_end_user_sessions').where('token_hash', '=', tokenHash).execute();
}

export async function deleteExpiredEndUserSessions(db: Executor, now: string): Promise<void> {
  await db.deleteFrom('console_end_user_sessions').where('expires_at', '<=', now).execute();
}

/**
 * The console roles an end user holds through explicit membership of groups (Everyone's
 * membership is implicit and carries no role) in environments the user can still access, in the
 * session's workspace only (IDs are global; the filter keeps a stray row of another workspace out).
 */
export function listConsoleRolesOfEndUser(db: Executor, workspaceId: number, endUserId: number) {
  return db
    .selectFrom('end_user_group_members as m')
    .innerJoin('end_user_groups as g', 'g.id', 'm.group_id')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .innerJoin('end_user_environments as a', (join) =>
      join
        .onRef('a.end_user_id', '=', 'm.end_user_id')
        .onRef('a.environment_id', '=', 'g.environment_id'),
    )
    .select(['e.id as environment_id', 'e.type as environment_type', 'g.roles'])
    .where('m.end_user_id', '=', endUserId)
    .where('g.workspace_id', '=', workspaceId)
    .where('e.workspace_id', '=', workspaceId)
    .where('g.system', '=', 0)
    .orderBy('e.id')
    .execute();
}

/**
 * Whether a collaborators SCIM connection has this collaborator deactivated (`active: false`):
 * the identity provider has switched them off, so the console refuses them (docs/scim.md).
 */
export async function isDeactivatedByScim(db: Executor, memberId: number): Promise<boolean> {
  const row = await db
    .selectFrom('scim_users as su')
    .innerJoin('scim_connections as c', 'c.id', 'su.connection_id')
    .select('su.id')
    .where('su.member_id', '=', memberId)
    .where('su.active', '=', 0)
    .where('c.target', '=', 'collaborators')
    .executeTakeFirst();
  return row !== undefined;
}
