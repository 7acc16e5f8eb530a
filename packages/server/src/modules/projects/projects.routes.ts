import {
  CreateProjectBody,
  DataOf,
  IntegerIdParams,
  ListProjectsQuery,
  PagedList,
  Project,
  UpdateProjectBody,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { ProjectsService } from './projects.service.js';

const tags = ['Projects'];

export function registerProjectRoutes(app: Api, projects: ProjectsService): void {
  app.get(
    '/projects',
    {
      schema: {
        tags,
        summary: 'List projects',
        querystring: ListProjectsQuery,
        response: { 200: PagedList(Project), ...errorResponses },
      },
    },
    (request) => projects.listProjects(contextOf(request), request.query),
  );
  app.get(
    '/projects/:id',
    {
      schema: {
        tags,
        summary: 'Get a project',
        params: IntegerIdParams,
        response: { 200: DataOf(Project), ...errorResponses },
      },
    },
    async (request) => ({
      data: await projects.getProject(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/projects',
    {
      schema: {
        tags,
        summary: 'Create a project',
        body: CreateProjectBody,
        response: { 201: DataOf(Project), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await projects.createProject(contextOf(request), request.body) }),
  );
  app.put(
    '/projects/:id',
    {
      schema: {
        tags,
        summary: 'Rename or describe a project',
        params: IntegerIdParams,
        body: UpdateProjectBody,
        response: { 200: DataOf(Project), ...errorResponses },
      },
    },
    async (request) => ({
      data: await projects.updateProject(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.delete(
    '/projects/:id',
    {
      schema: {
        tags,
        summary: 'Delete a project and its grants',
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await projects.deleteProject(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
