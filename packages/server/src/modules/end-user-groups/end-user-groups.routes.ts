import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { EndUserGroupsService } from './end-user-groups.service.js';

const tags = ['End-user groups'];

export function registerEndUserGroupRoutes(app: Api, groups: EndUserGroupsService): void {
  app.get(
    '/end_user_groups',
    {
      schema: {
        tags,
        summary: 'List end-user groups',
        ...schemaOf('listEndUserGroups'),
      },
    },
    (request) => groups.listGroups(contextOf(request), request.query),
  );
  app.post(
    '/end_user_groups',
    {
      schema: {
        tags,
        summary: 'Create an end-user group in an environment (at least one member)',
        ...schemaOf('createEndUserGroup'),
      },
    },
    async (request, reply) =>
      reply.status(201).send({ data: await groups.createGroup(contextOf(request), request.body) }),
  );
  app.get(
    '/end_user_groups/:id',
    {
      schema: {
        tags,
        summary: 'Get an end-user group',
        ...schemaOf('getEndUserGroup'),
      },
    },
    async (request) => ({ data: await groups.getGroup(contextOf(request), intId(request.params)) }),
  );
  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/end_user_groups/:id',
      {
        schema: {
          tags,
          summary: 'Edit an end-user group’s name, description, managed_by and roles',
          ...schemaOf(method === 'put' ? 'updateEndUserGroup' : 'patchEndUserGroup'),
        },
      },
      async (request) => ({
        data: await groups.updateGroup(contextOf(request), intId(request.params), request.body),
      }),
    );
  }
  app.delete(
    '/end_user_groups/:id',
    {
      schema: {
        tags,
        summary:
          'Delete an end-user group (users stay), or with dry_run=true show who would lose what',
        ...schemaOf('deleteEndUserGroup'),
      },
    },
    async (request, reply) => {
      const impact = await groups.deleteGroup(
        contextOf(request),
        intId(request.params),
        request.query.dry_run === true,
      );
      return impact === null
        ? reply.status(204).send(null)
        : reply.status(200).send({ data: impact });
    },
  );
  app.get(
    '/end_user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'List a group’s members with the time they joined',
        ...schemaOf('listEndUserGroupMembers'),
      },
    },
    (request) => groups.listMembers(contextOf(request), intId(request.params), request.query),
  );
  app.post(
    '/end_user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'Add end users to a group',
        ...schemaOf('addEndUserGroupMembers'),
      },
    },
    async (request) => ({
      data: await groups.addMembers(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.delete(
    '/end_user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'Remove end users from a group (never its last member)',
        ...schemaOf('removeEndUserGroupMembers'),
      },
    },
    async (request) => ({
      data: await groups.removeMembers(contextOf(request), intId(request.params), request.body),
    }),
  );
}
