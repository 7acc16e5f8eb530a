import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { ProjectsService } from './projects.service.js';

const tags = ['Projects'];

export function registerProjectRoutes(app: Api, projects: ProjectsService): void {
  app.get(
    '/projects',
    {
      schema: {
        tags,
        summary: 'List projects',
        ...schemaOf('listProjects'),
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
        ...schemaOf('getProject'),
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
        ...schemaOf('createProject'),
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
        ...schemaOf('updateProject'),
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
        ...schemaOf('deleteProject'),
      },
    },
    async (request, reply) => {
      await projects.deleteProject(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
}
