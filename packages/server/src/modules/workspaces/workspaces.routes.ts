import { Type } from 'typebox';
import { CreateWorkspaceBody, CreatedWorkspace, DataOf, Workspace } from '@roster/contracts';
import type { Api } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
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
        body: CreateWorkspaceBody,
        response: { 201: DataOf(CreatedWorkspace), ...errorResponses },
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
        response: { 200: Type.Object({ data: Type.Array(Workspace) }), ...errorResponses },
      },
    },
    async () => ({ data: await workspaces.listWorkspaces() }),
  );
}
