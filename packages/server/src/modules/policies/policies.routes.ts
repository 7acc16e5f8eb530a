import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { PoliciesService } from './policies.service.js';

const tags = ['Policies'];

export function registerPolicyRoutes(app: Api, policies: PoliciesService): void {
  app.get(
    '/policies',
    {
      schema: {
        tags,
        summary: 'List policies',
        ...schemaOf('listPolicies'),
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
        ...schemaOf('createPolicy'),
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
        ...schemaOf('getPolicy'),
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
          ...schemaOf(method === 'put' ? 'updatePolicy' : 'patchPolicy'),
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
        ...schemaOf('deletePolicy'),
      },
    },
    async (request, reply) => {
      await policies.deletePolicy(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
