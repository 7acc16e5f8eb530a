import type { Executor, Row } from '../../storage/database.js';

export function findWorkspaceById(
  db: Executor,
  id: number,
): Promise<Row<'workspaces'> | undefined> {
  return db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listWorkspaces(db: Executor): Promise<Row<'workspaces'>[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('id').execute();
}

export async function countWorkspaces(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('workspaces')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
