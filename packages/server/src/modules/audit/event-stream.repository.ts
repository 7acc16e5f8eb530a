/**
 * The reads of the change stream (event-stream.ts): which audit event IDs exist (the stream's
 * own view of the log's order, kept apart from the change feed's so that neither waits on the
 * other) and the events of one workspace in a range of IDs, in ID order.
 */
import type { Executor, Row } from '../../storage/database.js';
import { whereVisible, type AuditVisibility } from './audit-visibility.js';

/** The IDs in (from, to], to find which of them are not committed yet. */
export async function listEventIdsBetween(
  db: Executor,
  from: number,
  to: number,
): Promise<number[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select('id')
    .where('id', '>', from)
    .where('id', '<=', to)
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

/**
 * One workspace's events with an ID in (after, upTo] that `visibility` lets a client see, oldest
 * first, at most `limit`.
 */
export function listWorkspaceEventsBetween(
  db: Executor,
  workspaceId: number,
  visibility: AuditVisibility,
  after: number,
  upTo: number,
  limit: number,
): Promise<Row<'audit_events'>[]> {
  return whereVisible(
    db.selectFrom('audit_events').where('workspace_id', '=', workspaceId),
    visibility,
  )
    .selectAll()
    .where('id', '>', after)
    .where('id', '<=', upTo)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The events with these IDs, oldest first. */
export function findEventsByIds(
  db: Executor,
  ids: readonly number[],
): Promise<Row<'audit_events'>[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('audit_events')
    .selectAll()
    .where('id', 'in', [...ids])
    .orderBy('id')
    .execute();
}
