/**
 * Effective access for end users: may this user, in this environment, use this feature (and this
 * tool of it)? The rule, in order (docs/end-users.md):
 *
 *   1. a locked user is denied, whatever the policies say; an invited (not yet accepted) or
 *      deactivated user is denied too;
 *   2. a user without access to the environment is denied;
 *   3. any matching `deny` policy denies (deny beats everything below);
 *   4. any matching `require_approval` policy asks for approval, unless an approved request for
 *      the same user, feature and tool is waiting: it is used up and the call is allowed;
 *   5. a matching `allow` policy or a feature grant (direct, through a group, or through
 *      Everyone) allows;
 *   6. anything else is denied.
 *
 * A policy matches when its scope covers the user (all users; the user by ID; or a group the user
 * is in, Everyone included) and its tools are empty or include the tool of the call.
 */
import type { Decision, DecisionBody, DecisionReason, PolicyEffect } from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { fromJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import { ensureEveryoneGroups } from '../end-user-groups/end-user-groups.repository.js';
import {
  findEndUserByEmailKey,
  findEndUserById,
  listEnvironmentAccessRows,
  listMembershipsOfEndUser,
  type EndUserRow,
} from '../end-users/end-users.repository.js';
import { requireEnvironment } from '../end-users/end-users.service.js';
import { findFeatureById, listGrantsForUser } from '../features/features.repository.js';
import {
  findApprovalRequestFor,
  insertApprovalRequest,
  listPoliciesOfFeature,
  targetsOf,
  transitionApprovalRequest,
  type PolicyRow,
} from '../policies/policies.repository.js';

interface MatchedPolicy {
  policy: PolicyRow;
  /** The group through which the scope covers the user; null for all-users and user scopes. */
  group: { id: number; name: string } | null;
}

function policyReason(match: MatchedPolicy, user: EndUserRow): DecisionReason {
  const { policy, group } = match;
  const whom =
    policy.scope_type === 'all'
      ? 'all users'
      : group === null
        ? `${user.email} directly`
        : `${user.email} through group ${group.name}`;
  return {
    type: 'policy',
    message: `Policy "${policy.name}" (${policy.effect}) applies to ${whom}`,
    policy: { id: policy.id, name: policy.name, effect: policy.effect as PolicyEffect },
    ...(group === null ? {} : { group }),
  };
}

export function createEndUserDecisionsService(deps: { db: Db; clock: Clock }) {
  const now = () => isoNow(deps.clock);

  async function findUser(
    db: Executor,
    ctx: RequestContext,
    body: DecisionBody,
  ): Promise<EndUserRow> {
    const byId =
      body.end_user_id === undefined
        ? undefined
        : await findEndUserById(db, ctx.workspaceId, body.end_user_id);
    const byEmail =
      body.email === undefined
        ? undefined
        : await findEndUserByEmailKey(db, ctx.workspaceId, body.email.trim().toLowerCase());
    const user = byId ?? byEmail;
    if (user === undefined) throw notFound('end_user.not_found', 'End user not found');
    if (byId !== undefined && body.email !== undefined && byEmail?.id !== byId.id) {
      throw badRequest('decision.user_mismatch', 'end_user_id and email name different end users');
    }
    return user;
  }

  return {
    /** Answers allow, deny or require_approval with its reasons, and logs the decision on the user. */
    async decide(ctx: RequestContext, body: DecisionBody): Promise<Decision> {
      if (body.end_user_id === undefined && body.email === undefined) {
        throw badRequest('decision.user_missing', 'Give end_user_id or email');
      }
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      const everyone = (await ensureEveryoneGroups(deps.db, ctx.workspaceId, now())).get(
        environment.id,
      );
      const tool = body.tool ?? null;

      return deps.db.transaction().execute(async (trx) => {
        const user = await findUser(trx, ctx, body);
        const feature = await findFeatureById(trx, ctx.workspaceId, body.feature_id);
        if (feature === undefined) throw notFound('feature.not_found', 'Feature not found');
        if (feature.environment_id !== environment.id) {
          throw badRequest(
            'decision.feature_environment',
            `Feature ${feature.name} is in the ${feature.environment_type.toUpperCase()} environment, not ${environment.type.toUpperCase()}`,
          );
        }

        const decided = async (
          decision: PolicyEffect,
          reasons: DecisionReason[],
          approvalRequestId: number | null,
        ): Promise<Decision> => {
          await insertAuditEvent(trx, {
            workspaceId: ctx.workspaceId,
            actor: ctx.actor,
            action: 'end_user.decision',
            targetType: 'end_user',
            targetId: user.id,
            after: {
              environment_type: environment.type,
              feature_id: feature.id,
              tool,
              decision,
              approval_request_id: approvalRequestId,
            },
            createdAt: now(),
          });
          return { decision, reasons, approval_request_id: approvalRequestId };
        };

        if (user.status === 'locked') {
          return decided(
            'deny',
            [
              {
                type: 'locked',
                message: `${user.email} is locked: every call is denied until the user is unlocked`,
              },
            ],
            null,
          );
        }
        if (user.status !== 'active') {
          return decided(
            'deny',
            [
              {
                type: 'status',
                message: `${user.email} is ${user.status}: only active users get access`,
              },
            ],
            null,
          );
        }
        const access = await listEnvironmentAccessRows(trx, user.id);
        if (!access.some((a) => a.environment_id === environment.id)) {
          return decided(
            'deny',
            [
              {
                type: 'no_environment_access',
                message: `${user.email} has no access to the ${environment.type.toUpperCase()} environment`,
              },
            ],
            null,
          );
        }

        const groups = new Map<number, string>();
        if (everyone !== undefined) groups.set(everyone.id, everyone.name);
        for (const m of await listMembershipsOfEndUser(trx, user.id)) {
          if (m.environment_id === environment.id) groups.set(m.id, m.name);
        }

        const policies = await listPoliciesOfFeature(trx, ctx.workspaceId, feature.id);
        const targets = await targetsOf(
          trx,
          policies.map((p) => p.id),
        );
        const matches: MatchedPolicy[] = [];
        for (const policy of policies) {
          const tools = fromJson<string[]>(policy.tools);
          if (tools.length > 0 && (tool === null || !tools.includes(tool))) continue;
          const target = targets.get(policy.id) ?? { userIds: [], groupIds: [] };
          if (policy.scope_type === 'all') matches.push({ policy, group: null });
          else if (policy.scope_type === 'users' && target.userIds.includes(user.id))
            matches.push({ policy, group: null });
          else if (policy.scope_type === 'groups') {
            const groupId = target.groupIds.find((id) => groups.has(id));
            if (groupId !== undefined)
              matches.push({ policy, group: { id: groupId, name: groups.get(groupId) ?? '' } });
          }
        }
        const withEffect = (effect: PolicyEffect) =>
          matches.filter((m) => m.policy.effect === effect);

        const denies = withEffect('deny');
        if (denies.length > 0)
          return decided(
            'deny',
            denies.map((m) => policyReason(m, user)),
            null,
          );

        const approvals = withEffect('require_approval');
        if (approvals.length > 0) {
          const key = { endUserId: user.id, featureId: feature.id, tool: tool ?? '' };
          const approved = await findApprovalRequestFor(trx, key, 'approved');
          if (
            approved !== undefined &&
            (await transitionApprovalRequest(trx, approved.id, 'approved', {
              status: 'used',
              used_at: now(),
            }))
          ) {
            await insertAuditEvent(trx, {
              workspaceId: ctx.workspaceId,
              actor: ctx.actor,
              action: 'approval_request.used',
              targetType: 'approval_request',
              targetId: approved.id,
              before: { status: 'approved' },
              after: { status: 'used' },
              createdAt: now(),
            });
            return decided(
              'allow',
              [
                {
                  type: 'approval_request',
                  message: `Approval request ${approved.id} was approved; this decision uses it up`,
                  approval_request_id: approved.id,
                },
                ...approvals.map((m) => policyReason(m, user)),
              ],
              approved.id,
            );
          }
          // One open request per user, feature and tool: asking again does not pile up requests.
          let pending = await findApprovalRequestFor(trx, key, 'pending');
          if (pending === undefined) {
            pending = await insertApprovalRequest(trx, {
              workspace_id: ctx.workspaceId,
              end_user_id: user.id,
              environment_id: environment.id,
              feature_id: feature.id,
              tool: key.tool,
              policy_id: approvals[0]?.policy.id ?? null,
              status: 'pending',
              created_at: now(),
              decided_at: null,
              decided_by: null,
              used_at: null,
            });
            await insertAuditEvent(trx, {
              workspaceId: ctx.workspaceId,
              actor: ctx.actor,
              action: 'approval_request.created',
              targetType: 'approval_request',
              targetId: pending.id,
              after: {
                end_user_id: user.id,
                feature_id: feature.id,
                tool,
                policy_id: pending.policy_id,
              },
              createdAt: now(),
            });
          }
          return decided(
            'require_approval',
            [
              ...approvals.map((m) => policyReason(m, user)),
              {
                type: 'approval_request',
                message: `Approval request ${pending.id} awaits an approver`,
                approval_request_id: pending.id,
              },
            ],
            pending.id,
          );
        }

        const grants = (await listGrantsForUser(trx, user.id, [...groups.keys()])).filter(
          (g) => g.feature_id === feature.id,
        );
        const reasons: DecisionReason[] = [
          ...withEffect('allow').map((m) => policyReason(m, user)),
          ...grants.map((g) =>
            g.group_id === null
              ? {
                  type: 'feature_grant' as const,
                  message: `Feature "${feature.name}" is granted to ${user.email} directly`,
                  grant_id: g.id,
                }
              : {
                  type: 'feature_grant' as const,
                  message: `Feature "${feature.name}" is granted to group ${g.group_name ?? ''}`,
                  grant_id: g.id,
                  group: { id: g.group_id, name: g.group_name ?? '' },
                },
          ),
        ];
        if (reasons.length > 0) return decided('allow', reasons, null);
        return decided(
          'deny',
          [
            {
              type: 'no_access',
              message: `No policy or grant gives ${user.email} access to feature "${feature.name}"${tool === null ? '' : ` (tool ${tool})`}`,
            },
          ],
          null,
        );
      });
    },
  };
}
export type EndUserDecisionsService = ReturnType<typeof createEndUserDecisionsService>;
