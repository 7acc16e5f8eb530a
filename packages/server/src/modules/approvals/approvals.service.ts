/**
 * Approval requests, opened by require_approval decisions (decisions/end-user-decisions.ts, which
 * also says what a request in each state means for the next call), are listed, approved and
 * rejected here. A request whose policy has an approver chain is decided step by step: each step
 * by one of its own approvers, in order; all must approve, any may reject. Without a chain, any
 * caller who may write in the request's environment decides it in one call, as before chains.
 * Approvers are mailed when their step is reached, with a link to the console's inbox.
 */
import type {
  ApprovalRequest,
  ApprovalRequestStep,
  ApprovalScope,
  ApprovalStep,
  ApproveBody,
  ListApprovalRequestsQuery,
} from '@roster/contracts';
import { APPROVAL_WINDOW_MINUTES_MAX } from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireInScope } from '../environments/environments.service.js';
import { recordChange } from '../audit/audit.repository.js';
import {
  approvalStatus,
  decideRequestStep,
  findApprovalRequestById,
  findGroupsByIds,
  findMembersByIds,
  listApprovalRequests,
  listGroupApprovers,
  listRequestSteps,
  transitionApprovalRequest,
  type ApprovalRequestRow,
  type ChainApprovers,
  type RequestStepRow,
} from './approvals.repository.js';

/** What the service needs of the mailer (modules/mail), declared here so approvals import no module. */
export interface ApprovalMailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}

const missing = () => notFound('approval_request.not_found', 'Approval request not found');

/** Names for the approvers of a set of chains, fetched once per answer. */
export interface Directory {
  members: Map<number, { id: number; name: string; email: string }>;
  groups: Map<number, { id: number; name: string }>;
}

export async function directoryFor(
  db: Executor,
  workspaceId: number,
  chains: ChainApprovers[],
): Promise<Directory> {
  const memberIds = [...new Set(chains.flatMap((c) => c.member_ids))];
  const groupIds = [...new Set(chains.flatMap((c) => c.group_ids))];
  const [members, groups] = await Promise.all([
    findMembersByIds(db, workspaceId, memberIds),
    findGroupsByIds(db, workspaceId, groupIds),
  ]);
  return {
    members: new Map(members.map((m) => [m.id, m])),
    groups: new Map(groups.map((g) => [g.id, { id: g.id, name: g.name }])),
  };
}

/** A chain step's approvers with their names; a deleted approver drops out of the list. */
export function presentApprovers(chain: ChainApprovers, directory: Directory): ApprovalStep {
  return {
    collaborators: chain.member_ids.flatMap((id) => {
      const member = directory.members.get(id);
      return member === undefined ? [] : [member];
    }),
    end_user_groups: chain.group_ids.flatMap((id) => {
      const group = directory.groups.get(id);
      return group === undefined ? [] : [group];
    }),
  };
}

function presentStep(step: RequestStepRow, directory: Directory): ApprovalRequestStep {
  return {
    position: step.position,
    status: step.status as ApprovalRequestStep['status'],
    approvers: presentApprovers(step.chain, directory),
    decided_at: step.decided_at,
    decided_by:
      step.decided_by_type === null
        ? null
        : {
            type: step.decided_by_type,
            id: step.decided_by_id ?? '',
            name: step.decided_by_name ?? '',
          },
    scope: step.scope as ApprovalScope | null,
    minutes: step.minutes,
  };
}

export function toApprovalRequest(
  row: ApprovalRequestRow,
  steps: RequestStepRow[],
  directory: Directory,
  now: string,
): ApprovalRequest {
  const status = approvalStatus(row, now) as ApprovalRequest['status'];
  const current = status === 'pending' ? steps.find((s) => s.status === 'pending') : undefined;
  return {
    id: row.id,
    status,
    end_user: { id: row.end_user_id, name: row.user_name, email: row.user_email },
    environment_type: row.environment_type,
    feature: {
      id: row.feature_id,
      name: row.feature_name,
      kind: row.feature_kind,
      environment_type: row.environment_type,
    },
    tool: row.tool === '' ? null : row.tool,
    policy_id: row.policy_id,
    created_at: row.created_at,
    decided_at: row.decided_at,
    decided_by: row.decided_by,
    used_at: row.used_at,
    expires_at: row.expires_at ?? row.created_at,
    scope: row.scope as ApprovalScope | null,
    window_ends_at: row.window_ends_at,
    steps: steps.map((s) => presentStep(s, directory)),
    current_step: current?.position ?? null,
  };
}

/** The approval a body asks for, or a 400 saying what is wrong with it. */
function approvalOf(body: ApproveBody | undefined): {
  scope: ApprovalScope;
  minutes: number | null;
} {
  const scope = body?.scope ?? (body?.minutes === undefined ? 'once' : undefined);
  if (scope === undefined || (scope === 'window' && body?.minutes === undefined)) {
    throw badRequest(
      'approval_request.minutes',
      `An approval for a time window needs "scope": "window" and "minutes" (1 to ${APPROVAL_WINDOW_MINUTES_MAX})`,
    );
  }
  if (scope === 'once' && body?.minutes !== undefined) {
    throw badRequest(
      'approval_request.minutes',
      'An approval for one call takes no minutes: send "scope": "window" for a time window',
    );
  }
  return { scope, minutes: scope === 'window' ? (body?.minutes ?? null) : null };
}

/**
 * What a chain grants: the narrowest of its steps' approvals, so no later step widens what an
 * earlier one agreed to (one call is narrower than any window; a shorter window than a longer).
 */
function narrowest(approvals: { scope: ApprovalScope; minutes: number | null }[]): {
  scope: ApprovalScope;
  minutes: number | null;
} {
  if (approvals.some((a) => a.scope === 'once')) return { scope: 'once', minutes: null };
  const minutes = Math.min(...approvals.map((a) => a.minutes ?? APPROVAL_WINDOW_MINUTES_MAX));
  return { scope: 'window', minutes };
}

const actorString = (ctx: RequestContext) =>
  ctx.actor.id === null ? ctx.actor.type : `${ctx.actor.type}:${ctx.actor.id}`;

export function createApprovalsService(deps: {
  db: Db;
  clock: Clock;
  mailer: ApprovalMailer;
  /** For the link in approvers' mail: `${publicUrl}/approvals?request=N`. */
  publicUrl: string;
  /** Failures to mail are logged, never thrown: a decision or an approval does not wait on SMTP. */
  log: (message: string, error: unknown) => void;
}) {
  const now = () => isoNow(deps.clock);

  async function present(db: Executor, workspaceId: number, rows: ApprovalRequestRow[]) {
    const steps = await listRequestSteps(
      db,
      rows.map((r) => r.id),
    );
    const directory = await directoryFor(
      db,
      workspaceId,
      [...steps.values()].flat().map((s) => s.chain),
    );
    const at = now();
    return rows.map((row) => toApprovalRequest(row, steps.get(row.id) ?? [], directory, at));
  }

  /** Whether the caller is one of a step's approvers now. */
  async function isApprover(db: Executor, ctx: RequestContext, chain: ChainApprovers) {
    if (ctx.actor.type === 'member' && ctx.actor.id !== null) {
      return chain.member_ids.includes(Number(ctx.actor.id));
    }
    if (ctx.actor.type === 'end_user' && ctx.actor.id !== null) {
      const approvers = await listGroupApprovers(db, ctx.workspaceId, chain.group_ids);
      return approvers.some((a) => a.id === Number(ctx.actor.id));
    }
    return false;
  }

  function describeApprovers(approvers: ApprovalStep): string {
    const names = [
      ...approvers.collaborators.map((c) => c.name),
      ...approvers.end_user_groups.map((g) => `Admins of the "${g.name}" group`),
    ];
    return names.length === 0 ? 'nobody (every approver was deleted)' : names.join(', ');
  }

  /**
   * The people to mail for a step: its collaborators, and the members of its Admin groups except
   * the requester (who may not decide their own request).
   */
  async function recipientsOf(
    db: Executor,
    workspaceId: number,
    chain: ChainApprovers,
    requesterId: number,
  ) {
    const [members, endUsers] = await Promise.all([
      findMembersByIds(db, workspaceId, chain.member_ids),
      listGroupApprovers(db, workspaceId, chain.group_ids),
    ]);
    const approvers = [...members, ...endUsers.filter((u) => u.id !== requesterId)];
    return [...new Set(approvers.map((p) => p.email))];
  }

  /** Mails the approvers of the step that decides next. Never throws. */
  async function notifyNextStep(workspaceId: number, requestId: number): Promise<void> {
    try {
      const row = await findApprovalRequestById(deps.db, workspaceId, requestId);
      if (row === undefined || approvalStatus(row, now()) !== 'pending') return;
      const steps = (await listRequestSteps(deps.db, [requestId])).get(requestId) ?? [];
      const step = steps.find((s) => s.status === 'pending');
      if (step === undefined) return;
      const link = `${deps.publicUrl.replace(/\/$/, '')}/approvals?request=${requestId}`;
      const what = `${row.feature_name}${row.tool === '' ? '' : ` (tool ${row.tool})`}`;
      for (const to of await recipientsOf(deps.db, workspaceId, step.chain, row.end_user_id)) {
        await deps.mailer.send({
          to,
          subject: `Approval needed: ${row.user_name} wants to use ${what}`,
          text: [
            `${row.user_name} <${row.user_email}> asks to use ${what} in ${row.environment_type.toUpperCase()}.`,
            `You approve step ${step.position} of ${steps.length} of approval request ${requestId}.`,
            `The request expires at ${row.expires_at ?? ''} unless it is decided.`,
            '',
            `Approve or reject it in the console: ${link}`,
          ].join('\n'),
        });
      }
    } catch (error) {
      deps.log(`Could not mail the approvers of approval request ${requestId}`, error);
    }
  }

  async function decide(
    ctx: RequestContext,
    id: number,
    verdict: { status: 'approved'; body: ApproveBody | undefined } | { status: 'rejected' },
  ): Promise<ApprovalRequest> {
    const approval = verdict.status === 'approved' ? approvalOf(verdict.body) : undefined;
    const { result, advanced } = await deps.db.transaction().execute(async (trx) => {
      const at = now();
      const request = requireInScope(
        ctx,
        await findApprovalRequestById(trx, ctx.workspaceId, id),
        missing,
      );
      const state = approvalStatus(request, at);
      if (state === 'expired') {
        throw badRequest(
          'approval_request.expired',
          `Approval request ${id} expired at ${request.expires_at ?? ''}: the next call opens a new one`,
        );
      }
      if (state !== 'pending') {
        throw badRequest(
          'approval_request.not_pending',
          `The approval request is already ${state}`,
        );
      }
      const steps = (await listRequestSteps(trx, [id])).get(id) ?? [];
      let final: { scope: ApprovalScope; minutes: number | null } | 'rejected' | undefined;
      // An end user in an Admin group may approve others' requests, never their own.
      if (ctx.actor.type === 'end_user' && Number(ctx.actor.id) === request.end_user_id) {
        throw forbidden(
          'approval_request.own_request',
          'Nobody approves or rejects their own approval request',
        );
      }
      if (steps.length === 0) {
        final = approval ?? 'rejected';
      } else {
        const open = steps.filter((s) => s.status === 'pending');
        const current = open[0];
        if (current === undefined) throw new Error('pending request without a pending step');
        // Approvals go in order; a rejection may come from any step still to decide.
        const candidates = verdict.status === 'approved' ? [current] : open;
        let step: RequestStepRow | undefined;
        for (const candidate of candidates) {
          if (await isApprover(trx, ctx, candidate.chain)) {
            step = candidate;
            break;
          }
        }
        if (step === undefined) {
          const directory = await directoryFor(trx, ctx.workspaceId, [current.chain]);
          const later = verdict.status === 'approved' && open.slice(1).length > 0;
          const laterApprover =
            later &&
            (await Promise.all(open.slice(1).map((s) => isApprover(trx, ctx, s.chain)))).some(
              Boolean,
            );
          throw forbidden(
            'approval_request.not_approver',
            laterApprover
              ? `Step ${current.position} of approval request ${id} must approve first; it is decided by ${describeApprovers(presentApprovers(current.chain, directory))}`
              : `Step ${current.position} of approval request ${id} is decided by ${describeApprovers(presentApprovers(current.chain, directory))}: you are not one of its approvers`,
          );
        }
        const decided = await decideRequestStep(trx, step.id, {
          status: verdict.status,
          decided_at: at,
          decided_by_type: ctx.actor.type,
          decided_by_id: ctx.actor.id ?? ctx.actor.type,
          decided_by_name: ctx.actor.name ?? ctx.actor.type,
          scope: approval?.scope ?? null,
          minutes: approval?.minutes ?? null,
        });
        if (!decided)
          throw badRequest('approval_request.step_decided', 'This step is already decided');
        await recordChange(
          trx,
          ctx,
          at,
          `approval_request.step_${verdict.status}`,
          ['approval_request', id],
          { after: { step: step.position, of: steps.length, ...(approval ?? {}) } },
        );
        if (verdict.status === 'rejected') final = 'rejected';
        else if (open.length === 1) {
          final = narrowest([
            ...steps
              .filter((s) => s.status === 'approved')
              .map((s) => ({ scope: (s.scope ?? 'once') as ApprovalScope, minutes: s.minutes })),
            approval ?? { scope: 'once', minutes: null },
          ]);
        }
      }
      if (final !== undefined) {
        const status = final === 'rejected' ? 'rejected' : 'approved';
        const moved = await transitionApprovalRequest(trx, id, 'pending', {
          status,
          decided_at: at,
          decided_by: actorString(ctx),
          ...(final === 'rejected'
            ? {}
            : {
                scope: final.scope,
                window_ends_at:
                  final.minutes === null
                    ? null
                    : new Date(Date.parse(at) + final.minutes * 60_000).toISOString(),
              }),
        });
        if (!moved) {
          throw badRequest(
            'approval_request.not_pending',
            'The approval request is already decided',
          );
        }
        await recordChange(trx, ctx, at, `approval_request.${status}`, ['approval_request', id], {
          before: { status: 'pending' },
          after: {
            status,
            end_user_id: request.end_user_id,
            feature_id: request.feature_id,
            tool: request.tool === '' ? null : request.tool,
            ...(final === 'rejected' ? {} : final),
          },
        });
      }
      const fresh = await findApprovalRequestById(trx, ctx.workspaceId, id);
      if (fresh === undefined) throw new Error('approval request vanished');
      const [presented] = await present(trx, ctx.workspaceId, [fresh]);
      if (presented === undefined) throw new Error('approval request vanished');
      return { result: presented, advanced: final === undefined };
    });
    // The next step's approvers hear of it once this step's decision is committed.
    if (advanced) void notifyNextStep(ctx.workspaceId, id);
    return result;
  }

  /** Pending requests the caller may decide now: a step of theirs is next, or there is no chain. */
  async function awaitingMe(ctx: RequestContext, rows: ApprovalRequestRow[]) {
    const at = now();
    const open = rows.filter((r) => approvalStatus(r, at) === 'pending');
    const steps = await listRequestSteps(
      deps.db,
      open.map((r) => r.id),
    );
    const mine: ApprovalRequestRow[] = [];
    for (const row of open) {
      const current = (steps.get(row.id) ?? []).find((s) => s.status === 'pending');
      if (current === undefined) {
        // No chain: whoever may write in the environment decides (end users never their own).
        if (!(ctx.actor.type === 'end_user' && Number(ctx.actor.id) === row.end_user_id))
          mine.push(row);
      } else if (
        !(ctx.actor.type === 'end_user' && Number(ctx.actor.id) === row.end_user_id) &&
        (await isApprover(deps.db, ctx, current.chain))
      ) {
        mine.push(row);
      }
    }
    return mine;
  }

  return {
    async listApprovalRequests(
      ctx: RequestContext,
      query: ListApprovalRequestsQuery,
    ): Promise<Paged<ApprovalRequest>> {
      const page = pageRequest(query);
      const filter = {
        environmentTypes: [...ctx.scope.environmentTypes],
        endUserId: query.end_user_id,
        featureId: query.feature_id,
        status: query.status,
        now: now(),
      };
      if (query.awaiting === 'me') {
        // The inbox is filtered by who the caller is, which SQL cannot see (chains are copied as
        // JSON): read the pending requests of the caller's environments, newest first, bounded.
        const { rows } = await listApprovalRequests(
          deps.db,
          ctx.workspaceId,
          { ...filter, status: 'pending' },
          { size: INBOX_SCAN_MAX, offset: 0, number: 1 },
        );
        const mine = await awaitingMe(ctx, rows);
        const slice = mine.slice(page.offset, page.offset + page.size);
        return paged(await present(deps.db, ctx.workspaceId, slice), mine.length, page);
      }
      const { rows, total } = await listApprovalRequests(deps.db, ctx.workspaceId, filter, page);
      return paged(await present(deps.db, ctx.workspaceId, rows), total, page);
    },

    async getApprovalRequest(ctx: RequestContext, id: number): Promise<ApprovalRequest> {
      const row = requireInScope(
        ctx,
        await findApprovalRequestById(deps.db, ctx.workspaceId, id),
        missing,
      );
      const [presented] = await present(deps.db, ctx.workspaceId, [row]);
      if (presented === undefined) throw missing();
      return presented;
    },

    approve: (ctx: RequestContext, id: number, body?: ApproveBody) =>
      decide(ctx, id, { status: 'approved', body }),
    reject: (ctx: RequestContext, id: number) => decide(ctx, id, { status: 'rejected' }),

    /** Mails the first step's approvers of a request a decision just opened (never throws). */
    notifyOpened: (workspaceId: number, requestId: number) =>
      notifyNextStep(workspaceId, requestId),
  };
}
export type ApprovalsService = ReturnType<typeof createApprovalsService>;

/** How many pending requests the inbox looks through. */
const INBOX_SCAN_MAX = 1000;
