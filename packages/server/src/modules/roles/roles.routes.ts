import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { RolesService } from './roles.service.js';

export function registerRoleRoutes(app: Api, roles: RolesService): void {
  {
    const tags = ['Environment roles'];
    const service = roles.environmentRoles;
    app.get(
      '/environment_roles',
      {
        schema: {
          tags,
          summary: 'List environment roles',
          ...schemaOf('listEnvironmentRoles'),
        },
      },
      (request) => service.list(contextOf(request), request.query),
    );
    app.get(
      '/environment_roles/:id',
      {
        schema: {
          tags,
          summary: 'Get an environment role',
          ...schemaOf('getEnvironmentRole'),
        },
      },
      async (request) => ({ data: await service.get(contextOf(request), intId(request.params)) }),
    );
    app.post(
      '/environment_roles',
      {
        schema: {
          tags,
          summary: 'Create an environment role',
          ...schemaOf('createEnvironmentRole'),
        },
      },
      async (request) => ({
        data: await service.create(contextOf(request), request.body.environment_role),
      }),
    );
    app.put(
      '/environment_roles/:id',
      {
        schema: {
          tags,
          summary: 'Update an environment role',
          ...schemaOf('updateEnvironmentRole'),
        },
      },
      async (request) => ({
        data: await service.update(
          contextOf(request),
          intId(request.params),
          request.body.environment_role,
        ),
      }),
    );
    app.delete(
      '/environment_roles/:id',
      {
        schema: {
          tags,
          summary: 'Delete an environment role',
          ...schemaOf('deleteEnvironmentRole'),
        },
      },
      async (request, reply) => {
        await service.remove(contextOf(request), intId(request.params));
        return reply.status(204).send(null);
      },
    );
  }
  {
    const tags = ['Project roles'];
    const service = roles.projectRoles;
    app.get(
      '/project_roles',
      {
        schema: {
          tags,
          summary: 'List project roles',
          ...schemaOf('listProjectRoles'),
        },
      },
      (request) => service.list(contextOf(request), request.query),
    );
    app.get(
      '/project_roles/:id',
      {
        schema: {
          tags,
          summary: 'Get a project role',
          ...schemaOf('getProjectRole'),
        },
      },
      async (request) => ({ data: await service.get(contextOf(request), request.params.id) }),
    );
    app.post(
      '/project_roles',
      {
        schema: {
          tags,
          summary: 'Create a project role',
          ...schemaOf('createProjectRole'),
        },
      },
      async (request) => ({
        data: await service.create(contextOf(request), request.body.project_role),
      }),
    );
    app.put(
      '/project_roles/:id',
      {
        schema: {
          tags,
          summary: 'Update a project role',
          ...schemaOf('updateProjectRole'),
        },
      },
      async (request) => ({
        data: await service.update(
          contextOf(request),
          request.params.id,
          request.body.project_role,
        ),
      }),
    );
    app.delete(
      '/project_roles/:id',
      {
        schema: {
          tags,
          summary: 'Delete a project role',
          ...schemaOf('deleteProjectRole'),
        },
      },
      async (request, reply) => {
        await service.remove(contextOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );
  }
  {
    const tags = ['Legacy roles'];
    const service = roles.legacyRoles;
    app.get(
      '/roles',
      {
        schema: {
          tags,
          summary: 'List legacy roles (privilege groups)',
          ...schemaOf('listLegacyRoles'),
        },
      },
      (request) => service.list(contextOf(request), request.query),
    );
    app.get(
      '/roles/:id',
      {
        schema: {
          tags,
          summary: 'Get a legacy role',
          ...schemaOf('getLegacyRole'),
        },
      },
      async (request) => ({ data: await service.get(contextOf(request), intId(request.params)) }),
    );
    app.post(
      '/roles',
      {
        schema: {
          tags,
          summary: 'Create a legacy custom role',
          ...schemaOf('createLegacyRole'),
        },
      },
      async (request) => ({ data: await service.create(contextOf(request), request.body.role) }),
    );
    app.put(
      '/roles/:id',
      {
        schema: {
          tags,
          summary: 'Update a legacy custom role',
          ...schemaOf('updateLegacyRole'),
        },
      },
      async (request) => ({
        data: await service.update(contextOf(request), intId(request.params), request.body.role),
      }),
    );
    app.delete(
      '/roles/:id',
      {
        schema: {
          tags,
          summary: 'Delete a legacy custom role',
          ...schemaOf('deleteLegacyRole'),
        },
      },
      async (request, reply) => {
        await service.remove(contextOf(request), intId(request.params));
        return reply.status(204).send(null);
      },
    );
  }
}
