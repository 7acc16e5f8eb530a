import {
  CreatePolicyBody,
  DataOf,
  IntegerIdParams,
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
}
