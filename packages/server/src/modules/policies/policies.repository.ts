import type { Executor, NewRow, Row } from '../../storage/database.js';
import type { PageRequest } from '../../lib/pagination.js';

export type PolicyRow = Row<'policies'> & { environment_type: string };

function policies(db: Executor, workspaceId: number) {
  return db
    .selectFrom('policies as p')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .selectAll('p')
    .select('e.type as environment_type')
    .where('p.workspace_id', '=', workspaceId);
}

export function findPolicyById(
  db: Executor,
  workspaceId: number,
  id: number,
): Promise<PolicyRow | undefined> {
  return policies(db, workspaceId).where('p.id', '=', id).executeTakeFirst();
}

export function findPolicyByNameKey(
  db: Executor,
  workspaceId: number,
  environmentId: number,
  nameKey: string,
) {
  return db
    .selectFrom('policies')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('environment_id', '=', environmentId)
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

export async function listPolicies(
  db: Executor,
  workspaceId: number,
  filter: {
    environmentTypes: string[];
    featureId?: number | undefined;
    effect?: string | undefined;
  },
  page: PageRequest,
): Promise<{ rows: PolicyRow[]; total: number }> {
  if (filter.environmentTypes.length === 0) return { rows: [], total: 0 };
  let query = policies(db, workspaceId).where('e.type', 'in', filter.environmentTypes);
  if (filter.featureId !== undefined) query = query.where('p.feature_id', '=', filter.featureId);
  if (filter.effect !== undefined) query = query.where('p.effect', '=', filter.effect);
  let base = db
    .selectFrom('policies as p')
    .innerJoin('environments as e', 'e.id', 'p.environment_id')
    .where('p.workspace_id', '=', workspaceId)
    .where('e.type', 'in', filter.environmentTypes);
  if (filter.featureId !== undefined) base = base.where('p.feature_id', '=', filter.featureId);
  if (filter.effect !== undefined) base = base.where('p.effect', '=', filter.effect);
  const [rows, count] = await Promise.all([
    query.orderBy('p.created_at').orderBy('p.id').limit(page.size).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Policies on a feature, for decisions. */
export function listPoliciesOfFeature(
  db: Executor,
  workspaceId: number,
  featureId: number,
): Promise<PolicyRow[]> {
  return policies(db, workspaceId).where('p.feature_id', '=', featureId).orderBy('p.id').execute();
}

export function insertPolicy(db: Executor, row: NewRow<'policies'>) {
  return db.insertInto('policies').values(row).returningAll().executeTakeFirstOrThrow();
}

export function updatePolicy(
  db: Executor,
  id: number,
  changes: Partial<
    Pick<
      Row<'policies'>,
      'name' | 'name_key' | 'description' | 'tools' | 'scope_type' | 'effect' | 'updated_at'
    >
  >,
) {
  return db.updateTable('policies').set(changes).where('id', '=', id).execute();
}

export function deletePolicy(db: Executor, id: number) {
  return db.deleteFrom('policies').where('id', '=', id).execute();
}

/** Scope targets by policy ID: user IDs or group IDs, in insertion order. */
export async function targetsOf(
  db: Executor,
  policyIds: number[],
): Promise<Map<number, { userIds: number[]; groupIds: number[] }>> {
  const result = new Map(
    policyIds.map((id) => [id, { userIds: [] as number[], groupIds: [] as number[] }]),
  );
  if (policyIds.length === 0) return result;
  const rows = await db
    .selectFrom('policy_targets')
    .select(['policy_id', 'end_user_id', 'group_id'])
    .where('policy_id', 'in', policyIds)
    .orderBy('id')
    .execute();
  for (const row of rows) {
    const entry = result.get(row.policy_id);
    if (entry === undefined) continue;
    if (row.end_user_id !== null) entry.userIds.push(row.end_user_id);
    if (row.group_id !== null) entry.groupIds.push(row.group_id);
  }
  return result;
}

export async function replacePolicyTargets(
  db: Executor,
  workspaceId: number,
  policyId: number,
  targets: { userIds: number[]; groupIds: number[] },
): Promise<void> {
  await db.deleteFrom('policy_targets').where('policy_id', '=', policyId).execute();
  const rows = [
    ...targets.userIds.map((id) => ({
      workspace_id: workspaceId,
      policy_id: policyId,
      end_user_id: id,
      group_id: null,
    })),
    ...targets.groupIds.map((id) => ({
      workspace_id: workspaceId,
      policy_id: policyId,
      end_user_id: null,
      group_id: id,
    })),
  ];
  if (rows.length > 0) await db.insertInto('policy_targets').values(rows).execute();
}

/** Policies whose scope names this group, with the other groups they name. */
export function listPoliciesTargetingGroup(db: Executor, groupId: number) {
  return db
    .selectFrom('policy_targets as t')
    .innerJoin('policies as p', 'p.id', 't.policy_id')
    .select(['p.id', 'p.name', 'p.effect'])
    .where('t.group_id', '=', groupId)
    .orderBy('p.id')
    .execute();
}

// Approval requests

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
