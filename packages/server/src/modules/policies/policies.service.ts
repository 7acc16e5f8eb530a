/**
 * Policies on a feature (or on named tools of it), scoped to all users, to named users or to
 * named groups, each with an effect: allow, deny or require approval. How they combine with
 * grants and the lock is decided in decisions/end-user-decisions.ts. The approval requests a
 * require_approval policy leads to are modules/approvals.
 */
import type {
  ApprovalStep,
  ApprovalStepBody,
  CreatePolicyBody,
  ListPoliciesQuery,
  Policy,
  PolicyEffect,
  UpdatePolicyBody,
} from '@roster/contracts';
import type { Static } from 'typebox';
import type { PolicyScope } from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { nameAndKey } from '../../lib/names.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import { findEndUsersByIds } from '../end-users/end-users.repository.js';
import {
  environmentScope,
  requireEnvironment,
  requireInScope,
} from '../environments/environments.service.js';
import {
  ensureEveryoneGroups,
  findEndUserGroupsByIds,
} from '../memberships/memberships.repository.js';
import { findFeatureById } from '../features/features.repository.js';
import {
  findGroupsByIds,
  findMembersByIds,
  listPolicyChains,
  replacePolicyChain,
  type ChainApprovers,
} from '../approvals/approvals.repository.js';
import { directoryFor, presentApprovers } from '../approvals/approvals.service.js';
import {
  deletePolicy,
  findPolicyById,
  findPolicyByNameKey,
  insertPolicy,
  listPolicies,
  replacePolicyTargets,
  targetsOf,
  updatePolicy,
  type PolicyRow,
} from './policies.repository.js';

type Scope = Static<typeof PolicyScope>;
type ScopeType = Scope['type'];

export function toPolicy(
  row: PolicyRow,
  targets: { userIds: number[]; groupIds: number[] } | undefined,
  chain: ApprovalStep[] = [],
): Policy {
  const scopeType = row.scope_type as ScopeType;
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    environment_type: row.environment_type,
    feature_id: row.feature_id,
    tools: fromJson<string[]>(row.tools),
    scope: {
      type: scopeType,
      ids:
        scopeType === 'users'
          ? (targets?.userIds ?? [])
          : scopeType === 'groups'
            ? (targets?.groupIds ?? [])
            : [],
    },
    effect: row.effect as PolicyEffect,
    approval_steps: chain,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const normalisedName = (name: string | undefined) => nameAndKey(name, 'policy.name_blank');

function normalisedTools(tools: string[] | undefined): string[] {
  const trimmed = (tools ?? []).map((t) => t.trim());
  if (trimmed.some((t) => t === ''))
    throw badRequest('policy.tool_blank', "Tool names can't be blank");
  return [...new Set(trimmed)];
}

export function createPoliciesService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function requirePolicy(db: Executor, ctx: RequestContext, id: number): Promise<PolicyRow> {
    return requireInScope(ctx, await findPolicyById(db, ctx.workspaceId, id), () =>
      notFound('policy.not_found', 'Policy not found'),
    );
  }

  /** Policies with their scope targets and approver chains, fetched once for all rows. */
  async function presentAll(db: Executor, workspaceId: number, rows: PolicyRow[]) {
    const ids = rows.map((r) => r.id);
    const [targets, chains] = await Promise.all([targetsOf(db, ids), listPolicyChains(db, ids)]);
    const directory = await directoryFor(db, workspaceId, [...chains.values()].flat());
    return rows.map((row) =>
      toPolicy(
        row,
        targets.get(row.id),
        (chains.get(row.id) ?? []).map((step) => presentApprovers(step, directory)),
      ),
    );
  }

  async function present(db: Executor, row: PolicyRow): Promise<Policy> {
    const [policy] = await presentAll(db, row.workspace_id, [row]);
    if (policy === undefined) throw new Error('policy vanished');
    return policy;
  }

  /**
   * A chain as given: only on require_approval policies; every step names someone; collaborators
   * of the workspace; end-user groups of the policy's environment that carry the Admin role (the
   * role that lets their members decide in the console), never the implicit "Everyone" group.
   */
  async function resolveChain(
    db: Executor,
    ctx: RequestContext,
    steps: ApprovalStepBody[] | undefined,
    effect: string,
    environment: { id: number; type: string },
  ): Promise<ChainApprovers[] | undefined> {
    if (steps === undefined) return undefined;
    if (steps.length > 0 && effect !== 'require_approval') {
      throw badRequest(
        'policy.approval_steps_effect',
        'Only a require_approval policy takes approval_steps',
      );
    }
    const chain = steps.map((step) => ({
      member_ids: [...new Set(step.collaborator_ids ?? [])],
      group_ids: [...new Set(step.end_user_group_ids ?? [])],
    }));
    const empty = chain.findIndex((s) => s.member_ids.length + s.group_ids.length === 0);
    if (empty !== -1) {
      throw badRequest(
        'policy.approval_step_empty',
        `Approval step ${empty + 1} names no approver: give collaborator_ids or end_user_group_ids`,
      );
    }
    const memberIds = [...new Set(chain.flatMap((s) => s.member_ids))];
    const members = await findMembersByIds(db, ctx.workspaceId, memberIds);
    const unknownMembers = memberIds.filter((id) => !members.some((m) => m.id === id));
    if (unknownMembers.length > 0) {
      throw badRequest(
        'policy.approver_unknown',
        `Collaborators not found: ${unknownMembers.join(', ')}`,
      );
    }
    const groupIds = [...new Set(chain.flatMap((s) => s.group_ids))];
    const groups = await findGroupsByIds(db, ctx.workspaceId, groupIds);
    const unknownGroups = groupIds.filter((id) => !groups.some((g) => g.id === id));
    if (unknownGroups.length > 0) {
      throw badRequest(
        'policy.group_unknown',
        `End-user groups not found: ${unknownGroups.join(', ')}`,
      );
    }
    for (const group of groups) {
      if (group.environment_id !== environment.id) {
        throw badRequest(
          'policy.approver_group_environment',
          `Approver group ${group.name} is not in the ${environment.type.toUpperCase()} environment`,
        );
      }
      if (group.system === 1 || !fromJson<string[]>(group.roles).includes('Admin')) {
        throw badRequest(
          'policy.approver_group_role',
          `Approver group ${group.name} does not carry the Admin role: only Admin groups approve`,
        );
      }
    }
    return chain;
  }

  async function assertNameFree(
    db: Executor,
    ctx: RequestContext,
    environmentId: number,
    key: string,
    exceptId?: number,
  ) {
    const existing = await findPolicyByNameKey(db, ctx.workspaceId, environmentId, key);
    if (existing !== undefined && existing.id !== exceptId)
      throw badRequest('policy.name_taken', 'Name has already been taken in this environment');
  }

  /** The scope's targets: none for `all`; for users and groups, at least one, all known, groups of the policy's environment. */
  async function resolveScope(
    db: Executor,
    ctx: RequestContext,
    scope: Scope,
    environment: { id: number; type: string },
  ) {
    const ids = [...new Set(scope.ids ?? [])];
    if (scope.type === 'all') {
      if (ids.length > 0)
        throw badRequest('policy.scope_ids', 'A policy scoped to all users takes no ids');
      return { userIds: [], groupIds: [] };
    }
    if (ids.length === 0)
      throw badRequest(
        'policy.scope_empty',
        `A policy scoped to ${scope.type} needs at least one ID in scope.ids`,
      );
    if (scope.type === 'users') {
      const users = await findEndUsersByIds(db, ctx.workspaceId, ids);
      const missing = ids.filter((id) => !users.some((u) => u.id === id));
      if (missing.length > 0)
        throw badRequest('policy.user_unknown', `End users not found: ${missing.join(', ')}`);
      return { userIds: ids, groupIds: [] };
    }
    const groups = await findEndUserGroupsByIds(db, ctx.workspaceId, ids);
    const missing = ids.filter((id) => !groups.some((g) => g.id === id));
    if (missing.length > 0)
      throw badRequest('policy.group_unknown', `End-user groups not found: ${missing.join(', ')}`);
    const foreign = groups.filter((g) => g.environment_id !== environment.id);
    if (foreign.length > 0) {
      throw badRequest(
        'policy.group_environment',
        `A ${environment.type.toUpperCase()} policy can only name groups of its environment: ${foreign.map((g) => g.name).join(', ')}`,
      );
    }
    return { userIds: [], groupIds: ids };
  }

  return {
    async listPolicies(ctx: RequestContext, query: ListPoliciesQuery): Promise<Paged<Policy>> {
      const page = pageRequest(query);
      const environmentTypes = await environmentScope(deps.db, ctx, query.environment_type);
      const { rows, total } = await listPolicies(
        deps.db,
        ctx.workspaceId,
        { environmentTypes, featureId: query.feature_id, effect: query.effect },
        page,
      );
      return paged(await presentAll(deps.db, ctx.workspaceId, rows), total, page);
    },

    async getPolicy(ctx: RequestContext, id: number): Promise<Policy> {
      return present(deps.db, await requirePolicy(deps.db, ctx, id));
    },

    async createPolicy(ctx: RequestContext, body: CreatePolicyBody): Promise<Policy> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      const { name, key } = normalisedName(body.name);
      const tools = normalisedTools(body.tools);
      await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      const id = await deps.db.transaction().execute(async (trx) => {
        const feature = await findFeatureById(trx, ctx.workspaceId, body.feature_id);
        if (feature === undefined)
          throw badRequest('policy.feature_unknown', `Feature ${body.feature_id} not found`);
        if (feature.environment_id !== environment.id) {
          throw badRequest(
            'policy.feature_environment',
            `Feature ${feature.name} is in the ${feature.environment_type.toUpperCase()} environment, not ${environment.type.toUpperCase()}`,
          );
        }
        await assertNameFree(trx, ctx, environment.id, key);
        const targets = await resolveScope(trx, ctx, body.scope, environment);
        const chain = await resolveChain(trx, ctx, body.approval_steps, body.effect, environment);
        const row = await insertPolicy(trx, {
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          feature_id: feature.id,
          name,
          name_key: key,
          description: body.description ?? null,
          tools: toJson(tools),
          scope_type: body.scope.type,
          effect: body.effect,
          created_at: now(),
          updated_at: now(),
        });
        await replacePolicyTargets(trx, ctx.workspaceId, row.id, targets);
        if (chain !== undefined) await replacePolicyChain(trx, ctx.workspaceId, row.id, chain);
        await recordChange(trx, ctx, now(), 'policy.created', ['policy', row.id], {
          after: {
            name,
            environment_type: environment.type,
            feature_id: feature.id,
            tools,
            scope: { type: body.scope.type, ids: [...targets.userIds, ...targets.groupIds] },
            effect: body.effect,
            ...(chain === undefined || chain.length === 0 ? {} : { approval_steps: chain }),
          },
        });
        return row.id;
      });
      return present(deps.db, await requirePolicy(deps.db, ctx, id));
    },

    /** PUT and PATCH: what is given changes; a new scope replaces the old one whole. */
    async updatePolicy(ctx: RequestContext, id: number, body: UpdatePolicyBody): Promise<Policy> {
      await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      await deps.db.transaction().execute(async (trx) => {
        const policy = await requirePolicy(trx, ctx, id);
        const before = await present(trx, policy);
        const renamed = body.name === undefined ? undefined : normalisedName(body.name);
        if (renamed !== undefined)
          await assertNameFree(trx, ctx, policy.environment_id, renamed.key, id);
        const tools = body.tools === undefined ? undefined : normalisedTools(body.tools);
        if (body.scope !== undefined) {
          const targets = await resolveScope(trx, ctx, body.scope, {
            id: policy.environment_id,
            type: policy.environment_type,
          });
          await replacePolicyTargets(trx, ctx.workspaceId, id, targets);
        }
        const effect = body.effect ?? policy.effect;
        const environment = { id: policy.environment_id, type: policy.environment_type };
        const chain = await resolveChain(trx, ctx, body.approval_steps, effect, environment);
        if (chain !== undefined) await replacePolicyChain(trx, ctx.workspaceId, id, chain);
        // A policy that stops requiring approval has no approvers left to ask.
        else if (effect !== 'require_approval')
          await replacePolicyChain(trx, ctx.workspaceId, id, []);
        await updatePolicy(trx, id, {
          ...(renamed === undefined ? {} : { name: renamed.name, name_key: renamed.key }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(tools === undefined ? {} : { tools: toJson(tools) }),
          ...(body.scope === undefined ? {} : { scope_type: body.scope.type }),
          ...(body.effect === undefined ? {} : { effect: body.effect }),
          updated_at: now(),
        });
        const after = await present(trx, await requirePolicy(trx, ctx, id));
        await recordChange(trx, ctx, now(), 'policy.updated', ['policy', id], {
          before: {
            name: before.name,
            tools: before.tools,
            scope: before.scope,
            effect: before.effect,
            approval_steps: before.approval_steps,
          },
          after: {
            name: after.name,
            tools: after.tools,
            scope: after.scope,
            effect: after.effect,
            approval_steps: after.approval_steps,
          },
        });
      });
      return present(deps.db, await requirePolicy(deps.db, ctx, id));
    },

    async deletePolicy(ctx: RequestContext, id: number): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const policy = await requirePolicy(trx, ctx, id);
        const before = await present(trx, policy);
        await deletePolicy(trx, id);
        await recordChange(trx, ctx, now(), 'policy.deleted', ['policy', id], { before });
      });
    },
  };
}
export type PoliciesService = ReturnType<typeof createPoliciesService>;
