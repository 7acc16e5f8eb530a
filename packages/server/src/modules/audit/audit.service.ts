import type { AuditEvent, ListAuditEventsQuery } from '@roster/contracts';
import type { Db, Row } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import type { RequestContext } from '../../lib/context.js';
import { requireCollaboratorActor } from '../../lib/scope.js';
import { listAuditEvents } from './audit.repository.js';

export function toAuditEvent(row: Row<'audit_events'>): AuditEvent {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    target: { type: row.target_type, id: row.target_id },
    before: fromJson(row.before_json),
    after: fromJson(row.after_json),
    created_at: row.created_at,
  };
}

export function createAuditService(deps: { db: Db }) {
  return {
    async listEvents(ctx: RequestContext, query: ListAuditEventsQuery): Promise<Paged<AuditEvent>> {
      // The log is workspace-wide (every environment, every collaborator's email): not for end users.
      requireCollaboratorActor(ctx);
      const page = pageRequest(query);
      const { rows, total } = await listAuditEvents(deps.db, ctx.workspaceId, query, page);
      return paged(rows.map(toAuditEvent), total, page);
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
