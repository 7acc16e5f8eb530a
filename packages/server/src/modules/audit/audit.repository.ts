import { sql } from 'kysely';
import type { ListAuditEventsQuery } from '@roster/contracts';
import type { Executor, Row } from '../../storage/database.js';
import { toJson } from '../../storage/json.js';
import type { PageRequest } from '../../lib/pagination.js';
import type { Actor } from '../../lib/context.js';
import { noteChangeRecorded } from '../../lib/change-tracking.js';

export interface AuditEntry {
  workspaceId: number;
  actor: Actor;
  action: string;
  targetType: string;
  targetId: string | number | null;
  before?: unknown;
  after?: unknown;
  createdAt: string;
}

export async function insertAuditEvent(db: Executor, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_events')
    .values({
      workspace_id: entry.workspaceId,
      actor_type: entry.actor.type,
      actor_id: entry.actor.id,
      actor_name: entry.actor.name,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId === null ? null : String(entry.targetId),
      before_json: entry.before === undefined ? null : toJson(entry.before),
      after_json: entry.after === undefined ? null : toJson(entry.after),
      created_at: entry.createdAt,
    })
    .execute();
  // The request that recorded it syncs the access index before answering (app.ts).
  noteChangeRecorded();
}

type AuditFilter = Omit<ListAuditEventsQuery, 'page[number]' | 'page[size]'>;

function filtered(db: Executor, workspaceId: number, filter: AuditFilter) {
  let query = db.selectFrom('audit_events').where('workspace_id', '=', workspaceId);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.actor_type !== undefined) query = query.where('actor_type', '=', filter.actor_type);
  if (filter.actor_id !== undefined) query = query.where('actor_id', '=', filter.actor_id);
  if (filter.target_type !== undefined) query = query.where('target_type', '=', filter.target_type);
  if (filter.target_id !== undefined) query = query.where('target_id', '=', filter.target_id);
  if (filter.since !== undefined)
    query = query.where('created_at', '>=', new Date(filter.since).toISOString());
  if (filter.until !== undefined)
    query = query.where('created_at', '<', new Date(filter.until).toISOString());
  return query;
}

export async function listAuditEvents(
  db: Executor,
  workspaceId: number,
  filter: AuditFilter,
  page: PageRequest,
): Promise<{ rows: Row<'audit_events'>[]; total: number }> {
  const [rows, count] = await Promise.all([
    filtered(db, workspaceId, filter)
      .selectAll()
      .orderBy('id', 'desc')
      .limit(page.size)
      .offset(page.offset)
      .execute(),
    filtered(db, workspaceId, filter)
      .select(sql<number>`cast(count(*) as integer)`.as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.n };
}

/** The latest thing each member did themselves: the reference API's `last_activity_log`. */
export async function findLastActivities(
  db: Executor,
  workspaceId: number,
  memberIds: number[],
): Promise<Map<number, { id: number; event_type: string; created_at: string }>> {
  const result = new Map<number, { id: number; event_type: string; created_at: string }>();
  if (memberIds.length === 0) return result;
  const latest = db
    .selectFrom('audit_events')
    .select(['actor_id', sql<number>`max(id)`.as('id')])
    .where('workspace_id', '=', workspaceId)
    .where('actor_type', '=', 'member')
    .where('actor_id', 'in', memberIds.map(String))
    .groupBy('actor_id')
    .as('latest');
  const rows = await db
    .selectFrom('audit_events')
    .innerJoin(latest, 'latest.id', 'audit_events.id')
    .select([
      'audit_events.id',
      'audit_events.actor_id',
      'audit_events.action',
      'audit_events.created_at',
    ])
    .execute();
  for (const row of rows) {
    result.set(Number(row.actor_id), {
      id: row.id,
      event_type: row.action,
      created_at: row.created_at,
    });
  }
  return result;
}
