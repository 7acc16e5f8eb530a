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

/**
 * Each database's workspaces' environments, as read. A workspace's environments never change:
 * they are inserted with the workspace, in its transaction (workspaces.service.ts), and go only
 * with it (a cascade), and workspace IDs are never reused (AUTOINCREMENT on SQLite, a sequence on
 * PostgreSQL). So once read they are kept, by every instance, and most writes and lists (an
 * invitation, a role change, the members and audit lists) read them without a statement. Only a
 * read outside a transaction is kept: inside one it may see a workspace that is not committed (on
 * SQLite a rolled-back insert's ID is given again). An empty read is not kept either (a workspace
 * has at least one). At most KEPT_WORKSPACES per database, the oldest read dropped first.
 */
const kept = new WeakMap<object, Map<number, Environments>>();
/** A workspace's environments, shared by every reader: not to be changed. */
export type Environments = readonly Readonly<Row<'environments'>>[];
const KEPT_WORKSPACES = 10_000;

export async function listEnvironments(db: Executor, workspaceId: number): Promise<Environments> {
  // The adapter is made once per database and shared by its transactions (storage/prepared.ts).
  const database = db.getExecutor().adapter;
  let workspaces = kept.get(database);
  const known = workspaces?.get(workspaceId);
  if (known !== undefined) return known;
  const rows = await environmentsOf.execute(db, { workspaceId });
  if (rows.length === 0 || db.isTransaction) return rows;
  if (workspaces === undefined) {
    workspaces = new Map();
    kept.set(database, workspaces);
  }
  if (workspaces.size >= KEPT_WORKSPACES) {
    const oldest = workspaces.keys().next();
    if (oldest.done !== true) workspaces.delete(oldest.value);
  }
  const frozen = Object.freeze(rows.map((row) => Object.freeze(row)));
  workspaces.set(workspaceId, frozen);
  return frozen;
}

export function findEnvironmentByType(
  db: Executor,
  workspaceId: number,
  type: string,
): Promise<Row<'environments'> | undefined> {
  return environmentByType.takeFirst(db, { workspaceId, type });
}
