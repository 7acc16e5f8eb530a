/**
 * Approval requests: created by a require_approval decision (decisions/end-user-decisions.ts),
 * listed, approved and rejected by their approvers (approvals.service.ts), used by the next
 * decisions. Both sides import these queries, so they live in a module of their own below both,
 * and so do the policies' approver chains (policies write them, decisions copy them onto a request).
 */
import type { Executor, NewRow, Row } from '../../storage/database.js';
import type { PageRequest } from '../../lib/pagination.js';
import { fromJson } from '../../storage/json.js';

/** Who may decide one step of a chain: collaborators, and members of Admin end-user groups. */
export interface ChainApprovers {
  member_ids: number[];
  group_ids: number[];
}

/**
 * The state of a request at `now`: a pending request past its expiry is expired, whether or not
 * its row says so yet. Reads and decisions both ask this one function, so no background job is
 * needed for either to be right.
 */
export function approvalStatus(
  row: Pick<Row<'approval_requests'>, 'status' | 'expires_at'>,
  now: string,
): string {
  return row.status === 'pending' && row.expires_at !== null && row.expires_at <= now
    ? 'expired'
    : row.status;
}

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
    /** For the status filter: pending means not expired at `now`, expired includes those. */
    now: string;
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
  const { status, now } = filter;
  if (status === 'pending') {
    // Pending means still open at `now`: a request past its expiry is expired, row or not.
    query = query
      .where('r.status', '=', 'pending')
      .where((eb) => eb.or([eb('r.expires_at', 'is', null), eb('r.expires_at', '>', now)]));
    base = base
      .where('r.status', '=', 'pending')
      .where((eb) => eb.or([eb('r.expires_at', 'is', null), eb('r.expires_at', '>', now)]));
  } else if (status === 'expired') {
    query = query.where((eb) =>
      eb.or([
        eb('r.status', '=', 'expired'),
        eb.and([eb('r.status', '=', 'pending'), eb('r.expires_at', '<=', now)]),
      ]),
    );
    base = base.where((eb) =>
      eb.or([
        eb('r.status', '=', 'expired'),
        eb.and([eb('r.status', '=', 'pending'), eb('r.expires_at', '<=', now)]),
      ]),
    );
  } else if (status !== undefined) {
    query = query.where('r.status', '=', status);
    base = base.where('r.status', '=', status);
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

export interface ApprovalKey {
  endUserId: number;
  featureId: number;
  tool: string;
}

function requestsFor(db: Executor, key: ApprovalKey) {
  return db
    .selectFrom('approval_requests')
    .selectAll()
    .where('end_user_id', '=', key.endUserId)
    .where('feature_id', '=', key.featureId)
    .where('tool', '=', key.tool);
}

/** The oldest pending request for one user, feature and tool ('' = no tool), expired or not. */
export function findPendingRequestFor(db: Executor, key: ApprovalKey) {
  return requestsFor(db, key).where('status', '=', 'pending').orderBy('id').executeTakeFirst();
}

/** The oldest approval good for one decision (`once`; rows from before 0015 have no scope). */
export function findOnceApprovalFor(db: Executor, key: ApprovalKey) {
  return requestsFor(db, key)
    .where('status', '=', 'approved')
    .where((eb) => eb.or([eb('scope', 'is', null), eb('scope', '=', 'once')]))
    .orderBy('id')
    .executeTakeFirst();
}

/** The window approval open at `now` that lasts longest. */
export function findOpenWindowFor(db: Executor, key: ApprovalKey, now: string) {
  return requestsFor(db, key)
    .where('status', '=', 'approved')
    .where('scope', '=', 'window')
    .where('window_ends_at', '>', now)
    .orderBy('window_ends_at', 'desc')
    .executeTakeFirst();
}

/** The oldest rejection no decision has reported yet (`used_at` is null until one does). */
export function findUnreportedRejectionFor(db: Executor, key: ApprovalKey) {
  return requestsFor(db, key)
    .where('status', '=', 'rejected')
    .where('used_at', 'is', null)
    .orderBy('id')
    .executeTakeFirst();
}

/** A policy's approver chain: one entry per step, in order (empty: the policy has none). */
export async function listPolicyChains(
  db: Executor,
  policyIds: number[],
): Promise<Map<number, ChainApprovers[]>> {
  const result = new Map<number, ChainApprovers[]>(policyIds.map((id) => [id, []]));
  if (policyIds.length === 0) return result;
  const rows = await db
    .selectFrom('policy_approval_steps')
    .select(['policy_id', 'position', 'member_id', 'group_id'])
    .where('policy_id', 'in', policyIds)
    .orderBy('position')
    .orderBy('id')
    .execute();
  for (const row of rows) {
    const chain = result.get(row.policy_id);
    if (chain === undefined) continue;
    const index = row.position - 1;
    while (chain.length <= index) chain.push({ member_ids: [], group_ids: [] });
    const step = chain[index];
    if (step === undefined) continue;
    if (row.member_id !== null) step.member_ids.push(row.member_id);
    if (row.group_id !== null) step.group_ids.push(row.group_id);
  }
  // A step whose every approver was deleted (cascade) leaves a gap: close it.
  for (const [id, chain] of result) {
    result.set(
      id,
      chain.filter((step) => step.member_ids.length + step.group_ids.length > 0),
    );
  }
  return result;
}

export async function replacePolicyChain(
  db: Executor,
  workspaceId: number,
  policyId: number,
  chain: ChainApprovers[],
): Promise<void> {
  await db.deleteFrom('policy_approval_steps').where('policy_id', '=', policyId).execute();
  const rows = chain.flatMap((step, index) => [
    ...step.member_ids.map((id) => ({
      workspace_id: workspaceId,
      policy_id: policyId,
      position: index + 1,
      member_id: id,
      group_id: null,
    })),
    ...step.group_ids.map((id) => ({
      workspace_id: workspaceId,
      policy_id: policyId,
      position: index + 1,
      member_id: null,
      group_id: id,
    })),
  ]);
  if (rows.length > 0) await db.insertInto('policy_approval_steps').values(rows).execute();
}

/** Copies a chain onto a new request, every step pending. */
export async function insertRequestSteps(
  db: Executor,
  workspaceId: number,
  requestId: number,
  chain: ChainApprovers[],
): Promise<void> {
  if (chain.length === 0) return;
  await db
    .insertInto('approval_request_steps')
    .values(
      chain.map((step, index) => ({
        workspace_id: workspaceId,
        request_id: requestId,
        position: index + 1,
        approvers: JSON.stringify(step),
        status: 'pending',
        decided_at: null,
        decided_by_type: null,
        decided_by_id: null,
        decided_by_name: null,
        scope: null,
        minutes: null,
      })),
    )
    .execute();
}

export type RequestStepRow = Row<'approval_request_steps'> & { chain: ChainApprovers };

/** The steps of requests by request ID, in order. */
export async function listRequestSteps(
  db: Executor,
  requestIds: number[],
): Promise<Map<number, RequestStepRow[]>> {
  const result = new Map<number, RequestStepRow[]>(requestIds.map((id) => [id, []]));
  if (requestIds.length === 0) return result;
  const rows = await db
    .selectFrom('approval_request_steps')
    .selectAll()
    .where('request_id', 'in', requestIds)
    .orderBy('request_id')
    .orderBy('position')
    .execute();
  for (const row of rows) {
    result.get(row.request_id)?.push({ ...row, chain: fromJson<ChainApprovers>(row.approvers) });
  }
  return result;
}

/** Records one step's decision if it is still pending; answers whether this call decided it. */
export async function decideRequestStep(
  db: Executor,
  stepId: number,
  changes: Pick<
    Row<'approval_request_steps'>,
    | 'status'
    | 'decided_at'
    | 'decided_by_type'
    | 'decided_by_id'
    | 'decided_by_name'
    | 'scope'
    | 'minutes'
  >,
): Promise<boolean> {
  const result = await db
    .updateTable('approval_request_steps')
    .set(changes)
    .where('id', '=', stepId)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Collaborators by ID, for names on a chain and addresses to mail. */
export function findMembersByIds(db: Executor, workspaceId: number, ids: number[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('members')
    .select(['id', 'name', 'email'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
}

/** End-user groups by ID with their roles (JSON) and environment, for chains. */
export function findGroupsByIds(db: Executor, workspaceId: number, ids: number[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('end_user_groups')
    .select(['id', 'name', 'roles', 'environment_id', 'system'])
    .where('workspace_id', '=', workspaceId)
    .where('id', 'in', ids)
    .execute();
}

/**
 * The active end users who approve for these groups: members of those that carry the Admin role
 * now (a group that lost the role no longer approves).
 */
export async function listGroupApprovers(
  db: Executor,
  workspaceId: number,
  groupIds: number[],
): Promise<{ id: number; name: string; email: string; group_id: number }[]> {
  if (groupIds.length === 0) return [];
  const rows = await db
    .selectFrom('end_user_group_members as m')
    .innerJoin('end_user_groups as g', 'g.id', 'm.group_id')
    .innerJoin('end_users as u', 'u.id', 'm.end_user_id')
    .select(['u.id', 'u.name', 'u.email', 'g.id as group_id', 'g.roles'])
    // The workspace on the groups, not the memberships: SQLite (no planner statistics) planned
    // `m.workspace_id = ?` on the workspace's index, every membership of the workspace read to
    // find a few groups' (decisions/decisions.repository.ts, loadEndUserRows, says more).
    .where('g.workspace_id', '=', workspaceId)
    .where('m.group_id', 'in', groupIds)
    .where('u.status', '=', 'active')
    .orderBy('u.id')
    .execute();
  return rows
    .filter((row) => fromJson<string[]>(row.roles).includes('Admin'))
    .map((row) => ({ id: row.id, name: row.name, email: row.email, group_id: row.group_id }));
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
    Pick<
      Row<'approval_requests'>,
      'status' | 'decided_at' | 'decided_by' | 'used_at' | 'scope' | 'window_ends_at'
    >
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

/** Marks a rejection as reported by a decision, once: answers whether this call did. */
export async function markRejectionReported(
  db: Executor,
  id: number,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('approval_requests')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('status', '=', 'rejected')
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
