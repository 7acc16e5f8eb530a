import { Type } from 'typebox';
import {
  CreateFeatureBody,
  DataOf,
  Feature,
  FeatureAccessBody,
  FeatureGrant,
  IntegerIdParams,
  ListFeaturesQuery,
  PagedList,
  UpdateFeatureBody,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { FeaturesService } from './features.service.js';

const tags = ['Features'];
const Grants = Type.Object({ data: Type.Array(FeatureGrant) });

export function registerFeatureRoutes(app: Api, features: FeaturesService): void {
  app.get(
    '/features',
    {
      schema: {
        tags,
        summary: 'List features',
        querystring: ListFeaturesQuery,
        response: { 200: PagedList(Feature), ...errorResponses },
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
        body: CreateFeatureBody,
        response: { 201: DataOf(Feature), ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: DataOf(Feature), ...errorResponses },
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
          params: IntegerIdParams,
          body: UpdateFeatureBody,
          response: { 200: DataOf(Feature), ...errorResponses },
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
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: Grants, ...errorResponses },
      },
    },
    async (request) => ({
      data: await features.listAccess(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/features/:id/access',
    {
      schema: {
        tags,
        summary: 'Grant end users and groups access to the feature',
        params: IntegerIdParams,
        body: FeatureAccessBody,
        response: { 200: Grants, ...errorResponses },
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
        params: IntegerIdParams,
        body: FeatureAccessBody,
        response: { 200: Grants, ...errorResponses },
      },
    },
    async (request) => ({
      data: await features.revokeAccess(contextOf(request), intId(request.params), request.body),
    }),
  );
}
