/**
 * Collaborator invitations: one per email and workspace per cooldown, mailed with a single-use
 * link that expires after 7 days. Until accepted, the invitee is a `MemberInvitation` member of
 * the groups named in the invitation; accepting turns those memberships into the new member's.
 */
import {
  NO_ACCESS_ROLE,
  type AcceptInvitationBody,
  type CreateInvitationBody,
  type Invitation,
  type ListInvitationsQuery,
  type Member,
} from '@roster/contracts';
import { sql } from 'kysely';
import type { Db, Executor, Row } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import {
  mapRead,
  readAlone,
  readTogether,
  rowsRead,
  runTogether,
  type PlannedRead,
} from '../../storage/pipeline.js';
import { prepared } from '../../storage/prepared.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, gone, notFound, tooManyRequests } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import { likeContains, paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireDevAccess } from '../../lib/scope.js';
import {
  insertAuditEvent,
  insertAuditEventWith,
  recordChange,
  recordChangeWith,
  type AuditEntry,
} from '../audit/audit.repository.js';
import type { ChangeTracker } from '../../lib/change-tracking.js';
import { planGroupsByIds } from '../groups/groups.repository.js';
import {
  planMemberByEmailKey,
  setMemberEnvironmentRolesStatement,
} from '../members/members.repository.js';
import { presentMembers } from '../members/members.service.js';
import { planEnvRolesWithNoAccessDefaults } from '../roles/roles.service.js';
import { findWorkspaceById } from '../workspaces/workspaces.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';
import type { Mailer } from '../mail/mailer.js';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** What an invitation stores of its roles: IDs to apply on acceptance, names to show. */
interface StoredEnvRole {
  environment_id: number;
  environment_type: string;
  role_type: 'privilege_group' | 'environment';
  name: string;
  legacy_role_id: number | null;
  environment_role_id: number | null;
}

export interface InvitationsConfig {
  publicUrl: string;
  cooldownSeconds: number;
}

function statusOf(row: Row<'member_invitations'>, now: string): Invitation['status'] {
  if (row.status === 'pending' && row.expires_at <= now) return 'expired';
  return row.status as Invitation['status'];
}

// The statements of an invitation and its acceptance, compiled once per database
// (storage/prepared.ts): the mixed load invites and accepts continuously.
const latestInvitationSince = prepared(
  (db, p: { workspaceId: number; emailKey: string; since: string }) =>
    db
      .selectFrom('member_invitations')
      .select(['id', 'status', 'created_at', 'expires_at'])
      .where('workspace_id', '=', p.workspaceId)
      .where('email_key', '=', p.emailKey)
      .where('created_at', '>', p.since)
      .orderBy('created_at', 'desc'),
);
const invitationByTokenHash = prepared((db, p: { tokenHash: string }) =>
  db.selectFrom('member_invitations').selectAll().where('token_hash', '=', p.tokenHash),
);
/** A new invitation supersedes any pending one for the same email. */
const revokePending = prepared((db, p: { workspaceId: number; emailKey: string }) =>
  db
    .updateTable('member_invitations')
    .set({ status: 'revoked' })
    .where('workspace_id', '=', p.workspaceId)
    .where('email_key', '=', p.emailKey)
    .where('status', '=', 'pending'),
);
const insertInvitation = prepared(
  (
    db,
    p: {
      workspaceId: number;
      name: string;
      email: string;
      emailKey: string;
      tokenHash: string;
      envRoles: string;
      invitedBy: string;
      createdAt: string;
      expiresAt: string;
    },
  ) =>
    db
      .insertInto('member_invitations')
      .values({
        workspace_id: p.workspaceId,
        name: p.name,
        email: p.email,
        email_key: p.emailKey,
        token_hash: p.tokenHash,
        env_roles: p.envRoles,
        status: 'pending',
        invited_by: p.invitedBy,
        created_at: p.createdAt,
        expires_at: p.expiresAt,
        accepted_at: null,
        member_id: null,
      })
      .returningAll(),
);
/** Of two concurrent acceptances only one updates the row. */
const claimInvitation = prepared((db, p: { id: number; acceptedAt: string }) =>
  db
    .updateTable('member_invitations')
    .set({ status: 'accepted', accepted_at: p.acceptedAt })
    .where('id', '=', p.id)
    .where('status', '=', 'pending'),
);
const moveMemberships = prepared((db, p: { memberId: number; invitationId: number }) =>
  db
    .updateTable('group_memberships')
    .set({ member_id: p.memberId, invitation_id: null })
    .where('invitation_id', '=', p.invitationId),
);
const linkMember = prepared((db, p: { memberId: number; id: number }) =>
  db.updateTable('member_invitations').set({ member_id: p.memberId }).where('id', '=', p.id),
);

export function createInvitationsService(deps: {
  db: Db;
  clock: Clock;
  mailer: Mailer;
  config: InvitationsConfig;
}) {
  const now = () => isoNow(deps.clock);

  /**
   * `knownMemberships`: the rows' group memberships when the caller has just written them (an
   * invitation created by this request), so they are not read back: one statement fewer.
   */
  async function present(
    db: Executor,
    rows: Row<'member_invitations'>[],
    knownMemberships?: { invitation_id: number | null; group_id: string }[],
  ): Promise<Invitation[]> {
    const ids = rows.map((r) => r.id);
    const memberships =
      knownMemberships ??
      (ids.length === 0
        ? []
        : await db
            .selectFrom('group_memberships')
            .select(['invitation_id', 'group_id'])
            .where('invitation_id', 'in', ids)
            .execute());
    const at = now();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      email: row.email,
      status: statusOf(row, at),
      env_roles: fromJson<StoredEnvRole[]>(row.env_roles).map((r) => ({
        environment_type: r.environment_type,
        name: r.name,
        role_type: r.role_type,
      })),
      user_group_ids: memberships.filter((m) => m.invitation_id === row.id).map((m) => m.group_id),
      created_at: row.created_at,
      expires_at: row.expires_at,
      accepted_at: row.accepted_at,
      member_id: row.member_id,
    }));
  }

  function acceptUrl(token: string): string {
    return `${deps.config.publicUrl.replace(/\/+$/, '')}/invitations/${token}`;
  }

  async function mailInvitation(
    workspaceId: number,
    invitation: { name: string; email: string },
    token: string,
  ) {
    const workspace = await findWorkspaceById(deps.db, workspaceId);
    const workspaceName = workspace?.name ?? 'a Roster workspace';
    await deps.mailer.send({
      to: invitation.email,
      subject: `You are invited to ${workspaceName}`,
      text: [
        `Hello ${invitation.name},`,
        '',
        `You have been invited to collaborate in ${workspaceName}.`,
        `Accept the invitation within 7 days: ${acceptUrl(token)}`,
        '',
        'If you did not expect this invitation, you can ignore this message.',
      ].join('\n'),
    });
  }

  /** The reference API allows one invitation per email and workspace per cooldown period. */
  function assertCooldownOver(
    db: Executor,
    workspaceId: number,
    emailKey: string,
    attempt: 'invite' | 'resend',
  ): Promise<void> {
    return readAlone(db, planCooldownCheck(db, workspaceId, emailKey, attempt));
  }

  /** assertCooldownOver as a read to send with others (storage/pipeline.ts, readTogether). */
  function planCooldownCheck(
    db: Executor,
    workspaceId: number,
    emailKey: string,
    attempt: 'invite' | 'resend',
  ): PlannedRead<void> {
    const since = new Date(
      deps.clock.now().getTime() - deps.config.cooldownSeconds * 1000,
    ).toISOString();
    return {
      statements: [latestInvitationSince.compile(db, { workspaceId, emailKey, since })],
      finish([result]) {
        const recent = result?.rows[0] as
          { id: number; status: string; created_at: string; expires_at: string } | undefined;
        if (recent === undefined) return;
        const retryAfter =
          (new Date(recent.created_at).getTime() +
            deps.config.cooldownSeconds * 1000 -
            deps.clock.now().getTime()) /
          1000;
        const minutes = Math.round(deps.config.cooldownSeconds / 60);
        const pending = recent.status === 'pending' && recent.expires_at > now();
        // Inviting someone whose invitation is still pending is not a new invitation: saying only
        // "once every 20 minutes" sent people looking for a rate limit instead of the Resend button.
        const message =
          attempt === 'invite' && pending
            ? `${emailKey} is already invited to this workspace (invitation ${recent.id} is pending): resend it instead; an invitation can be sent once every ${minutes} minutes`
            : attempt === 'resend'
              ? `The invitation to ${emailKey} was sent less than ${minutes} minutes ago; an invitation can be sent once every ${minutes} minutes`
              : `You can invite ${emailKey} to this workspace once every ${minutes} minutes`;
        throw tooManyRequests('invitation.cooldown', message, retryAfter);
      },
    };
  }

  async function issueToken(trx: Executor, invitationId: number): Promise<string> {
    const token = newSecret('inv');
    await trx
      .updateTable('member_invitations')
      .set({
        token_hash: hashSecret(token),
        expires_at: new Date(deps.clock.now().getTime() + INVITATION_TTL_MS).toISOString(),
      })
      .where('id', '=', invitationId)
      .execute();
    return token;
  }

  async function requireInvitation(ctx: RequestContext, id: number) {
    const row = await deps.db
      .selectFrom('member_invitations')
      .selectAll()
      .where('workspace_id', '=', ctx.workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) throw notFound('invitation.not_found');
    return row;
  }

  async function findByToken(db: Executor, token: string) {
    const row = await invitationByTokenHash.takeFirst(db, { tokenHash: hashSecret(token) });
    if (row === undefined) throw notFound('invitation.not_found', 'Invitation not found');
    if (row.status === 'accepted')
      throw gone('invitation.used', 'This invitation has already been accepted');
    if (row.status === 'revoked')
      throw gone('invitation.revoked', 'This invitation has been revoked');
    if (row.expires_at <= now()) throw gone('invitation.expired', 'This invitation has expired');
    return row;
  }

  return {
    async invite(ctx: RequestContext, body: CreateInvitationBody): Promise<Invitation> {
      requireDevAccess(ctx);
      const email = body.email.trim();
      const emailKey = email.toLowerCase();
      const name = body.name.trim();
      if (name === '') throw badRequest('invitation.name_blank', "Name can't be blank");
      const assignments =
        body.env_roles ??
        (body.role_name === undefined
          ? undefined
          : [{ environment_type: 'dev', name: body.role_name }]);
      if (assignments === undefined)
        throw badRequest('invitation.env_roles_blank', "env_roles can't be blank");

      const { invitation, token } = await deps.db.transaction().execute(async (trx) => {
        const groupIds = [...new Set(body.user_group_ids ?? [])];
        // Four independent reads in one round trip, each refusal in the order they had when the
        // reads ran in turn: an existing collaborator, then an unknown role, an unknown group, the
        // cooldown.
        const [, resolved, groups] = await readTogether(trx, [
          mapRead(planMemberByEmailKey(trx, ctx.workspaceId, emailKey), (member) => {
            if (member !== undefined)
              throw badRequest(
                'invitation.member_exists',
                `${email} is already a collaborator in this workspace`,
              );
          }),
          planEnvRolesWithNoAccessDefaults(trx, ctx.workspaceId, assignments),
          mapRead(planGroupsByIds(trx, ctx.workspaceId, groupIds), (found) => {
            const missing = groupIds.find((id) => !found.some((g) => g.id === id));
            if (missing !== undefined)
              throw badRequest('invitation.group_unknown', `User group ${missing} not found`);
            return found;
          }),
          planCooldownCheck(trx, ctx.workspaceId, emailKey, 'invite'),
        ]);
        const stored: StoredEnvRole[] = resolved.map((r) => ({
          environment_id: r.environment.id,
          environment_type: r.environment.type,
          role_type: r.roleType,
          name: r.roleName,
          legacy_role_id: r.legacyRoleId,
          environment_role_id: r.environmentRoleId,
        }));
        const issued = newSecret('inv');
        // A new invitation supersedes any pending one for the same email: the revocation and
        // the insert in one round trip (storage/pipeline.ts), in that order.
        const [, inserted] = await runTogether(trx, [
          revokePending.compile(trx, { workspaceId: ctx.workspaceId, emailKey }),
          insertInvitation.compile(trx, {
            workspaceId: ctx.workspaceId,
            name,
            email,
            emailKey,
            tokenHash: hashSecret(issued),
            envRoles: toJson(stored),
            invitedBy: ctx.actor.id === null ? ctx.actor.type : `${ctx.actor.type}:${ctx.actor.id}`,
            createdAt: now(),
            expiresAt: new Date(deps.clock.now().getTime() + INVITATION_TTL_MS).toISOString(),
          }),
        ]);
        const row = inserted?.rows[0] as Row<'member_invitations'> | undefined;
        if (row === undefined) throw new Error('the invitation insert returned no row');
        const explicitGroups = groups.filter((g) => g.system === 0);
        // The invitation's groups and its event in one round trip.
        await recordChangeWith(
          trx,
          explicitGroups.length === 0
            ? []
            : [
                trx
                  .insertInto('group_memberships')
                  .values(
                    explicitGroups.map((g) => ({
                      workspace_id: ctx.workspaceId,
                      group_id: g.id,
                      member_id: null,
                      invitation_id: row.id,
                      created_at: now(),
                      expires_at: null,
                    })),
                  )
                  .compile(),
              ],
          ctx,
          now(),
          'member_invitation.created',
          ['member_invitation', row.id],
          {
            after: {
              name,
              email,
              env_roles: stored.map((r) => ({
                environment_type: r.environment_type,
                name: r.name,
              })),
              user_group_ids: groupIds,
            },
          },
        );
        const [presented] = await present(
          trx,
          [row],
          explicitGroups.map((g) => ({ invitation_id: row.id, group_id: g.id })),
        );
        return { invitation: presented, token: issued };
      });
      if (invitation === undefined) throw new Error('invitation vanished');
      await mailInvitation(ctx.workspaceId, invitation, token);
      return invitation;
    },

    async listInvitations(
      ctx: RequestContext,
      query: ListInvitationsQuery,
    ): Promise<Paged<Invitation>> {
      requireDevAccess(ctx);
      const page = pageRequest(query);
      let base = deps.db
        .selectFrom('member_invitations')
        .where('workspace_id', '=', ctx.workspaceId);
      const at = now();
      if (query.status === 'pending')
        base = base.where('status', '=', 'pending').where('expires_at', '>', at);
      else if (query.status === 'expired')
        base = base.where('status', '=', 'pending').where('expires_at', '<=', at);
      else if (query.status !== undefined) base = base.where('status', '=', query.status);
      if (query.email !== undefined && query.email !== '') {
        base = base.where(sql<boolean>`email_key like ${likeContains(query.email)} escape '\\'`);
      }
      const [rows, count] = await Promise.all([
        base
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(page.size)
          .offset(page.offset)
          .execute(),
        base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return paged(await present(deps.db, rows), Number(count.n), page);
    },

    async getInvitation(ctx: RequestContext, id: number): Promise<Invitation> {
      requireDevAccess(ctx);
      const [presented] = await present(deps.db, [await requireInvitation(ctx, id)]);
      if (presented === undefined) throw notFound('invitation.not_found');
      return presented;
    },

    async revokeInvitation(ctx: RequestContext, id: number): Promise<void> {
      requireDevAccess(ctx);
      const row = await requireInvitation(ctx, id);
      if (row.status !== 'pending')
        throw badRequest('invitation.not_pending', `The invitation is already ${row.status}`);
      await deps.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('member_invitations')
          .set({ status: 'revoked' })
          .where('id', '=', id)
          .execute();
        await trx.deleteFrom('group_memberships').where('invitation_id', '=', id).execute();
        await recordChange(
          trx,
          ctx,
          now(),
          'member_invitation.revoked',
          ['member_invitation', id],
          { before: { email: row.email } },
        );
      });
    },

    /** Mails a fresh link (the old one stops working), subject to the same cooldown. */
    async resendInvitation(ctx: RequestContext, id: number): Promise<void> {
      requireDevAccess(ctx);
      const row = await requireInvitation(ctx, id);
      if (row.status !== 'pending')
        throw badRequest('invitation.not_pending', `The invitation is already ${row.status}`);
      const token = await deps.db.transaction().execute(async (trx) => {
        await assertCooldownOver(trx, ctx.workspaceId, row.email_key, 'resend');
        await trx
          .updateTable('member_invitations')
          .set({ created_at: now() })
          .where('id', '=', id)
          .execute();
        const issued = await issueToken(trx, id);
        await recordChange(trx, ctx, now(), 'member_invitation.resent', ['member_invitation', id]);
        return issued;
      });
      await mailInvitation(ctx.workspaceId, row, token);
    },

    async previewInvitation(token: string) {
      const row = await findByToken(deps.db, token);
      const workspace = await findWorkspaceById(deps.db, row.workspace_id);
      return {
        name: row.name,
        email: row.email,
        workspace: { id: row.workspace_id, name: workspace?.name ?? '' },
        expires_at: row.expires_at,
      };
    },

    /**
     * Creates the collaborator from the invitation; the link works once. `onAccepted` runs in the
     * same transaction (the console's acceptance page sets the new collaborator's password there).
     */
    async acceptInvitation(
      token: string,
      body: AcceptInvitationBody,
      onAccepted?: (trx: Executor, member: Row<'members'>) => Promise<void>,
      /** The request's (lib/change-tracking.ts): it answers once the access index has the member. */
      changes?: ChangeTracker,
    ): Promise<Member> {
      const { workspaceId, row } = await deps.db.transaction().execute(async (trx) => {
        const invitation = await findByToken(trx, token);
        const stored = fromJson<StoredEnvRole[]>(invitation.env_roles);
        // Roles deleted since the invitation was sent fall back to No access. Which of the stored
        // roles still exist and the "No access" role: one statement per kind of role (there were
        // four, the environments read twice).
        const storedLegacyIds = stored.flatMap((r) =>
          r.legacy_role_id === null ? [] : [r.legacy_role_id],
        );
        const storedEnvironmentRoleIds = stored.flatMap((r) =>
          r.legacy_role_id === null && r.environment_role_id !== null
            ? [r.environment_role_id]
            : [],
        );
        const noAccessKey = NO_ACCESS_ROLE.toLowerCase();
        // The claim, the check for a collaborator with the email and the roles in one round trip,
        // refused in that order. Claimed first: of two concurrent acceptances only one updates
        // the row (on PostgreSQL the other waits for its lock, then updates nothing).
        const [, , legacyRoles, environmentRoleIds] = await readTogether(trx, [
          {
            statements: [claimInvitation.compile(trx, { id: invitation.id, acceptedAt: now() })],
            finish([claimed]) {
              if (Number(claimed?.numAffectedRows ?? 0) !== 1)
                throw gone('invitation.used', 'This invitation has already been accepted');
            },
          },
          mapRead(
            planMemberByEmailKey(trx, invitation.workspace_id, invitation.email_key),
            (existing) => {
              if (existing !== undefined)
                throw new AppError(
                  409,
                  'invitation.member_exists',
                  `${invitation.email} is already a collaborator in this workspace`,
                );
            },
          ),
          rowsRead<{ id: number; name_key: string }>(
            trx
              .selectFrom('legacy_roles')
              .select(['id', 'name_key'])
              .where('workspace_id', '=', invitation.workspace_id)
              .where((eb) =>
                storedLegacyIds.length === 0
                  ? eb('name_key', '=', noAccessKey)
                  : eb.or([eb('name_key', '=', noAccessKey), eb('id', 'in', storedLegacyIds)]),
              )
              .compile(),
          ),
          rowsRead<{ id: number }>(
            storedEnvironmentRoleIds.length === 0
              ? undefined
              : trx
                  .selectFrom('environment_roles')
                  .select('id')
                  .where('workspace_id', '=', invitation.workspace_id)
                  .where('id', 'in', storedEnvironmentRoleIds)
                  .compile(),
          ),
        ]);
        const name = (body.name ?? invitation.name).trim();
        if (name === '') throw badRequest('invitation.name_blank', "Name can't be blank");
        const member = await trx
          .insertInto('members')
          .values({
            workspace_id: invitation.workspace_id,
            name,
            email: invitation.email,
            email_key: invitation.email_key,
            external_id: null,
            time_zone: body.time_zone ?? 'UTC',
            grant_type: 'team',
            avatar_url: null,
            created_at: now(),
            updated_at: now(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const environments = await listEnvironments(trx, invitation.workspace_id);
        const noAccessId = legacyRoles.find((r) => r.name_key === noAccessKey)?.id;
        if (noAccessId === undefined)
          throw new Error(`workspace ${invitation.workspace_id} has no "No access" role`);
        const roles = environments.map((environment) => {
          const wanted = stored.find((r) => r.environment_id === environment.id);
          const stillExists =
            wanted !== undefined &&
            (wanted.legacy_role_id !== null
              ? legacyRoles.some((r) => r.id === wanted.legacy_role_id)
              : environmentRoleIds.some((r) => r.id === wanted.environment_role_id));
          if (wanted !== undefined && stillExists) {
            return {
              environmentId: environment.id,
              roleType: wanted.role_type,
              legacyRoleId: wanted.legacy_role_id,
              environmentRoleId: wanted.environment_role_id,
            };
          }
          return {
            environmentId: environment.id,
            roleType: 'privilege_group',
            legacyRoleId: noAccessId,
            environmentRoleId: null,
          };
        });
        // The member's roles, its groups (the invitation's), the invitation's link to it and the
        // event in one round trip (storage/pipeline.ts); what onAccepted writes comes before the
        // event, in a round trip of its own.
        const settingRoles = setMemberEnvironmentRolesStatement(
          trx,
          invitation.workspace_id,
          member.id,
          roles,
        );
        const writes = [
          ...(settingRoles === undefined ? [] : [settingRoles]),
          moveMemberships.compile(trx, { memberId: member.id, invitationId: invitation.id }),
          linkMember.compile(trx, { memberId: member.id, id: invitation.id }),
        ];
        const joined: AuditEntry = {
          workspaceId: invitation.workspace_id,
          actor: { type: 'member', id: String(member.id), name: member.name },
          action: 'member_joined',
          targetType: 'member',
          targetId: member.id,
          after: { name: member.name, email: member.email, invitation_id: invitation.id },
          createdAt: now(),
          changes,
        };
        if (onAccepted === undefined) await insertAuditEventWith(trx, writes, joined);
        else {
          await runTogether(trx, writes);
          await onAccepted(trx, member);
          await insertAuditEvent(trx, joined);
        }
        // The row as inserted: nothing in the transaction changes it after (onAccepted writes
        // the credential), so it is not read again once committed.
        return { workspaceId: invitation.workspace_id, row: member };
      });
      const [member] = await presentMembers(deps.db, workspaceId, [row], now());
      if (member === undefined) throw new Error('member vanished');
      return member;
    },
  };
}
export type InvitationsService = ReturnType<typeof createInvitationsService>;
