import { Readable } from 'node:stream';
import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { wantsCsv } from '../../lib/csv.js';
import type { AuditService } from './audit.service.js';

export function registerAuditRoutes(app: Api, audit: AuditService): void {
  app.get(
    '/audit_events/activity',
    {
      schema: {
        tags: ['Audit'],
        summary: 'Count audit events per action and per UTC day or hour',
        description:
          'Counted by the database over every event the credential may see (the audit log’s scope), whatever the volume: the dashboard’s activity chart. Buckets with no event are left out; at most 1,000 buckets per query.',
        ...schemaOf('getAuditActivity'),
      },
    },
    async (request) => ({ data: await audit.countActivity(contextOf(request), request.query) }),
  );
  app.get(
    '/audit_events',
    {
      schema: {
        tags: ['Audit'],
        summary:
          'List audit events, newest first (JSON pages, or every matching event as CSV or NDJSON)',
        description:
          "`format=csv` (or `Accept: text/csv`) streams every event the filters match, without paging or cap; cells a spreadsheet would run as a formula are prefixed with `'`. `format=ndjson` (or `Accept: application/x-ndjson`) streams them as one JSON event a line, in the shape of this list's items.",
        ...schemaOf('listAuditEvents'),
      },
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      const { format } = request.query;
      const ndjson =
        format === 'ndjson' ||
        (format === undefined && /\bapplication\/(x-)?ndjson\b/.test(request.headers.accept ?? ''));
      if (!ndjson && !wantsCsv(format, request.headers.accept))
        return audit.listEvents(ctx, request.query);
      // Scope is checked here, before the download starts: an end-user session gets its 403.
      const lines = ndjson
        ? audit.exportNdjson(ctx, request.query)
        : audit.exportCsv(ctx, request.query);
      const day = new Date().toISOString().slice(0, 10);
      return (
        reply
          .type(ndjson ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="roster-audit-${day}.${ndjson ? 'ndjson' : 'csv'}"`,
          )
          // The response schema types the JSON answer; a stream is sent as it is, unserialized.
          .send(Readable.from(lines) as never)
      );
    },
  );
}
