import {
  ApprovalRequest,
  CreatePolicyBody,
  DataOf,
  IntegerIdParams,
  ListApprovalRequestsQuery,
  ListPoliciesQuery,
  PagedList,
  Policy,
  UpdatePolicyBody,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { PoliciesService } from './policies.service.js';

const tags = ['Policies'];

export function registerPolicyRoutes(app: Api, policies: PoliciesService): void {
  app.get(
    '/policies',
    {
      schema: {
        tags,
        summary: 'List policies',
        querystring: ListPoliciesQuery,
        response: { 200: PagedList(Policy), ...errorResponses },
      },
    },
    (request) => policies.listPolicies(contextOf(request), request.query),
  );
  app.post(
    '/policies',
    {
      schema: {
        tags,
        summary: 'Create a policy on a feature',
        body: CreatePolicyBody,
        response: { 201: DataOf(Policy), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await policies.createPolicy(contextOf(request), request.body) }),
  );
  app.get(
    '/policies/:id',
    {
      schema: {
        tags,
        summary: 'Get a policy',
        params: IntegerIdParams,
        response: { 200: DataOf(Policy), ...errorResponses },
      },
    },
    async (request) => ({
      data: await policies.getPolicy(contextOf(request), intId(request.params)),
    }),
  );
  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/policies/:id',
      {
        schema: {
          tags,
          summary: 'Change a policy',
          params: IntegerIdParams,
          body: UpdatePolicyBody,
          response: { 200: DataOf(Policy), ...errorResponses },
        },
      },
      async (request) => ({
        data: await policies.updatePolicy(contextOf(request), intId(request.params), request.body),
      }),
    );
  }
  app.delete(
    '/policies/:id',
    {
      schema: {
        tags,
        summary: 'Delete a policy',
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await policies.deletePolicy(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );

  const approvalTags = ['Approval requests'];
  app.get(
    '/approval_requests',
    {
      schema: {
        tags: approvalTags,
        summary: 'List approval requests, newest first',
        querystring: ListApprovalRequestsQuery,
        response: { 200: PagedList(ApprovalRequest), ...errorResponses },
      },
    },
    (request) => policies.listApprovalRequests(contextOf(request), request.query),
  );
  app.get(
    '/approval_requests/:id',
    {
      schema: {
        tags: approvalTags,
        summary: 'Get an approval request',
        params: IntegerIdParams,
        response: { 200: DataOf(ApprovalRequest), ...errorResponses },
      },
    },
    async (request) => ({
      data: await policies.getApprovalRequest(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/approval_requests/:id/approve',
    {
      schema: {
        tags: approvalTags,
        summary: 'Approve a pending request: good for one later decision',
        params: IntegerIdParams,
        response: { 200: DataOf(ApprovalRequest), ...errorResponses },
      },
    },
    async (request) => ({
      data: await policies.approve(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/approval_requests/:id/reject',
    {
      schema: {
        tags: approvalTags,
        summary: 'Reject a pending request',
        params: IntegerIdParams,
        response: { 200: DataOf(ApprovalRequest), ...errorResponses },
      },
    },
    async (request) => ({ data: await policies.reject(contextOf(request), intId(request.params)) }),
  );
}
