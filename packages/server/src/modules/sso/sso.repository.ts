import type { Executor, NewRow, Row } from '../../storage/database.js';

export type SsoConnectionRow = Row<'sso_oidc_connections'>;
export type SsoLoginAttemptRow = Row<'sso_login_attempts'>;

export function findSsoConnection(db: Executor, workspaceId: number) {
  return db
    .selectFrom('sso_oidc_connections')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export async function upsertSsoConnection(
  db: Executor,
  row: NewRow<'sso_oidc_connections'>,
): Promise<void> {
  // A replaced connection keeps its workspace and creation time.
  const changes = {
    issuer_url: row.issuer_url,
    client_id: row.client_id,
    client_secret_encrypted: row.client_secret_encrypted,
    allowed_domains: row.allowed_domains,
    groups_claim: row.groups_claim,
    environment_types: row.environment_types,
    scopes: row.scopes,
    enabled: row.enabled,
    console_sign_in: row.console_sign_in,
    updated_at: row.updated_at,
  };
  await db
    .insertInto('sso_oidc_connections')
    .values(row)
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet(changes))
    .execute();
}

export function deleteSsoConnection(db: Executor, workspaceId: number) {
  return db
    .deleteFrom('sso_oidc_connections')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
}

export function insertSsoLoginAttempt(db: Executor, row: NewRow<'sso_login_attempts'>) {
  return db.insertInto('sso_login_attempts').values(row).execute();
}

export function findSsoLoginAttemptByStateHash(db: Executor, stateHash: string) {
  return db
    .selectFrom('sso_login_attempts')
    .selectAll()
    .where('state_hash', '=', stateHash)
    .executeTakeFirst();
}

/** Marks the attempt used; false when another request used it first (a replay racing the original). */
export async function claimSsoLoginAttempt(
  db: Executor,
  id: number,
  usedAt: string,
): Promise<boolean> {
  const result = await db
    .updateTable('sso_login_attempts')
    .set({ used_at: usedAt })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Housekeeping: attempts long past their expiry are kept no longer than needed to say "expired". */
export function deleteSsoLoginAttemptsExpiredBefore(db: Executor, before: string) {
  return db.deleteFrom('sso_login_attempts').where('expires_at', '<', before).execute();
}

/** Non-system end-user groups of these environments whose names (case-insensitive) are listed. */
export function findGroupsByNameKeys(
  db: Executor,
  workspaceId: number,
  environmentIds: number[],
  nameKeys: string[],
) {
  if (environmentIds.length === 0 || nameKeys.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('end_user_groups as g')
    .innerJoin('environments as e', 'e.id', 'g.environment_id')
    .select([
      'g.id',
      'g.name',
      'g.name_key',
      'g.environment_id',
      'g.managed_by',
      'e.type as environment_type',
    ])
    .where('g.workspace_id', '=', workspaceId)
    .where('g.environment_id', 'in', environmentIds)
    .where('g.system', '=', 0)
    .where('g.name_key', 'in', nameKeys)
    .orderBy('g.environment_id')
    .orderBy('g.id')
    .execute();
}

/** Workspaces whose connection is enabled, oldest first: where console SSO sign-in can start. */
/** Workspaces whose connection is enabled and signs people in to the console (`console_sign_in`). */
export async function listConsoleSsoWorkspaceIds(db: Executor): Promise<number[]> {
  const rows = await db
    .selectFrom('sso_oidc_connections')
    .select('workspace_id')
    .where('enabled', '=', 1)
    .where('console_sign_in', '=', 1)
    .orderBy('workspace_id')
    .execute();
  return rows.map((r) => r.workspace_id);
}
