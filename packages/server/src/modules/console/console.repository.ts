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
