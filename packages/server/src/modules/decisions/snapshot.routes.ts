import { AccessSnapshotResponse } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
import type { SnapshotService } from './snapshot.service.js';

export function registerSnapshotRoutes(app: Api, snapshots: SnapshotService): void {
  app.get(
    '/access/snapshot',
    {
      schema: {
        tags: ['Access decisions'],
        summary:
          'The workspace’s access data and its change-log position, to answer checks locally',
        description:
          'Full workspace access only (every environment and project). The rows the server’s access index is built from; the SDK’s local authorizer loads it and follows GET /api/events/stream after `position`.',
        response: { 200: AccessSnapshotResponse, ...errorResponses },
      },
    },
    async (request) => ({ data: await snapshots.snapshot(contextOf(request)) }),
  );
}
