import type { ApproveBody } from '@roster/contracts';
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
        summary:
          'Approve a pending request (or its current step): for one later call, or for every matching call for N minutes',
        ...schemaOf('approve'),
      },
      // No body at all is today's one-call approval: the same as `{}`.
      preValidation: (request, _reply, done) => {
        // Typed as the schema's output, but before validation the body may be absent.
        if ((request.body as ApproveBody | undefined) === undefined) request.body = {};
        done();
      },
    },
    async (request) => ({
      data: await approvals.approve(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.post(
    '/approval_requests/:id/reject',
    {
      schema: {
        tags: tags,
        summary: 'Reject a pending request (any step of its chain still to decide may)',
        ...schemaOf('reject'),
      },
    },
    async (request) => ({
      data: await approvals.reject(contextOf(request), intId(request.params)),
    }),
  );
}
