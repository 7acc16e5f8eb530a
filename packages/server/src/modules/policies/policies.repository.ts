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
