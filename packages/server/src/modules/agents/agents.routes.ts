import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { AgentsService } from './agents.service.js';

const tags = ['Agents'];

export function registerAgentRoutes(app: Api, agents: AgentsService): void {
  app.get(
    '/agents',
    {
      schema: {
        tags,
        summary: 'List agents',
        ...schemaOf('listAgents'),
      },
    },
    (request) => agents.listAgents(contextOf(request), request.query),
  );
  app.post(
    '/agents',
    {
      schema: {
        tags,
        summary: 'Create an agent acting for an end user; its token is shown once',
        ...schemaOf('createAgent'),
      },
    },
    async (request, reply) =>
      reply.status(201).send({ data: await agents.createAgent(contextOf(request), request.body) }),
  );
  app.get(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Get an agent',
        ...schemaOf('getAgent'),
      },
    },
    async (request) => ({
      data: await agents.getAgent(contextOf(request), intId(request.params)),
    }),
  );
  app.patch(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Rename, disable, re-scope or set the expiry of an agent',
        ...schemaOf('updateAgent'),
      },
    },
    async (request) => ({
      data: await agents.updateAgent(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.post(
    '/agents/:id/rotate',
    {
      schema: {
        tags,
        summary: 'Issue a new token for an agent (the old one stops working); shown once',
        ...schemaOf('rotateAgent'),
      },
    },
    async (request) => ({
      data: await agents.rotateAgent(contextOf(request), intId(request.params)),
    }),
  );
  app.delete(
    '/agents/:id',
    {
      schema: {
        tags,
        summary: 'Delete an agent',
        ...schemaOf('deleteAgent'),
      },
    },
    async (request, reply) => {
      await agents.deleteAgent(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
