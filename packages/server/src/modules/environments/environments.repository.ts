/**
 * Queries on a workspace's environments (dev, test, prod). Nearly every module needs them, so they
 * live below all of them rather than in workspaces, which creates the environments.
 */
import type { Executor, Row } from '../../storage/database.js';

export function listEnvironments(
  db: Executor,
  workspaceId: number,
): Promise<Row<'environments'>[]> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id')
    .execute();
}

export function findEnvironmentByType(
  db: Executor,
  workspaceId: number,
  type: string,
): Promise<Row<'environments'> | undefined> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('type', '=', type)
    .executeTakeFirst();
}
