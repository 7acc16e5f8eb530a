/**
 * Effective access for end users: may this user, in this environment, use this feature (and this
 * tool of it)? The rule, in order (docs/end-users.md):
 *
 *   1. a locked user is denied, whatever the policies say; an invited (not yet accepted) or
 *      deactivated user is denied too;
 *   2. a user without access to the environment is denied;
 *   3. any matching `deny` policy denies (deny beats everything below);
 *   4. any matching `require_approval` policy asks for approval, in this order for the same user,
 *      feature and tool: an approval window open now allows the call; an approval for one call
 *      is used up and allows it; a rejection not yet reported denies it, naming the request (the
 *      next call asks again); otherwise the open request is named, or, when there is none or it
 *      has expired, a new one opens (with the first matching policy's approver chain);
 *   5. a matching `allow` policy or a feature grant (direct, through a group, or through
 *      Everyone) allows;
 *   6. anything else is denied.
 *
 * A policy matches when its scope covers the user (all users; the user by ID; or a group the user
 * is in, Everyone included) and its tools are empty or include the tool of the call.
 */
import type { Decision, DecisionBody, DecisionReason, PolicyEffect } from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { findDecisionRecord, recordChange } from '../audit/audit.repository.js';
import { environmentNotFound } from '../environments/environments.service.js';
import {
  approvalStatus,
  findOnceApprovalFor,
  findOpenWindowFor,
  findPendingRequestFor,
  findUnreportedRejectionFor,
  insertApprovalRequest,
  insertRequestSteps,
  listPolicyChains,
  markRejectionReported,
  transitionApprovalRequest,
} from '../approvals/approvals.repository.js';
import type { AccessIndex } from './access-index.js';
import {
  evaluateEndUser,
  policyReason,
  type EndUserEntry,
  type EndUserSlice,
  type FeatureEntry,
} from './end-user-index.js';

/** The subject of an end-user question, by ID or email (both must name the same user). */
export function resolveEndUser(
  slice: EndUserSlice,
  subject: { end_user_id?: number | undefined; email?: string | undefined },
): EndUserEntry {
  const byId = subject.end_user_id === undefined ? undefined : slice.users.get(subject.end_user_id);
  const byEmail =
    subject.email === undefined
      ? undefined
      : slice.usersByEmail.get(subject.email.trim().toLowerCase());
  const user = byId ?? byEmail;
  if (user === undefined) throw notFound('end_user.not_found', 'End user not found');
  if (byId !== undefined && subject.email !== undefined && byEmail !== byId) {
    throw badRequest('decision.user_mismatch', 'end_user_id and email name different end users');
  }
  return user;
}

/** The environment, user and feature of a question, with the API's errors in the API's order. */
export function resolveEndUserQuestion(
  slice: EndUserSlice,
  environments: Map<string, { id: number; type: string }>,
  ctx: RequestContext,
  question: {
    end_user_id?: number | undefined;
    email?: string | undefined;
    environment_type: string;
    feature_id: number;
  },
): { environment: { id: number; type: string }; user: EndUserEntry; feature: FeatureEntry } {
  const environment = environments.get(question.environment_type);
  if (environment === undefined) throw environmentNotFound(question.environment_type);
  requireEnvironmentAccess(ctx, environment.type);
  const user = resolveEndUser(slice, question);
  const feature = slice.features.get(question.feature_id);
  if (feature === undefined) throw notFound('feature.not_found', 'Feature not found');
  if (feature.environmentId !== environment.id) {
    const featureEnvironment = [...environments.values()].find(
      (e) => e.id === feature.environmentId,
    );
    throw badRequest(
      'decision.feature_environment',
      `Feature ${feature.name} is in the ${(featureEnvironment?.type ?? '').toUpperCase()} environment, not ${environment.type.toUpperCase()}`,
    );
  }
  return { environment, user, feature };
}

/** ", by api_client:1" from a request's `decided_by`, for a decision's reason. */
function approverPhrase(decidedBy: string | null): string {
  return decidedBy === null ? '' : ` by ${decidedBy}`;
}

/**
 * Thrown out of a decision's transaction when its name was recorded already (a forwarded
 * decision the home recorded, then answered too late): everything it wrote is rolled back.
 */
class AlreadyRecorded extends Error {
  constructor() {
    super('decision already recorded');
  }
}

/** What a decision's audit event keeps of its answer. */
interface RecordedDecision {
  decision: PolicyEffect;
  approval_request_id: number | null;
}

export function createEndUserDecisionsService(deps: {
  db: Db;
  clock: Clock;
  index: AccessIndex;
  /** How long a new approval request waits for its approvers (ROSTER_APPROVAL_TTL_MINUTES). */
  approvalTtlMinutes: number;
  /** Told after commit of each request a decision opens (app.ts mails its approvers). */
  onApprovalOpened?: (workspaceId: number, requestId: number) => void;
}) {
  const now = () => isoNow(deps.clock);

  return {
    /**
     * Answers allow, deny or require_approval with its reasons, and logs the decision on the user.
     * The rule runs on the in-memory index; the database is written only for the decision's
     * activity entry and, under require_approval, to use up or open an approval request (in one
     * transaction, so an approval is used once).
     *
     * With `dryRun` the same question is answered from the same rule and the same approval state,
     * and nothing is written: no audit event (so no dashboard count), no approval opened or used.
     *
     * `decisionId` names a forwarded decision (modules/cluster/routing.ts): it is recorded, with
     * its approval effects, at most once — the home instance and the instance that forwarded it
     * (answering itself after the forward timed out) may both decide it. The second answers what
     * the first recorded and writes nothing.
     */
    async decide(
      ctx: RequestContext,
      body: DecisionBody,
      dryRun = false,
      decisionId?: string,
    ): Promise<Decision> {
      if (body.end_user_id === undefined && body.email === undefined) {
        throw badRequest('decision.user_missing', 'Give end_user_id or email');
      }
      await deps.index.readyEndUsers(ctx.workspaceId);
      const slice = deps.index.endUsers(ctx.workspaceId);
      const ws = deps.index.workspace(ctx.workspaceId);
      if (slice === undefined || ws === undefined) {
        throw new AppError(503, 'access.index_unavailable', 'The access index is not ready');
      }
      const { environment, user, feature } = resolveEndUserQuestion(
        slice,
        ws.environmentsByType,
        ctx,
        {
          ...body,
          environment_type: body.environment_type,
        },
      );
      const tool = body.tool ?? null;
      const outcome = evaluateEndUser(slice, user, environment, feature, tool);

      // The request this decision opened, if any: its approvers are told once it is committed.
      let opened: number | undefined;
      // One path for both: a dry run reads the same approval state and skips every write.
      const run = async (db: Executor, write: boolean): Promise<Decision> => {
        const decided = async (
          decision: PolicyEffect,
          reasons: DecisionReason[],
          approvalRequestId: number | null,
        ): Promise<Decision> => {
          if (!write) {
            return { decision, reasons, approval_request_id: approvalRequestId, dry_run: true };
          }
          const recorded = await recordChange(
            db,
            ctx,
            now(),
            'end_user.decision',
            ['end_user', user.id],
            {
              // From the index: a decision is the hot path, so no lookup of the name.
              targetName: user.name,
              after: {
                environment_type: environment.type,
                feature_id: feature.id,
                tool,
                decision,
                approval_request_id: approvalRequestId,
              },
              ...(decisionId === undefined ? {} : { decisionId }),
            },
          );
          if (!recorded) throw new AlreadyRecorded();
          return { decision, reasons, approval_request_id: approvalRequestId };
        };

        if (outcome.kind === 'allow') return decided('allow', outcome.reasons, null);
        if (outcome.kind !== 'require_approval') return decided('deny', outcome.reasons, null);

        const approvals = outcome.approvals;
        const policyReasons = approvals.map((m) => policyReason(m, user));
        const key = { endUserId: user.id, featureId: feature.id, tool: tool ?? '' };
        const at = now();

        // 4a. An approval window open now allows every matching call until it ends.
        const window = await findOpenWindowFor(db, key, at);
        if (window !== undefined) {
          return decided(
            'allow',
            [
              {
                type: 'approval_request',
                message: `Approval request ${window.id} was approved${approverPhrase(window.decided_by)} for calls until ${window.window_ends_at ?? ''}`,
                approval_request_id: window.id,
              },
              ...policyReasons,
            ],
            window.id,
          );
        }

        // 4b. An approval for one call is used up by this one (once: the transition is the guard).
        const approved = await findOnceApprovalFor(db, key);
        const usedUp =
          approved !== undefined &&
          (!write ||
            (await transitionApprovalRequest(db, approved.id, 'approved', {
              status: 'used',
              used_at: at,
            })));
        if (approved !== undefined && usedUp) {
          if (write) {
            await recordChange(
              db,
              ctx,
              at,
              'approval_request.used',
              ['approval_request', approved.id],
              {
                before: { status: 'approved' },
                after: { status: 'used' },
              },
            );
          }
          return decided(
            'allow',
            [
              {
                type: 'approval_request',
                message: write
                  ? `Approval request ${approved.id} was approved; this decision uses it up`
                  : `Approval request ${approved.id} was approved; a real decision would use it up`,
                approval_request_id: approved.id,
              },
              ...policyReasons,
            ],
            approved.id,
          );
        }

        // 4c. A rejection is reported to the next call, once; the call after asks again.
        const rejected = await findUnreportedRejectionFor(db, key);
        if (
          rejected !== undefined &&
          (!write || (await markRejectionReported(db, rejected.id, at)))
        ) {
          return decided(
            'deny',
            [
              {
                type: 'approval_request',
                message: `Approval request ${rejected.id} was rejected${approverPhrase(rejected.decided_by)}`,
                approval_request_id: rejected.id,
              },
              ...policyReasons,
            ],
            rejected.id,
          );
        }

        // 4d. One open request per user, feature and tool: asking again does not pile up requests.
        // A pending request past its expiry is closed here, and a fresh one opens.
        let pending = await findPendingRequestFor(db, key);
        let expired: number | undefined;
        if (pending !== undefined && approvalStatus(pending, at) === 'expired') {
          expired = pending.id;
          if (
            write &&
            (await transitionApprovalRequest(db, pending.id, 'pending', { status: 'expired' }))
          ) {
            await recordChange(
              db,
              ctx,
              at,
              'approval_request.expired',
              ['approval_request', pending.id],
              {
                before: { status: 'pending' },
                after: { status: 'expired', expires_at: pending.expires_at },
              },
            );
          }
          // A concurrent decision may have expired it first and opened the fresh one: use that.
          pending = write ? await findPendingRequestFor(db, key) : undefined;
        }
        if (pending === undefined && write) {
          const policyId = approvals[0]?.policy.id ?? null;
          pending = await insertApprovalRequest(db, {
            workspace_id: ctx.workspaceId,
            end_user_id: user.id,
            environment_id: environment.id,
            feature_id: feature.id,
            tool: key.tool,
            policy_id: policyId,
            status: 'pending',
            created_at: at,
            decided_at: null,
            decided_by: null,
            used_at: null,
            expires_at: new Date(Date.parse(at) + deps.approvalTtlMinutes * 60_000).toISOString(),
          });
          // The chain as the policy has it now: later edits of the policy do not move a request.
          const chain =
            policyId === null ? [] : ((await listPolicyChains(db, [policyId])).get(policyId) ?? []);
          await insertRequestSteps(db, ctx.workspaceId, pending.id, chain);
          opened = pending.id;
          await recordChange(
            db,
            ctx,
            at,
            'approval_request.created',
            ['approval_request', pending.id],
            {
              after: {
                end_user_id: user.id,
                feature_id: feature.id,
                tool,
                policy_id: pending.policy_id,
                expires_at: pending.expires_at,
                steps: chain.length,
              },
            },
          );
        }
        const expiredReason: DecisionReason[] =
          expired === undefined
            ? []
            : [
                {
                  type: 'approval_request',
                  message: `Approval request ${expired} expired unanswered`,
                  approval_request_id: expired,
                },
              ];
        return decided(
          'require_approval',
          [
            ...policyReasons,
            ...expiredReason,
            pending === undefined
              ? {
                  type: 'approval_request',
                  message: 'No approval request is open; a real decision would open one',
                }
              : {
                  type: 'approval_request',
                  message: `Approval request ${pending.id} awaits an approver`,
                  approval_request_id: pending.id,
                },
          ],
          pending?.id ?? null,
        );
      };
      if (dryRun) return run(deps.db, false);
      let decision: Decision;
      try {
        decision = await deps.db.transaction().execute((trx) => run(trx, true));
      } catch (error) {
        if (!(error instanceof AlreadyRecorded) || decisionId === undefined) throw error;
        return answerRecorded(decisionId, await run(deps.db, false));
      }
      if (opened !== undefined) deps.onApprovalOpened?.(ctx.workspaceId, opened);
      return decision;

      /**
       * The answer of the decision recorded first, with the reasons the rule gives now when they
       * lead to the same effect; when the recorded decision changed the approval state (used up
       * an approval, reported a rejection, opened a request) they no longer do, and the reason
       * names the request.
       */
      async function answerRecorded(name: string, current: Decision): Promise<Decision> {
        const recorded = (await findDecisionRecord(deps.db, ctx.workspaceId, name)) as
          RecordedDecision | undefined;
        // Names are random UUIDs: one recorded in another workspace is a forged or broken hop.
        if (recorded === undefined)
          throw new AppError(409, 'decision.name_taken', 'This decision’s name is already taken');
        const { decision: effect, approval_request_id: requestId } = recorded;
        const reasons: DecisionReason[] =
          current.decision === effect || requestId === null
            ? current.reasons
            : [
                {
                  type: 'approval_request',
                  message: `Approval request ${requestId}: this decision (${effect}) was recorded by the workspace's home instance`,
                  approval_request_id: requestId,
                },
              ];
        return { decision: effect, reasons, approval_request_id: requestId };
      }
    },
  };
}
export type EndUserDecisionsService = ReturnType<typeof createEndUserDecisionsService>;
