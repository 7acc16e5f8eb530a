import { forbidden } from './errors.js';
import type { ClientScope, RequestContext } from './context.js';

/**
 * End users signed in to the console (modules/console, actor type `end_user`) get an
 * environment-scoped context like an API client's, but they manage end-user things only: end
 * users, end-user groups, features, policies, approvals and end-user access checks. Everything
 * about collaborators and the workspace itself needs a collaborator (or an API client).
 */
export function requireCollaboratorActor(ctx: RequestContext): void {
  if (ctx.actor.type === 'end_user') {
    throw forbidden(
      'scope.end_user',
      'End users signed in to the console manage end users; collaborators, projects, API clients, SSO, SCIM connections and the audit log need a collaborator',
    );
  }
}

/**
 * The reference API: "API clients require access to the DEV environment to manage collaborators."
 * End-user console sessions never manage collaborators, whatever their environments.
 */
export function requireDevAccess(ctx: RequestContext): void {
  requireCollaboratorActor(ctx);
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

/** Every environment of the workspace and every project: what a workspace-wide credential holds. */
export function hasWorkspaceScope(
  scope: ClientScope,
  workspaceEnvironmentTypes: readonly string[],
): boolean {
  return (
    scope.projectIds === null &&
    workspaceEnvironmentTypes.every((type) => scope.environmentTypes.has(type))
  );
}

/**
 * What changes who may act on the whole workspace (the SSO connection, which also signs
 * collaborators in to the console; a SCIM connection that provisions collaborators) needs a
 * collaborator or API client with every environment and every project: a credential limited to
 * some environments must not be able to make itself, or anyone, a workspace admin.
 */
export function requireWorkspaceAdmin(
  ctx: RequestContext,
  workspaceEnvironmentTypes: readonly string[],
): void {
  requireCollaboratorActor(ctx);
  if (!hasWorkspaceScope(ctx.scope, workspaceEnvironmentTypes)) {
    throw forbidden(
      'scope.workspace_admin',
      'This needs full workspace access: a console admin of every environment, or an API client that may manage every environment and project',
    );
  }
}

/**
 * Project-level scope: the project's environment, and the project itself when the client is
 * limited to some. Projects are collaborators' business: end-user console sessions are refused.
 */
export function requireProjectAccess(
  ctx: RequestContext,
  project: { id: number; environmentType: string },
): void {
  requireCollaboratorActor(ctx);
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
    ctx.actor.type !== 'end_user' &&
    ctx.scope.environmentTypes.has(project.environmentType) &&
    (ctx.scope.projectIds === null || ctx.scope.projectIds.has(project.id))
  );
}
