/**
 * Declarative configuration over HTTP: `GET /api/workspace/export` and
 * `POST /api/workspace/apply[?dry_run=true]` (what `roster export` and `roster apply` call).
 */
import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { WorkspaceConfigService } from './workspace-config.service.js';

const tags = ['Workspace configuration'];
/**
 * A workspace document is one request for the whole configuration: thousands of objects pass the
 * API's 1 MiB limit (1,000 groups, 1,000 projects and 2,000 grants export to about 0.5 MiB).
 */
export const WORKSPACE_DOCUMENT_LIMIT_BYTES = 16 * 1024 * 1024;

export function registerWorkspaceConfigRoutes(app: Api, service: WorkspaceConfigService): void {
  app.get(
    '/workspace/export',
    {
      schema: {
        tags,
        summary: 'Export the workspace configuration as a document of names',
        description:
          'Custom roles, collaborator groups, projects, project grants, end-user groups, features and policies. Needs full workspace access.',
        ...schemaOf('exportWorkspace'),
      },
    },
    async (request) => ({ data: await service.exportDocument(contextOf(request)) }),
  );
  app.post(
    '/workspace/apply',
    {
      bodyLimit: WORKSPACE_DOCUMENT_LIMIT_BYTES,
      schema: {
        tags,
        summary:
          'Apply a workspace document: create, update and delete to match it, in one transaction',
        description:
          'Objects the document leaves out are deleted, built-in ones excepted. `dry_run=true` answers the plan and changes nothing. Needs full workspace access.',
        ...schemaOf('applyWorkspace'),
      },
    },
    async (request) => ({
      data: await service.apply(contextOf(request), request.body, request.query.dry_run ?? false),
    }),
  );
}
