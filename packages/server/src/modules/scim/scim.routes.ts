/**
 * Two faces of SCIM: the workspace API that manages connections (`/api/scim_connections`, API
 * token, reference-API error bodies) and the SCIM 2.0 endpoints themselves
 * (`/scim/v2/<connection id>/…`, the connection's own bearer token, RFC 7644 bodies and errors,
 * `application/scim+json`). Handlers stay thin; scim.service.ts does the work.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ID_MAX } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import {
  handleScimError,
  SCIM_CONTENT_TYPE,
  ScimError,
  scimErrorBody,
  scimNotFound,
} from './scim.errors.js';
import { depthLimitedJsonParser } from '../../http/json-body.js';
import type { ScimConnectionRow } from './scim.repository.js';
import { etagOf } from './scim.resources.js';
import {
  LIST_SCHEMA,
  resourceTypeDocuments,
  schemaDocuments,
  SEARCH_SCHEMA,
  serviceProviderConfig,
  isObject,
} from './scim.schema.js';
import type { ListQuery, ScimService, WriteResult } from './scim.service.js';

const tags = ['SCIM connections'];

export function registerScimConnectionRoutes(app: Api, scim: ScimService): void {
  app.get(
    '/scim_connections',
    {
      schema: {
        tags,
        summary: 'List SCIM connections',
        ...schemaOf('listScimConnections'),
      },
    },
    async (request) => ({ data: await scim.listConnections(contextOf(request)) }),
  );
  app.post(
    '/scim_connections',
    {
      schema: {
        tags,
        summary:
          'Create a SCIM connection for one environment and target (the token is shown once)',
        ...schemaOf('createScimConnection'),
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await scim.createConnection(contextOf(request), request.body) }),
  );
  app.get(
    '/scim_connections/:id',
    {
      schema: {
        tags,
        summary: 'Get a SCIM connection',
        ...schemaOf('getScimConnection'),
      },
    },
    async (request) => ({ data: await scim.getConnection(contextOf(request), request.params.id) }),
  );
  app.patch(
    '/scim_connections/:id',
    {
      schema: {
        tags,
        summary: 'Rename a SCIM connection or change its default role (collaborators)',
        ...schemaOf('patchScimConnection'),
      },
    },
    async (request) => ({
      data: await scim.updateConnection(contextOf(request), request.params.id, request.body),
    }),
  );
  app.post(
    '/scim_connections/:id/rotate_token',
    {
      schema: {
        tags,
        summary: 'Replace the connection token (the old one stops working at once)',
        ...schemaOf('rotateScimToken'),
      },
    },
    async (request) => ({ data: await scim.rotateToken(contextOf(request), request.params.id) }),
  );
  app.delete(
    '/scim_connections/:id',
    {
      schema: {
        tags,
        summary: 'Delete a SCIM connection (its users and groups stay)',
        ...schemaOf('deleteScimConnection'),
      },
    },
    async (request, reply) => {
      await scim.deleteConnection(contextOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
}

// ---- the SCIM 2.0 endpoints ---------------------------------------------------------------------

declare module 'fastify' {
  interface FastifyRequest {
    scimConnection?: ScimConnectionRow;
  }
}

/** Group push with thousands of members fits; anything larger is a 413. */
const SCIM_BODY_LIMIT = 8 * 1024 * 1024;

function connectionOf(request: FastifyRequest): ScimConnectionRow {
  if (request.scimConnection === undefined) throw new ScimError(401, 'Authentication required');
  return request.scimConnection;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

type Query = Record<string, unknown>;

function text(query: Query, name: string): string | undefined {
  const key = Object.keys(query).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : query[key];
  const first = Array.isArray(value) ? (value as unknown[])[0] : value;
  return typeof first === 'string' ? first : typeof first === 'number' ? String(first) : undefined;
}

/**
 * startIndex and count, from query text or a .search body: whole numbers of any size, held to the
 * ID range (the service clamps them further: RFC 7644 §3.4.2.4 pages past the end are empty).
 */
function integer(value: unknown): number | undefined {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d+$/.test(value.trim())
        ? Number(value.trim())
        : Number.NaN;
  if (Number.isNaN(number)) return undefined;
  return Math.max(-ID_MAX, Math.min(ID_MAX, Math.trunc(number)));
}

function listQuery(query: Query): ListQuery {
  return {
    filter: text(query, 'filter'),
    startIndex: integer(text(query, 'startIndex')),
    count: integer(text(query, 'count')),
    attributes: text(query, 'attributes'),
    excludedAttributes: text(query, 'excludedAttributes'),
  };
}

function projection(query: Query) {
  return {
    attributes: text(query, 'attributes'),
    excludedAttributes: text(query, 'excludedAttributes'),
  };
}

function send(reply: FastifyReply, status: number, body: unknown, version?: number) {
  void reply.status(status).type(SCIM_CONTENT_TYPE);
  if (version !== undefined) void reply.header('etag', etagOf(version));
  return reply.send(body);
}

function ifMatch(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * RFC 7644 §3.5.2 lets PATCH answer 200 with the resource or 204: Roster answers 204 (what Entra
 * expects), and 200 with the resource when the client asks for attributes.
 */
function patchAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  result: WriteResult,
  project: (r: WriteResult) => unknown,
) {
  const query = request.query as Query;
  if (text(query, 'attributes') !== undefined || text(query, 'excludedAttributes') !== undefined) {
    return send(reply, 200, project(result), result.version);
  }
  void reply.header('etag', etagOf(result.version));
  return reply.status(204).send();
}

function wantsBody(query: Query): boolean {
  return text(query, 'attributes') !== undefined || text(query, 'excludedAttributes') !== undefined;
}

const SORT_ORDERS = ['ascending', 'descending'];

/**
 * A SearchRequest body (RFC 7644 §3.4.3), validated: each parameter has the type the RFC gives it
 * or the request is a 400. `sortBy` and `sortOrder` are checked and then ignored, as on GET
 * (the ServiceProviderConfig says sorting is not supported).
 */
function searchQuery(body: unknown): ListQuery {
  if (!isObject(body))
    throw new ScimError(400, 'The body must be a SearchRequest object', 'invalidSyntax');
  const value = (name: string) => {
    const key = Object.keys(body).find((k) => k.toLowerCase() === name.toLowerCase());
    return key === undefined ? undefined : body[key];
  };
  const schemas = value('schemas');
  if (
    schemas !== undefined &&
    (!Array.isArray(schemas) ||
      !schemas.some(
        (s) => typeof s === 'string' && s.toLowerCase() === SEARCH_SCHEMA.toLowerCase(),
      ))
  )
    throw new ScimError(400, `schemas must be a list containing ${SEARCH_SCHEMA}`, 'invalidSyntax');
  const invalid = (message: string) => new ScimError(400, message, 'invalidValue');
  const names = (name: string) => {
    const raw = value(name);
    if (raw === undefined || raw === null) return undefined;
    const list: unknown[] = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [raw];
    const strings = list.filter((v): v is string => typeof v === 'string' && v.length <= 2048);
    if (strings.length !== list.length) throw invalid(`${name} must be a list of attribute names`);
    return strings.length === 0 ? undefined : strings.join(',');
  };
  const number = (name: string) => {
    const raw = value(name);
    if (raw === undefined || raw === null) return undefined;
    const parsed = typeof raw === 'number' && !Number.isInteger(raw) ? undefined : integer(raw);
    if (parsed === undefined) throw invalid(`${name} must be an integer`);
    return parsed;
  };
  const text = (name: string) => {
    const raw = value(name);
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'string') throw invalid(`${name} must be a string`);
    return raw;
  };
  const attributes = names('attributes');
  const excludedAttributes = names('excludedAttributes');
  if (attributes !== undefined && excludedAttributes !== undefined)
    throw invalid('attributes and excludedAttributes cannot be used together');
  const sortOrder = text('sortOrder');
  if (sortOrder !== undefined && !SORT_ORDERS.includes(sortOrder.toLowerCase()))
    throw invalid('sortOrder must be "ascending" or "descending"');
  text('sortBy');
  return {
    filter: text('filter'),
    startIndex: number('startIndex'),
    count: number('count'),
    attributes,
    excludedAttributes,
  };
}

export async function registerScimEndpoints(app: Api, scim: ScimService): Promise<void> {
  await app.register(
    (scope, _options, done) => {
      scope.setErrorHandler(handleScimError);
      const notFound = (request: FastifyRequest, reply: FastifyReply) =>
        send(
          reply,
          404,
          scimErrorBody(
            404,
            `No SCIM endpoint ${request.method} ${request.url.split('?')[0] ?? ''}`,
          ),
        );
      scope.setNotFoundHandler(notFound);
      scope.addContentTypeParser(
        'application/scim+json',
        { parseAs: 'string', bodyLimit: SCIM_BODY_LIMIT },
        depthLimitedJsonParser(scope.getDefaultJsonParser('error', 'ignore')),
      );
      scope.addHook('onRequest', async (request) => {
        await Promise.resolve();
        const params = request.params as { connectionId?: string };
        const connection = await scim.authenticate(params.connectionId ?? '', bearer(request));
        if (connection === undefined)
          throw new ScimError(401, 'Invalid or missing bearer token for this SCIM connection');
        request.scimConnection = connection;
      });

      const config = { rateLimit: false } as const;
      const hide = { hide: true } as const;
      const writeOptions = { config, schema: hide, bodyLimit: SCIM_BODY_LIMIT };
      const readOptions = { config, schema: hide };
      const both = (name: string) => [`/${name}`, `/${name.toLowerCase()}`];

      for (const path of both('ServiceProviderConfig')) {
        scope.get(path, readOptions, (request, reply) =>
          send(reply, 200, serviceProviderConfig(scim.baseUrlOf(connectionOf(request).id))),
        );
      }
      // The discovery documents (RFC 7644 §4): a list, and each document by its id.
      const discovery = [
        { name: 'Schemas', kind: 'Schema', documentsOf: schemaDocuments },
        { name: 'ResourceTypes', kind: 'ResourceType', documentsOf: resourceTypeDocuments },
      ] as const;
      for (const { name, kind, documentsOf } of discovery) {
        const documents = (request: FastifyRequest) =>
          documentsOf(scim.baseUrlOf(connectionOf(request).id));
        for (const path of both(name)) {
          scope.get(path, readOptions, (request, reply) => {
            const docs = documents(request);
            return send(reply, 200, {
              schemas: [LIST_SCHEMA],
              totalResults: docs.length,
              startIndex: 1,
              itemsPerPage: docs.length,
              Resources: docs,
            });
          });
          scope.get(`${path}/:id`, readOptions, (request, reply) => {
            const { id } = request.params as { id: string };
            const doc = documents(request).find((d) => d.id === id);
            if (doc === undefined) throw scimNotFound(`${kind} ${id} not found`);
            return send(reply, 200, doc);
          });
        }
      }

      // A search over every resource type (RFC 7644 §3.4.3): Users, then Groups.
      scope.post('/.search', writeOptions, async (request, reply) =>
        send(reply, 200, await scim.searchAll(connectionOf(request), searchQuery(request.body))),
      );

      // Users and Groups answer the same protocol; only the service calls differ.
      // The service's functions are closures of createScimService and never use `this`.
      /* eslint-disable @typescript-eslint/unbound-method */
      const resources = [
        {
          name: 'Users',
          list: scim.listUsers,
          create: scim.createUser,
          get: scim.getUser,
          replace: scim.replaceUser,
          patch: scim.patchUser,
          project: scim.projectUser,
          remove: scim.deleteUser,
        },
        {
          name: 'Groups',
          list: scim.listGroups,
          create: scim.createGroup,
          get: scim.getGroup,
          replace: scim.replaceGroup,
          patch: scim.patchGroup,
          project: scim.projectGroup,
          remove: scim.deleteGroup,
        },
      ] as const;
      /* eslint-enable @typescript-eslint/unbound-method */
      for (const resource of resources)
        for (const path of both(resource.name)) {
          for (const listPath of [path, `${path}/`]) {
            scope.get(listPath, readOptions, async (request, reply) =>
              send(
                reply,
                200,
                await resource.list(connectionOf(request), listQuery(request.query as Query)),
              ),
            );
          }
          scope.post(`${path}/.search`, writeOptions, async (request, reply) =>
            send(reply, 200, await resource.list(connectionOf(request), searchQuery(request.body))),
          );
          scope.post(path, writeOptions, async (request, reply) => {
            const result = await resource.create(
              connectionOf(request),
              request.body,
              request.changes ?? undefined,
            );
            void reply.header(
              'location',
              (result.resource.meta as { location?: string } | undefined)?.location ?? '',
            );
            return send(reply, 201, result.resource, result.version);
          });
          scope.get(`${path}/:id`, readOptions, async (request, reply) => {
            const { id } = request.params as { id: string };
            const result = await resource.get(
              connectionOf(request),
              id,
              projection(request.query as Query),
            );
            return send(reply, 200, result.resource, result.version);
          });
          scope.put(`${path}/:id`, writeOptions, async (request, reply) => {
            const { id } = request.params as { id: string };
            const result = await resource.replace(
              connectionOf(request),
              id,
              request.body,
              ifMatch(request),
              request.changes ?? undefined,
            );
            return send(reply, 200, result.resource, result.version);
          });
          scope.patch(`${path}/:id`, writeOptions, async (request, reply) => {
            const { id } = request.params as { id: string };
            const query = request.query as Query;
            const result = await resource.patch(
              connectionOf(request),
              id,
              request.body,
              ifMatch(request),
              wantsBody(query),
              request.changes ?? undefined,
            );
            return patchAnswer(request, reply, result, (r) =>
              resource.project(r.resource, projection(query)),
            );
          });
          scope.delete(`${path}/:id`, readOptions, async (request, reply) => {
            const { id } = request.params as { id: string };
            await resource.remove(
              connectionOf(request),
              id,
              ifMatch(request),
              request.changes ?? undefined,
            );
            return reply.status(204).send();
          });
        }

      // Unknown SCIM paths answer a SCIM 404, even where a catch-all route (the console's) exists.
      scope.all('/*', readOptions, notFound);
      done();
    },
    { prefix: '/scim/v2/:connectionId' },
  );
}
