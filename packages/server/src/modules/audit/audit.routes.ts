import { AuditEvent, ListAuditEventsQuery, PagedList } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuditService } from './audit.service.js';

export function registerAuditRoutes(app: Api, audit: AuditService): void {
  app.get(
    '/audit_events',
    {
      schema: {
        tags: ['Audit'],
        summary: 'List audit events, newest first',
        querystring: ListAuditEventsQuery,
        response: { 200: PagedList(AuditEvent), ...errorResponses },
      },
    },
    (request) => audit.listEvents(contextOf(request), request.query),
  );
}
