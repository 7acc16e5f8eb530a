import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { ApiClientsService } from './api-clients.service.js';

const tags = ['API clients'];

export function registerApiClientRoutes(app: Api, clients: ApiClientsService): void {
  app.get(
    '/api_clients',
    {
      schema: {
        tags,
        summary: 'List API clients',
        ...schemaOf('listApiClients'),
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
        ...schemaOf('getApiClient'),
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
        ...schemaOf('createApiClient'),
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
        ...schemaOf('rotateApiClient'),
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
        ...schemaOf('revokeApiClient'),
      },
    },
    async (request, reply) => {
      await clients.revokeClient(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
