import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { pageRequest } from '../../lib/pagination.js';
import { wantsCsv } from '../../lib/csv.js';
import type { MembersService } from '../members/members.service.js';
import { isEndUserCheck, projectAccessCsv, type DecisionsService } from './decisions.service.js';

const tags = ['Collaborators'];
const accessTags = ['Access decisions'];

export function registerDecisionRoutes(
  app: Api,
  decisions: DecisionsService,
  members: MembersService,
): void {
  app.get(
    '/members/:id/privileges',
    {
      schema: {
        tags,
        summary: 'Get a collaborator’s role and privileges in each environment',
        ...schemaOf('listMemberPrivileges'),
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const member = await members.getMember(ctx, intId(request.params));
      await decisions.ready(ctx);
      return { data: decisions.memberPrivileges(ctx, member.id) };
    },
  );
  app.get(
    '/members/:id/projects_privileges',
    {
      schema: {
        tags,
        summary: 'Get a collaborator’s project privileges, direct and through groups',
        ...schemaOf('listMemberProjectsPrivileges'),
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      const member = await members.getMember(ctx, intId(request.params));
      await decisions.ready(ctx);
      return { data: decisions.memberProjectsPrivileges(ctx, member.id) };
    },
  );

  app.post(
    '/access/check',
    {
      schema: {
        tags: accessTags,
        summary: 'May this collaborator do this on this project (or in this environment), and why',
        ...schemaOf('accessCheck'),
      },
      // An access check stores nothing (no NUL check, no index sync before it answers).
      config: { storesNothing: true },
    },
    (request) => {
      const ctx = contextOf(request);
      // Undefined (no wait) when the workspace is loaded, the usual case: the answer is then
      // returned as a plain value (Fastify sends it), not through a promise and a microtask.
      const loading = decisions.ready(ctx, isEndUserCheck(request.body));
      if (loading === undefined) return { data: decisions.check(ctx, request.body) };
      return loading.then(() => ({ data: decisions.check(ctx, request.body) }));
    },
  );
  app.post(
    '/access/check_batch',
    {
      schema: {
        tags: accessTags,
        summary: 'Up to 1,000 checks in one request, answered in order',
        ...schemaOf('accessCheckBatch'),
      },
      // An access check stores nothing (no NUL check, no index sync before it answers).
      config: { storesNothing: true },
    },
    async (request) => {
      const ctx = contextOf(request);
      const loading = decisions.ready(ctx, request.body.checks.some(isEndUserCheck));
      if (loading !== undefined) await loading;
      return { data: decisions.checkBatch(ctx, request.body) };
    },
  );
  app.get(
    '/access/projects',
    {
      schema: {
        tags: accessTags,
        summary: 'What a collaborator can do, project by project, and through what',
        ...schemaOf('accessProjects'),
      },
    },
    async (request) => {
      const ctx = contextOf(request);
      await decisions.ready(ctx);
      return decisions.listMemberProjects(ctx, request.query, pageRequest(request.query));
    },
  );
  app.get(
    '/projects/:id/access',
    {
      schema: {
        tags: accessTags,
        summary: 'Who can do what on a project, and through what (JSON pages, or all of it as CSV)',
        ...schemaOf('projectAccess'),
      },
    },
    async (request, reply) => {
      const ctx = contextOf(request);
      await decisions.ready(ctx);
      if (!wantsCsv(request.query.format, request.headers.accept))
        return decisions.projectAccess(ctx, intId(request.params), pageRequest(request.query));
      // The export is the whole review, not a page of it.
      const { data } = decisions.projectAccess(ctx, intId(request.params), null);
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="project-${request.params.id}-access.csv"`,
          )
          // The response schema types the JSON answer; a text/csv body is sent as it is, unserialized.
          .send(projectAccessCsv(data) as never)
      );
    },
  );
}
