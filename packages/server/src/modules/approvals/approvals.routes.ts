import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { ApprovalsService } from './approvals.service.js';

const tags = ['Approval requests'];

export function registerApprovalRoutes(app: Api, approvals: ApprovalsService): void {
  app.get(
    '/approval_requests',
    {
      schema: {
        tags: tags,
        summary: 'List approval requests, newest first',
        ...schemaOf('listApprovals'),
      },
    },
    (request) => approvals.listApprovalRequests(contextOf(request), request.query),
  );
  app.get(
    '/approval_requests/:id',
    {
      schema: {
        tags: tags,
        summary: 'Get an approval request',
        ...schemaOf('getApproval'),
      },
    },
    async (request) => ({
      data: await approvals.getApprovalRequest(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/approval_requests/:id/approve',
    {
      schema: {
        tags: tags,
        summary: 'Approve a pending request: good for one later decision',
        ...schemaOf('approve'),
      },
    },
    async (request) => ({
      data: await approvals.approve(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/approval_requests/:id/reject',
    {
      schema: {
        tags: tags,
        summary: 'Reject a pending request',
        ...schemaOf('reject'),
      },
    },
    async (request) => ({
      data: await approvals.reject(contextOf(request), intId(request.params)),
    }),
  );
}
