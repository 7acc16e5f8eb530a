import type { Executor, NewRow, Row } from '../../storage/database.js';

export function insertApiClient(
  db: Executor,
  row: NewRow<'api_clients'>,
): Promise<Row<'api_clients'>> {
  return db.insertInto('api_clients').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findApiClientByTokenHash(
  db: Executor,
  tokenHash: string,
): Promise<Row<'api_clients'> | undefined> {
  return db
    .selectFrom('api_clients')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export function findApiClientById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<Row<'api_clients'> | undefined> {
  return db
    .selectFrom('api_clients')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function listApiClients(
  db: Executor,
  workspaceId: number,
  options: { includeRevoked: boolean; limit: number; offset: number },
): Promise<{ rows: Row<'api_clients'>[]; total: number }> {
  let query = db.selectFrom('api_clients').where('workspace_id', '=', workspaceId);
  if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
  const [rows, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(options.limit).offset(options.offset).execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function updateApiClient(
  db: Executor,
  id: number,
  changes: Partial<
    Pick<Row<'api_clients'>, 'token_hash' | 'token_prefix' | 'rotated_at' | 'revoked_at'>
  >,
): Promise<Row<'api_clients'>> {
  return db
    .updateTable('api_clients')
    .set(changes)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}
