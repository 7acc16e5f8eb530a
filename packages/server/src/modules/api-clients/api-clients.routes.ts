import {
  ApiClient,
  ApiClientWithToken,
  CreateApiClientBody,
  DataOf,
  IntegerIdParams,
  ListApiClientsQuery,
  PagedList,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { ApiClientsService } from './api-clients.service.js';

const tags = ['API clients'];

export function registerApiClientRoutes(app: Api, clients: ApiClientsService): void {
  app.get(
    '/api_clients',
    {
      schema: {
        tags,
        summary: 'List API clients',
        querystring: ListApiClientsQuery,
        response: { 200: PagedList(ApiClient), ...errorResponses },
      },
    },
    (request) => clients.listClients(contextOf(request), request.query),
  );
  app.get(
    '/api_clients/:id',
    {
      schema: {
        tags,
        summary: 'Get an API client',
        params: IntegerIdParams,
        response: { 200: DataOf(ApiClient), ...errorResponses },
      },
    },
    async (request) => ({
      data: await clients.getClient(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/api_clients',
    {
      schema: {
        tags,
        summary: 'Create an API client; its token is shown once',
        body: CreateApiClientBody,
        response: { 201: DataOf(ApiClientWithToken), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await clients.createClient(contextOf(request), request.body) }),
  );
  app.post(
    '/api_clients/:id/rotate',
    {
      schema: {
        tags,
        summary: 'Replace an API client’s token; the old one stops working at once',
        params: IntegerIdParams,
        response: { 200: DataOf(ApiClientWithToken), ...errorResponses },
      },
    },
    async (request) => ({
      data: await clients.rotateClient(contextOf(request), intId(request.params)),
    }),
  );
  app.delete(
    '/api_clients/:id',
    {
      schema: {
        tags,
        summary: 'Revoke an API client',
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await clients.revokeClient(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
