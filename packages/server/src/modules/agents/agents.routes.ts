import {
  Agent,
  AgentWithToken,
  CreateAgentBody,
  DataOf,
  IntegerIdParams,
  ListAgentsQuery,
  PagedList,
  UpdateAgentBody,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { AgentsService } from './agents.service.js';

const tags = ['Agents'];

export function registerAgentRoutes(app: Api, agents: AgentsService): void {
  app.get(
    '/agents',
    {
      schema: {
        tags,
        summary: 'List agents',
        querystring: ListAgentsQuery,
        response: { 200: PagedList(Agent), ...errorResponses },
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
        body: CreateAgentBody,
        response: { 201: DataOf(AgentWithToken), ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: DataOf(Agent), ...errorResponses },
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
        params: IntegerIdParams,
        body: UpdateAgentBody,
        response: { 200: DataOf(Agent), ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: DataOf(AgentWithToken), ...errorResponses },
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
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await agents.deleteAgent(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
