import type {
  AuditActivityBucket,
  AuditActivityQuery,
  AuditEvent,
  ListAuditEventsQuery,
} from '@roster/contracts';
import type { Db, Row } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import type { RequestContext } from '../../lib/context.js';
import type { Clock } from '../../lib/clock.js';
import { csvLines, type CsvValue } from '../../lib/csv.js';
import { requireCollaboratorActor } from '../../lib/scope.js';
import { badRequest } from '../../lib/errors.js';
import {
  countAuditEventsByBucket,
  iterateAuditEvents,
  listAuditEvents,
} from './audit.repository.js';
import { auditVisibilityOf, type AuditVisibility } from './audit-visibility.js';

export function toAuditEvent(row: Row<'audit_events'>): AuditEvent {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    target: { type: row.target_type, id: row.target_id, name: row.target_name },
    before: fromJson(row.before_json),
    after: fromJson(row.after_json),
    created_at: row.created_at,
  };
}

const CSV_HEADER = [
  'id',
  'created_at',
  'action',
  'actor_type',
  'actor_id',
  'actor_name',
  'target_type',
  'target_id',
  'target_name',
  'before',
  'after',
] as const;

async function* csvRows(rows: AsyncIterable<Row<'audit_events'>>): AsyncGenerator<CsvValue[]> {
  for await (const row of rows) {
    yield [
      row.id,
      row.created_at,
      row.action,
      row.actor_type,
      row.actor_id,
      row.actor_name,
      row.target_type,
      row.target_id,
      row.target_name,
      // The snapshots as stored: JSON text.
      row.before_json,
      row.after_json,
    ];
  }
}

async function* ndjsonLines(rows: AsyncIterable<Row<'audit_events'>>): AsyncGenerator<string> {
  for await (const row of rows) yield `${JSON.stringify(toAuditEvent(row))}\n`;
}

/** The most buckets one activity query may ask for (1,000 days, or about 41 days of hours). */
export const ACTIVITY_MAX_BUCKETS = 1000;
const BUCKET_MS = { day: 86_400_000, hour: 3_600_000 } as const;

export function createAuditService(deps: { db: Db; clock: Clock }) {
  /** The export's rows: only those the credential's scope may see (audit-visibility.ts). */
  async function* visibleEvents(
    ctx: RequestContext,
    query: ListAuditEventsQuery,
  ): AsyncGenerator<Row<'audit_events'>> {
    const visibility = await auditVisibilityOf(deps.db, ctx.workspaceId, ctx.scope);
    yield* iterateAuditEvents(deps.db, ctx.workspaceId, query, visibility);
  }

  return {
    /** Which events the credential may see: the change stream's rule too (events.routes.ts). */
    visibilityFor(ctx: RequestContext): Promise<AuditVisibility> {
      return auditVisibilityOf(deps.db, ctx.workspaceId, ctx.scope);
    },

    async listEvents(ctx: RequestContext, query: ListAuditEventsQuery): Promise<Paged<AuditEvent>> {
      // The log is workspace-wide (every environment, every collaborator's email): not for end users.
      requireCollaboratorActor(ctx);
      const page = pageRequest(query);
      // Only the events the credential's scope may see (audit-visibility.ts).
      const visibility = await auditVisibilityOf(deps.db, ctx.workspaceId, ctx.scope);
      const { rows, total } = await listAuditEvents(
        deps.db,
        ctx.workspaceId,
        query,
        page,
        visibility,
      );
      return paged(rows.map(toAuditEvent), total, page);
    },

    /**
     * Events per action and per UTC day or hour, counted in SQL over every event the credential's
     * scope may see (the audit log's rule): the dashboard's chart is exact whatever the volume.
     */
    async countActivity(
      ctx: RequestContext,
      query: AuditActivityQuery,
    ): Promise<AuditActivityBucket[]> {
      requireCollaboratorActor(ctx);
      const bucket = query.bucket ?? 'day';
      const since = new Date(query.since);
      const until = query.until === undefined ? deps.clock.now() : new Date(query.until);
      if (until.getTime() <= since.getTime())
        throw badRequest('audit.activity_range', '`until` must be after `since`');
      if ((until.getTime() - since.getTime()) / BUCKET_MS[bucket] > ACTIVITY_MAX_BUCKETS)
        throw badRequest(
          'audit.activity_range',
          `At most ${String(ACTIVITY_MAX_BUCKETS)} ${bucket}s between \`since\` and \`until\``,
        );
      const visibility = await auditVisibilityOf(deps.db, ctx.workspaceId, ctx.scope);
      const rows = await countAuditEventsByBucket(
        deps.db,
        ctx.workspaceId,
        {
          actions: [...new Set(query.action)],
          since: since.toISOString(),
          until: until.toISOString(),
          keyLength: bucket === 'day' ? 10 : 13,
        },
        visibility,
      );
      return rows.map((row) => ({
        start: bucket === 'day' ? `${row.key}T00:00:00.000Z` : `${row.key}:00:00.000Z`,
        action: row.action,
        count: row.count,
      }));
    },

    /**
     * Every event the filters match, newest first, one JSON object a line (the shape of the JSON
     * list's items), produced while they are sent.
     */
    exportNdjson(ctx: RequestContext, query: ListAuditEventsQuery): AsyncGenerator<string> {
      requireCollaboratorActor(ctx);
      return ndjsonLines(visibleEvents(ctx, query));
    },

    /** Every event the filters match, newest first, as CSV lines produced while they are sent. */
    exportCsv(ctx: RequestContext, query: ListAuditEventsQuery): AsyncGenerator<string> {
      requireCollaboratorActor(ctx);
      return csvLines(CSV_HEADER, csvRows(visibleEvents(ctx, query)));
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
