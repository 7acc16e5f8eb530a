import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { FeaturesService } from './features.service.js';

const tags = ['Features'];

export function registerFeatureRoutes(app: Api, features: FeaturesService): void {
  app.get(
    '/features',
    {
      schema: {
        tags,
        summary: 'List features',
        ...schemaOf('listFeatures'),
      },
    },
    (request) => features.listFeatures(contextOf(request), request.query),
  );
  app.post(
    '/features',
    {
      schema: {
        tags,
        summary: 'Register a feature in an environment',
        ...schemaOf('createFeature'),
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await features.createFeature(contextOf(request), request.body) }),
  );
  app.get(
    '/features/:id',
    {
      schema: {
        tags,
        summary: 'Get a feature',
        ...schemaOf('getFeature'),
      },
    },
    async (request) => ({
      data: await features.getFeature(contextOf(request), intId(request.params)),
    }),
  );
  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/features/:id',
      {
        schema: {
          tags,
          summary: 'Rename or describe a feature',
          ...schemaOf(method === 'put' ? 'updateFeature' : 'patchFeature'),
        },
      },
      async (request) => ({
        data: await features.updateFeature(contextOf(request), intId(request.params), request.body),
      }),
    );
  }
  app.delete(
    '/features/:id',
    {
      schema: {
        tags,
        summary: 'Delete a feature with its grants and policies',
        ...schemaOf('deleteFeature'),
      },
    },
    async (request, reply) => {
      await features.deleteFeature(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/features/:id/access',
    {
      schema: {
        tags,
        summary: 'List who has been granted the feature',
        ...schemaOf('listFeatureAccess'),
      },
    },
    (request) => features.listAccess(contextOf(request), intId(request.params), request.query),
  );
  app.post(
    '/features/:id/access',
    {
      schema: {
        tags,
        summary: 'Grant end users and groups access to the feature',
        ...schemaOf('grantFeatureAccess'),
      },
    },
    async (request) => ({
      data: await features.grantAccess(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.delete(
    '/features/:id/access',
    {
      schema: {
        tags,
        summary: 'Revoke end users’ and groups’ access to the feature',
        ...schemaOf('revokeFeatureAccess'),
      },
    },
    async (request) => ({
      data: await features.revokeAccess(contextOf(request), intId(request.params), request.body),
    }),
  );
}
