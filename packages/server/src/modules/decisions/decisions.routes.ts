import { Type } from 'typebox';
import { IntegerIdParams, MemberPrivileges, ProjectsPrivileges } from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
import type { MembersService } from '../members/members.service.js';
import type { DecisionsService } from './decisions.service.js';

const tags = ['Collaborators'];

export function registerDecisionRoutes(app: Api, decisions: DecisionsService, members: MembersService): void {
  app.get(
    '/members/:id/privileges',
    {
      schema: {
        tags,
        summary: 'Get a collaborator’s role and privileges in each environment',
        params: IntegerIdParams,
        response: { 200: Type.Object({ data: Type.Array(MemberPrivileges) }), ...errorResponses },
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const member = await members.getMember(ctx, intId(request.params));
      return { data: await decisions.memberPrivileges(ctx, member.id) };
    },
  );
  app.get(
    '/members/:id/projects_privileges',
    {
      schema: {
        tags,
        summary: 'Get a collaborator’s project privileges, direct and through groups',
        params: IntegerIdParams,
        response: { 200: Type.Object({ data: Type.Array(ProjectsPrivileges) }), ...errorResponses },
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const member = await members.getMember(ctx, intId(request.params));
      return { data: await decisions.memberProjectsPrivileges(ctx, member.id) };
    },
  );
}
