import type { Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { WorkspacesService } from './workspaces.service.js';

const tags = ['Platform'];

export function registerPlatformRoutes(app: Api, workspaces: WorkspacesService): void {
  app.post(
    '/workspaces',
    {
      schema: {
        tags,
        summary: 'Create a workspace; the answer carries its admin API token (shown once)',
        security: [{ platformToken: [] }],
        ...schemaOf('createWorkspace'),
      },
    },
    async (request, reply) => {
      const workspace = await workspaces.createWorkspace(
        { type: 'platform', id: null, name: 'platform operator' },
        { name: request.body.name, environments: request.body.environments ?? true },
      );
      return reply.status(201).send({ data: workspace });
    },
  );
  app.get(
    '/workspaces',
    {
      schema: {
        tags,
        summary: 'List workspaces',
        security: [{ platformToken: [] }],
        ...schemaOf('listWorkspaces'),
      },
    },
    async () => ({ data: await workspaces.listWorkspaces() }),
  );
}
