import {
  DataOf,
  DataResultOk,
  IntegerIdParams,
  ListMembersQuery,
  Member,
  PagedList,
  UpdateMemberBody,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { MembersService } from './members.service.js';

const tags = ['Collaborators'];

export function registerMemberRoutes(app: Api, members: MembersService): void {
  app.get(
    '/members',
    {
      schema: {
        tags,
        summary: 'List collaborators',
        querystring: ListMembersQuery,
        response: { 200: PagedList(Member), ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: DataOf(Member), ...errorResponses },
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
        params: IntegerIdParams,
        body: UpdateMemberBody,
        response: { 200: DataResultOk, ...errorResponses },
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
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await members.deleteMember(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
