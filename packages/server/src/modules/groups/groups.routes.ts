import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { GroupsService } from './groups.service.js';

const tags = ['Collaborator groups'];

export function registerGroupRoutes(app: Api, groups: GroupsService): void {
  app.get(
    '/user_groups',
    {
      schema: {
        tags,
        summary: 'List collaborator groups',
        ...schemaOf('listUserGroups'),
      },
    },
    (request) => groups.listGroups(contextOf(request), request.query),
  );
  app.get(
    '/user_groups/:id',
    {
      schema: {
        tags,
        summary: 'Get a collaborator group',
        ...schemaOf('getUserGroup'),
      },
    },
    async (request) => ({
      data: await groups.getGroup(contextOf(request), request.params.id, request.query),
    }),
  );
  app.post(
    '/user_groups',
    {
      schema: {
        tags,
        summary: 'Create a collaborator group',
        ...schemaOf('createUserGroup'),
      },
    },
    async (request) => ({ data: await groups.createGroup(contextOf(request), request.body) }),
  );
  app.put(
    '/user_groups/:id',
    {
      schema: {
        tags,
        summary: 'Update a collaborator group',
        ...schemaOf('updateUserGroup'),
      },
    },
    async (request) => ({
      data: await groups.updateGroup(contextOf(request), request.params.id, request.body),
    }),
  );
  app.delete(
    '/user_groups/:id',
    {
      schema: {
        tags,
        summary: 'Delete a collaborator group with its memberships and project grants',
        ...schemaOf('deleteUserGroup'),
      },
    },
    async (request, reply) => {
      await groups.deleteGroup(contextOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'List a group’s members (collaborators and pending invitees)',
        ...schemaOf('listUserGroupMembers'),
      },
    },
    (request) => groups.listMembers(contextOf(request), request.params.id, request.query),
  );
  app.post(
    '/user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'Add collaborators to a group',
        ...schemaOf('addUserGroupMembers'),
      },
    },
    async (request) => {
      await groups.addMembers(contextOf(request), request.params.id, request.body);
      return { data: null };
    },
  );
  app.delete(
    '/user_groups/:id/members',
    {
      schema: {
        tags,
        summary: 'Remove collaborators or invitees from a group',
        description: 'Takes user_ids[] and/or member_invitation_ids[] in the query string.',
        ...schemaOf('removeUserGroupMembers'),
      },
    },
    async (request, reply) => {
      await groups.removeMembers(contextOf(request), request.params.id, request.query);
      return reply.status(204).send(null);
    },
  );
}
