import { sql } from 'kysely';
import type { Executor } from '../../storage/database.js';
import { prepared } from '../../storage/prepared.js';
import { likeContains, type PageRequest } from '../../lib/pagination.js';
import type { ClientScope } from '../../lib/context.js';

export interface ProjectRow {
  id: number;
  workspace_id: number;
  environment_id: number;
  environment_type: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

function projectsWithEnvironment(db: Executor, workspaceId: number) {
  return db
    .selectFrom('projects as p')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .select([
      'p.id',
      'p.workspace_id',
      'p.environment_id',
      'e.type as environment_type',
      'p.name',
      'p.description',
      'p.created_at',
      'p.updated_at',
    ])
    .where('p.workspace_id', '=', workspaceId);
}

/** Every grant written looks its project up: compiled once (storage/prepared.ts). */
const projectById = prepared((db, p: { workspaceId: number; id: number }) =>
  projectsWithEnvironment(db, p.workspaceId).where('p.id', '=', p.id),
);

export function findProjectById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<ProjectRow | undefined> {
  return projectById.takeFirst(db, { workspaceId, id });
}

export function listProjectsInEnvironments(
  db: Executor,
  workspaceId: number,
  environmentIds: number[],
) {
  if (environmentIds.length === 0) return Promise.resolve([]);
  return projectsWithEnvironment(db, workspaceId)
    .where('p.environment_id', 'in', environmentIds)
    .orderBy('p.id')
    .execute();
}

export async function listProjects(
  db: Executor,
  workspaceId: number,
  filter: { environmentType?: string | undefined; name?: string | undefined; scope: ClientScope },
  page: PageRequest,
): Promise<{ rows: ProjectRow[]; total: number }> {
  let query = projectsWithEnvironment(db, workspaceId).where('e.type', 'in', [
    ...filter.scope.environmentTypes,
    '',
  ]);
  if (filter.scope.projectIds !== null)
    query = query.where('p.id', 'in', [...filter.scope.projectIds, 0]);
  if (filter.environmentType !== undefined)
    query = query.where('e.type', '=', filter.environmentType);
  if (filter.name !== undefined && filter.name !== '') {
    query = query.where(sql<boolean>`lower(p.name) like ${likeContains(filter.name)} escape '\\'`);
  }
  // Cast: PostgreSQL's count(*) is a bigint, which pg returns as a string.
  const counted = query.clearSelect().select(sql<number>`cast(count(*) as integer)`.as('n'));
  const [rows, count] = await Promise.all([
    query.orderBy('p.id').limit(page.size).offset(page.offset).execute(),
    counted.executeTakeFirstOrThrow(),
  ]);
  return { rows, total: count.n };
}
