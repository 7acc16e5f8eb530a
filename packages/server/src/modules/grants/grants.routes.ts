import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { MembersService } from '../members/members.service.js';
import type { GroupsService } from '../groups/groups.service.js';
import type { GrantsService } from './grants.service.js';

const tags = ['Project grants'];

export function registerGrantRoutes(
  app: Api,
  grants: GrantsService,
  members: MembersService,
  groups: GroupsService,
): void {
  app.get(
    '/project_grants/:id',
    {
      schema: {
        tags,
        summary: 'Get a project grant',
        ...schemaOf('getProjectGrant'),
      },
    },
    async (request) => ({ data: await grants.getGrant(contextOf(request), request.params.id) }),
  );
  app.put(
    '/project_grants/:id',
    {
      schema: {
        tags,
        summary: 'Change the role of a project grant',
        ...schemaOf('updateProjectGrant'),
      },
    },
    async (request) => ({
      data: await grants.updateGrant(contextOf(request), request.params.id, request.body),
    }),
  );
  app.delete(
    '/project_grants/:id',
    {
      schema: {
        tags,
        summary: 'Delete a project grant',
        ...schemaOf('deleteProjectGrant'),
      },
    },
    async (request, reply) => {
      await grants.deleteGrant(contextOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/projects/:id/project_grants',
    {
      schema: {
        tags,
        summary: 'List a project’s grants',
        ...schemaOf('listProjectGrants'),
      },
    },
    (request) => grants.listProjectGrants(contextOf(request), intId(request.params), request.query),
  );
  app.put(
    '/projects/:id/project_grants',
    {
      schema: {
        tags,
        summary: 'Add or update project grants (at most 100 a request)',
        ...schemaOf('upsertProjectGrants'),
      },
    },
    async (request) => {
      await grants.upsertProjectGrants(contextOf(request), intId(request.params), request.body);
      return { data: null };
    },
  );
  app.get(
    '/members/:id/project_grants',
    {
      schema: {
        tags: ['Collaborators'],
        summary: 'List a collaborator’s direct project grants (not those through groups)',
        ...schemaOf('listMemberProjectGrants'),
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      // getMember checks the DEV scope before existence, so an out-of-scope client learns nothing.
      const member = await members.getMember(ctx, intId(request.params));
      return grants.listAssigneeGrants(ctx, { memberId: member.id }, request.query);
    },
  );
  app.get(
    '/user_groups/:id/project_grants',
    {
      schema: {
        tags: ['Collaborator groups'],
        summary: 'List a collaborator group’s project grants',
        ...schemaOf('listUserGroupProjectGrants'),
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const group = await groups.getGroup(ctx, request.params.id);
      return grants.listAssigneeGrants(ctx, { groupId: group.id }, request.query);
    },
  );
}
