/**
 * Approval requests, created by require_approval decisions, are listed, approved and rejected
 * here; an approval is good for one later decision (decisions/end-user-decisions.ts uses it up).
 */
import type { ApprovalRequest, ListApprovalRequestsQuery } from '@roster/contracts';
import type { Db } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireInScope } from '../environments/environments.service.js';
import { recordChange } from '../audit/audit.repository.js';
import {
  findApprovalRequestById,
  listApprovalRequests,
  transitionApprovalRequest,
  type ApprovalRequestRow,
} from './approvals.repository.js';

export function toApprovalRequest(row: ApprovalRequestRow): ApprovalRequest {
  return {
    id: row.id,
    status: row.status as ApprovalRequest['status'],
    end_user: { id: row.end_user_id, name: row.user_name, email: row.user_email },
    environment_type: row.environment_type,
    feature: {
      id: row.feature_id,
      name: row.feature_name,
      kind: row.feature_kind,
      environment_type: row.environment_type,
    },
    tool: row.tool === '' ? null : row.tool,
    policy_id: row.policy_id,
    created_at: row.created_at,
    decided_at: row.decided_at,
    decided_by: row.decided_by,
    used_at: row.used_at,
  };
}

const missing = () => notFound('approval_request.not_found', 'Approval request not found');

export function createApprovalsService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function decide(
    ctx: RequestContext,
    id: number,
    status: 'approved' | 'rejected',
  ): Promise<ApprovalRequest> {
    return deps.db.transaction().execute(async (trx) => {
      const request = requireInScope(
        ctx,
        await findApprovalRequestById(trx, ctx.workspaceId, id),
        missing,
      );
      const by = ctx.actor.id === null ? ctx.actor.type : `${ctx.actor.type}:${ctx.actor.id}`;
      const moved = await transitionApprovalRequest(trx, id, 'pending', {
        status,
        decided_at: now(),
        decided_by: by,
      });
      if (!moved)
        throw badRequest(
          'approval_request.not_pending',
          `The approval request is already ${request.status}`,
        );
      await recordChange(trx, ctx, now(), `approval_request.${status}`, ['approval_request', id], {
        before: { status: 'pending' },
        after: {
          status,
          end_user_id: request.end_user_id,
          feature_id: request.feature_id,
          tool: request.tool === '' ? null : request.tool,
        },
      });
      const fresh = await findApprovalRequestById(trx, ctx.workspaceId, id);
      if (fresh === undefined) throw new Error('approval request vanished');
      return toApprovalRequest(fresh);
    });
  }

  return {
    async listApprovalRequests(
      ctx: RequestContext,
      query: ListApprovalRequestsQuery,
    ): Promise<Paged<ApprovalRequest>> {
      const page = pageRequest(query);
      const { rows, total } = await listApprovalRequests(
        deps.db,
        ctx.workspaceId,
        {
          environmentTypes: [...ctx.scope.environmentTypes],
          status: query.status,
          endUserId: query.end_user_id,
          featureId: query.feature_id,
        },
        page,
      );
      return paged(rows.map(toApprovalRequest), total, page);
    },

    async getApprovalRequest(ctx: RequestContext, id: number): Promise<ApprovalRequest> {
      return toApprovalRequest(
        requireInScope(ctx, await findApprovalRequestById(deps.db, ctx.workspaceId, id), missing),
      );
    },

    approve: (ctx: RequestContext, id: number) => decide(ctx, id, 'approved'),
    reject: (ctx: RequestContext, id: number) => decide(ctx, id, 'rejected'),
  };
}
export type ApprovalsService = ReturnType<typeof createApprovalsService>;
