import { forbidden } from './errors.js';
import type { RequestContext } from './context.js';

/** The reference API: "API clients require access to the DEV environment to manage collaborators." */
export function requireDevAccess(ctx: RequestContext): void {
  requireEnvironmentAccess(ctx, 'dev');
}

export function requireEnvironmentAccess(ctx: RequestContext, environmentType: string): void {
  if (!ctx.scope.environmentTypes.has(environmentType)) {
    throw forbidden(
      'scope.environment',
      `This API client has no access to the ${environmentType.toUpperCase()} environment`,
    );
  }
}

/** Project-level scope: the project's environment, and the project itself when the client is limited to some. */
export function requireProjectAccess(
  ctx: RequestContext,
  project: { id: number; environmentType: string },
): void {
  requireEnvironmentAccess(ctx, project.environmentType);
  if (ctx.scope.projectIds !== null && !ctx.scope.projectIds.has(project.id)) {
    throw forbidden('scope.project', `This API client has no access to project ${project.id}`);
  }
}

export function canAccessProject(
  ctx: RequestContext,
  project: { id: number; environmentType: string },
): boolean {
  return (
    ctx.scope.environmentTypes.has(project.environmentType) &&
    (ctx.scope.projectIds === null || ctx.scope.projectIds.has(project.id))
  );
}
