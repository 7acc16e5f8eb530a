/**
 * The two environment rules every module that files things by environment shares: an environment
 * named in a request must exist ("Environment X not found", 400, code `environment.not_found`,
 * whichever module asks), and a list without an environment filter shows the caller's environments
 * only. Written once here so a module cannot drift to another wording, code or scope.
 */
import type { Executor, Row } from '../../storage/database.js';
import { badRequest, type AppError } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { findEnvironmentByType } from './environments.repository.js';

/** The answer to an environment a request names that the workspace does not have. */
export function environmentNotFound(type: string) {
  return badRequest('environment.not_found', `Environment ${type} not found`);
}

/** An environment of the workspace by type; "Environment X not found" (400) otherwise. */
export async function requireEnvironment(
  db: Executor,
  workspaceId: number,
  type: string,
): Promise<Row<'environments'>> {
  const environment = await findEnvironmentByType(db, workspaceId, type);
  if (environment === undefined) throw environmentNotFound(type);
  return environment;
}

/**
 * The environment types a list may show: the one the query names (which must exist and be in the
 * caller's scope), else every environment of the caller's scope.
 */
export async function environmentScope(
  db: Executor,
  ctx: RequestContext,
  environmentType: string | undefined,
): Promise<string[]> {
  if (environmentType === undefined) return [...ctx.scope.environmentTypes];
  await requireEnvironment(db, ctx.workspaceId, environmentType);
  requireEnvironmentAccess(ctx, environmentType);
  return [environmentType];
}

/**
 * A record filed under an environment (group, feature, policy, approval request), as found in the
 * caller's workspace: `missing()` (a 404) when there is none, 403 when its environment is outside
 * the caller's scope.
 */
export function requireInScope<T extends { environment_type: string }>(
  ctx: RequestContext,
  row: T | undefined,
  missing: () => AppError,
): T {
  if (row === undefined) throw missing();
  requireEnvironmentAccess(ctx, row.environment_type);
  return row;
}
