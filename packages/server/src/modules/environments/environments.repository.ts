/**
 * Queries on a workspace's environments (dev, test, prod). Nearly every module needs them, so they
 * live below all of them rather than in workspaces, which creates the environments.
 */
import type { Executor, Row } from '../../storage/database.js';
import { prepared } from '../../storage/prepared.js';

// Read by most writes: compiled once per database (storage/prepared.ts).
const environmentsOf = prepared((db, p: { workspaceId: number }) =>
  db.selectFrom('environments').selectAll().where('workspace_id', '=', p.workspaceId).orderBy('id'),
);
const environmentByType = prepared((db, p: { workspaceId: number; type: string }) =>
  db
    .selectFrom('environments')
    .selectAll()
    .where('workspace_id', '=', p.workspaceId)
    .where('type', '=', p.type),
);

export function listEnvironments(
  db: Executor,
  workspaceId: number,
): Promise<Row<'environments'>[]> {
  return environmentsOf.execute(db, { workspaceId });
}

export function findEnvironmentByType(
  db: Executor,
  workspaceId: number,
  type: string,
): Promise<Row<'environments'> | undefined> {
  return environmentByType.takeFirst(db, { workspaceId, type });
}
