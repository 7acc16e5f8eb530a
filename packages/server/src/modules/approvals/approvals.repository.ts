/**
 * Approval requests: created by a require_approval decision (decisions/end-user-decisions.ts),
 * listed, approved and rejected by admins (approvals.service.ts), used up by the next decision.
 * Both sides import these queries, so they live in a module of their own below both.
 */
import type { Executor, NewRow, Row } from '../../storage/database.js';
import type { PageRequest } from '../../lib/pagination.js';

export type ApprovalRequestRow = Row<'approval_requests'> & {
  user_name: string;
  user_email: string;
  feature_name: string;
  feature_kind: string;
  environment_type: string;
};

function approvalRequests(db: Executor, workspaceId: number) {
  return db
    .selectFrom('approval_requests as r')
    .innerJoin('end_users as u', 'u.id', 'r.end_user_id')
    .innerJoin('features as f', 'f.id', 'r.feature_id')
    .innerJoin('environments as e', 'e.id', 'r.environment_id')
    .selectAll('r')
    .select([
      'u.name as user_name',
      'u.email as user_email',
      'f.name as feature_name',
      'f.kind as feature_kind',
      'e.type as environment_type',
    ])
    .where('r.workspace_id', '=', workspaceId);
}

export function findApprovalRequestById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<ApprovalRequestRow | undefined> {
  return approvalRequests(db, workspaceId).where('r.id', '=', id).executeTakeFirst();
}

export async function listApprovalRequests(
  db: Executor,
  workspaceId: number,
  filter: {
    environmentTypes: string[];
    status?: string | undefined;
    endUserId?: number | undefined;
    featureId?: number | undefined;
  },
  page: PageRequest,
): Promise<{ rows: ApprovalRequestRow[]; total: number }> {
  if (filter.environmentTypes.length === 0) return { rows: [], total: 0 };
  let query = approvalRequests(db, workspaceId).where('e.type', 'in', filter.environmentTypes);
  let base = db
    .selectFrom('approval_requests as r')
    .innerJoin('environments as e', 'e.id', 'r.environment_id')
    .where('r.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.status !== undefined) {
    query = query.where('r.status', '=', filter.status);
    base = base.where('r.status', '=', filter.status);
  }
  if (filter.endUserId !== undefined) {
    query = query.where('r.end_user_id', '=', filter.endUserId);
    base = base.where('r.end_user_id', '=', filter.endUserId);
  }
  if (filter.featureId !== undefined) {
    query = query.where('r.feature_id', '=', filter.featureId);
    base = base.where('r.feature_id', '=', filter.featureId);
  }
  const [rows, count] = await Promise.all([
    query.orderBy('r.id', 'desc').limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export function insertApprovalRequest(db: Executor, row: NewRow<'approval_requests'>) {
  return db.insertInto('approval_requests').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The oldest request in a status for one user, feature and tool ('' = no tool). */
export function findApprovalRequestFor(
  db: Executor,
  key: { endUserId: number; featureId: number; tool: string },
  status: 'pending' | 'approved',
) {
  return db
    .selectFrom('approval_requests')
    .selectAll()
    .where('end_user_id', '=', key.endUserId)
    .where('feature_id', '=', key.featureId)
    .where('tool', '=', key.tool)
    .where('status', '=', status)
    .orderBy('id')
    .executeTakeFirst();
}

/**
 * Moves a request from one status to the next only if it is still in the first, so two
 * concurrent decisions cannot both use one approval. Answers whether this call won.
 */
export async function transitionApprovalRequest(
  db: Executor,
  id: number,
  from: string,
  changes: Partial<
    Pick<Row<'approval_requests'>, 'status' | 'decided_at' | 'decided_by' | 'used_at'>
  >,
): Promise<boolean> {
  const result = await db
    .updateTable('approval_requests')
    .set(changes)
    .where('id', '=', id)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
