/**
 * Projects: the unit project grants attach to. A project belongs to one environment; an API
 * client sees and manages only the projects of its scope.
 */
import type {
  CreateProjectBody,
  ListProjectsQuery,
  Project,
  UpdateProjectBody,
} from '@roster/contracts';
import type { Db } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import {
  canAccessProject,
  requireCollaboratorActor,
  requireEnvironmentAccess,
  requireProjectAccess,
} from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import { requireEnvironment } from '../environments/environments.service.js';
import { findProjectById, listProjects, type ProjectRow } from './projects.repository.js';

export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    environment: { id: row.environment_id, type: row.environment_type },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function createProjectsService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  /** A project of the caller's workspace that the caller may manage; others are a 404 / 403. */
  async function requireProject(ctx: RequestContext, id: number): Promise<ProjectRow> {
    const project = await findProjectById(deps.db, ctx.workspaceId, id);
    if (project === undefined) throw notFound('project.not_found');
    requireProjectAccess(ctx, { id: project.id, environmentType: project.environment_type });
    return project;
  }

  return {
    requireProject,

    async listProjects(ctx: RequestContext, query: ListProjectsQuery): Promise<Paged<Project>> {
      requireCollaboratorActor(ctx);
      const page = pageRequest(query);
      const { rows, total } = await listProjects(
        deps.db,
        ctx.workspaceId,
        { environmentType: query.environment_type, name: query.name, scope: ctx.scope },
        page,
      );
      return paged(rows.map(toProject), total, page);
    },

    async getProject(ctx: RequestContext, id: number): Promise<Project> {
      return toProject(await requireProject(ctx, id));
    },

    async createProject(ctx: RequestContext, body: CreateProjectBody): Promise<Project> {
      requireCollaboratorActor(ctx);
      const environmentType = body.environment_type ?? 'dev';
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, environmentType);
      requireEnvironmentAccess(ctx, environmentType);
      // A new project is by definition outside a project-limited client's list: a scope refusal.
      if (ctx.scope.projectIds !== null) {
        throw forbidden(
          'scope.project',
          'An API client limited to some projects cannot create projects',
        );
      }
      const name = (body.name ?? '').trim();
      if (name === '') throw badRequest('project.name_blank', "Name can't be blank");
      const id = await deps.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('projects')
          .values({
            workspace_id: ctx.workspaceId,
            environment_id: environment.id,
            name,
            description: body.description ?? null,
            created_at: now(),
            updated_at: now(),
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await recordChange(trx, ctx, now(), 'project.created', ['project', row.id], {
          after: { name, environment_type: environmentType },
        });
        return row.id;
      });
      return toProject(await requireProject(ctx, id));
    },

    async updateProject(
      ctx: RequestContext,
      id: number,
      body: UpdateProjectBody,
    ): Promise<Project> {
      const project = await requireProject(ctx, id);
      const name = body.name === undefined ? project.name : body.name.trim();
      if (name === '') throw badRequest('project.name_blank', "Name can't be blank");
      const description = body.description === undefined ? project.description : body.description;
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('projects')
          .set({ name, description, updated_at: now() })
          .where('id', '=', id)
          .execute();
        await recordChange(trx, ctx, now(), 'project.updated', ['project', id], {
          before: { name: project.name, description: project.description },
          after: { name, description },
        });
      });
      return toProject(await requireProject(ctx, id));
    },

    /** Deletes the project and its grants (foreign keys cascade). */
    async deleteProject(ctx: RequestContext, id: number): Promise<void> {
      const project = await requireProject(ctx, id);
      await deps.db.transaction().execute(async (trx) => {
        await trx.deleteFrom('projects').where('id', '=', id).execute();
        await recordChange(trx, ctx, now(), 'project.deleted', ['project', id], {
          before: { name: project.name, environment_type: project.environment_type },
        });
      });
    },

    canAccess: (ctx: RequestContext, project: ProjectRow) =>
      canAccessProject(ctx, { id: project.id, environmentType: project.environment_type }),
  };
}
export type ProjectsService = ReturnType<typeof createProjectsService>;
