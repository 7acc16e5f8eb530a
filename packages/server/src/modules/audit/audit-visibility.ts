/**
 * Who sees which audit events: the one rule the audit log (GET /api/audit_events), its CSV and
 * NDJSON export and the change stream (GET /api/events/stream) share (docs/integration.md, "Who
 * sees what").
 *
 * - A credential with the whole workspace (every environment, every project: hasWorkspaceScope)
 *   sees every event.
 * - Any other sees the events of the environments it may read (`audit_events.environment_type`,
 *   derived when the event is written: audit.repository.ts), and no workspace-level event (null:
 *   collaborators, groups, API clients, SSO, SCIM, webhooks, workspace settings, and every event
 *   older than migration 0029).
 * - A credential limited to some projects does not see the events of the other projects of its
 *   environments (`audit_events.project_id`), as the projects and grants endpoints refuse them.
 */
import { sql, type ExpressionBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database, Executor, Row } from '../../storage/database.js';
import type { ClientScope } from '../../lib/context.js';
import { hasWorkspaceScope } from '../../lib/scope.js';
import { listEnvironments } from '../environments/environments.repository.js';

/** null: every event of the workspace. */
export type AuditVisibility = {
  readonly environmentTypes: readonly string[];
  readonly projectIds: ReadonlySet<number> | null;
} | null;

export async function auditVisibilityOf(
  db: Executor,
  workspaceId: number,
  scope: ClientScope,
): Promise<AuditVisibility> {
  const environments = await listEnvironments(db, workspaceId);
  if (
    hasWorkspaceScope(
      scope,
      environments.map((environment) => environment.type),
    )
  )
    return null;
  return { environmentTypes: [...scope.environmentTypes], projectIds: scope.projectIds };
}

/** The same rule in SQL, so that pages, totals and the export count only visible events. */
export function whereVisible<O>(
  query: SelectQueryBuilder<Database, 'audit_events', O>,
  visibility: AuditVisibility,
): SelectQueryBuilder<Database, 'audit_events', O> {
  if (visibility === null) return query;
  const { environmentTypes, projectIds } = visibility;
  return query.where((eb: ExpressionBuilder<Database, 'audit_events'>) => {
    // No environment: nothing (a literal false, which both stores read the same way).
    if (environmentTypes.length === 0) return sql<SqlBool>`1 = 0`;
    const inEnvironment = eb('environment_type', 'in', [...environmentTypes]);
    if (projectIds === null) return inEnvironment;
    return eb.and([
      inEnvironment,
      projectIds.size === 0
        ? eb('project_id', 'is', null)
        : eb.or([eb('project_id', 'is', null), eb('project_id', 'in', [...projectIds])]),
    ]);
  });
}

/** The same rule on a row already read (the change stream releases one read to every client). */
export function isVisible(
  row: Pick<Row<'audit_events'>, 'environment_type' | 'project_id'>,
  visibility: AuditVisibility,
): boolean {
  if (visibility === null) return true;
  if (row.environment_type === null || !visibility.environmentTypes.includes(row.environment_type))
    return false;
  return (
    visibility.projectIds === null ||
    row.project_id === null ||
    visibility.projectIds.has(row.project_id)
  );
}
