import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { MembersService } from './members.service.js';

const tags = ['Collaborators'];

export function registerMemberRoutes(app: Api, members: MembersService): void {
  app.get(
    '/members',
    {
      schema: {
        tags,
        summary: 'List collaborators',
        ...schemaOf('listMembers'),
      },
    },
    (request) => members.listMembers(contextOf(request), request.query),
  );
  app.get(
    '/members/:id',
    {
      schema: {
        tags,
        summary: 'Get a collaborator',
        ...schemaOf('getMember'),
      },
    },
    async (request) => ({
      data: await members.getMember(contextOf(request), intId(request.params)),
    }),
  );
  app.put(
    '/members/:id',
    {
      config: { errorStyle: 'errors_numeric' },
      schema: {
        tags,
        summary: 'Update a collaborator’s roles per environment',
        ...schemaOf('updateMember'),
      },
    },
    async (request) => {
      await members.updateRoles(contextOf(request), intId(request.params), request.body.env_roles);
      return { data: { result: 'ok' as const } };
    },
  );
  app.delete(
    '/members/:id',
    {
      schema: {
        tags,
        summary: 'Delete a collaborator',
        ...schemaOf('deleteMember'),
      },
    },
    async (request, reply) => {
      await members.deleteMember(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
