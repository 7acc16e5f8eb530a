import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ID_MAX } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { badRequest } from '../../lib/errors.js';
import { schemaOf } from '../../http/operations.js';
import type { SnapshotService } from './snapshot.service.js';

const gzipAsync = promisify(gzip);

export function registerSnapshotRoutes(app: Api, snapshots: SnapshotService): void {
  app.get(
    '/access/snapshot',
    {
      schema: {
        tags: ['Access decisions'],
        summary:
          'The workspace’s access data and its change-log position, to answer checks locally',
        description:
          'Full workspace access only (every environment and project). The rows the server’s access index is built from, each table as columns and rows of cells; gzip-compressed when the client accepts it. The SDK’s local authorizer loads it and follows GET /api/events/stream after `position` (docs/integration.md).',
        ...schemaOf('getAccessSnapshot'),
      },
    },
    async (request, reply) => {
      const snapshot = await snapshots.snapshot(contextOf(request));
      // Hundreds of thousands of rows of plain arrays: JSON.stringify is as fast as the schema's
      // serializer here, and the document is compressed (about tenfold) before it is sent.
      const json = JSON.stringify({ data: snapshot });
      reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding');
      // The response schema types the JSON for the OpenAPI document; the text (or its gzip) is
      // already serialized and is sent as it is.
      if (!/\bgzip\b/.test(request.headers['accept-encoding'] ?? ''))
        return reply.send(json as never);
      const body = await gzipAsync(json, { level: 1 });
      return reply.header('content-encoding', 'gzip').send(body as never);
    },
  );

  app.get(
    '/access/snapshot/changes',
    {
      schema: {
        tags: ['Access decisions'],
        summary: 'The access rows some changes touched, to follow them locally',
        description:
          'Full workspace access only. For the audit event IDs given (from GET /api/events/stream), the rows the server’s access index reloads for them, in its reload format, or `rebuild: true` when they rebuild the whole workspace (then load GET /api/access/snapshot). The SDK’s local authorizer applies them (docs/integration.md).',
        ...schemaOf('getAccessSnapshotChanges'),
      },
    },
    async (request) => {
      const ids = [...new Set(request.query.events.split(',').map(Number))];
      // Ten digits pass the pattern; an audit event ID is a 32-bit integer on both stores.
      if (ids.some((id) => id < 1 || id > ID_MAX))
        throw badRequest('access.event_id', `events: each ID must be between 1 and ${ID_MAX}`);
      return { data: await snapshots.changes(contextOf(request), ids) };
    },
  );
}
