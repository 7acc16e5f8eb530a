/**
 * The end-user directory: the people who use what the workspace builds (assistants, chat apps,
 * MCP servers, the apps portal). Users are created by hand, by portal invitation (mailed link),
 * or later by SSO and SCIM. Each has a status, environments it may access, and memberships of
 * end-user groups; what it may do is answered by decisions/end-user-decisions.ts.
 *
 * Scope: a client may only give or take access to environments in its own scope; directory-wide
 * operations (list, get, edit, lock, delete) need a client of the workspace.
 */
import type {
  CreateEndUserBody,
  EndUser,
  EndUserDetail,
  EndUserStatus,
  InviteEndUserBody,
  ListEndUsersQuery,
  SetEnvironmentAccessBody,
  UpdateEndUserBody,
} from '@roster/contracts';
import type { Db, Executor, Row } from '../../storage/database.js';
import { fromFlag, toFlag } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, gone, notFound } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { insertAuditEvent, recordChange } from '../audit/audit.repository.js';
import type { ChangeTracker } from '../../lib/change-tracking.js';
import type { Mailer } from '../mail/mailer.js';
import { findWorkspaceById } from '../workspaces/workspaces.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { requireEnvironment } from '../environments/environments.service.js';
import { inEveryone } from '../memberships/everyone.js';
import { provisionEndUser } from './end-users.provision.js';
import {
  countExplicitMembers,
  deleteGroupMembers,
  ensureEveryoneGroups,
  findEndUserGroupsByIds,
  insertGroupMembers,
  listMembershipsOfEndUser,
} from '../memberships/memberships.repository.js';
import {
  deleteEndUser,
  deleteEnvironmentAccess,
  environmentTypesOf,
  findEndUserById,
  findEndUserByEmailKey,
  findEndUserInvitationByTokenHash,
  insertEndUserInvitation,
  insertEnvironmentAccess,
  listEndUsers,
  listEnvironmentAccessRows,
  listRecentActivity,
  updateEndUser,
  type EndUserRow,
} from './end-users.repository.js';

const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const RECENT_ACTIVITY_LIMIT = 20;

export function toEndUser(row: EndUserRow, environmentTypes: string[]): EndUser {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    avatar_url: row.avatar_url,
    external_id: row.external_id,
    status: row.status as EndUserStatus,
    mfa_enabled: fromFlag(row.mfa_enabled),
    source: row.source as EndUser['source'],
    environment_types: environmentTypes,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export async function presentEndUsers(db: Executor, rows: EndUserRow[]): Promise<EndUser[]> {
  const environments = await environmentTypesOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((row) => toEndUser(row, environments.get(row.id) ?? []));
}

function normalisedName(name: string | undefined): string {
  const trimmed = (name ?? '').trim();
  if (trimmed === '') throw badRequest('end_user.name_blank', "Name can't be blank");
  return trimmed;
}

/** One feature grant that reaches a user, directly (`group_id` null) or through a group. */
export interface UserFeatureGrant {
  group_id: number | null;
  group_name: string | null;
  feature_id: number;
  feature_name: string;
  feature_kind: string;
  environment_id: number;
  environment_type: string;
}

/**
 * What the directory needs of feature grants. Features sit above end users (a grant names users
 * and groups), so features implement this (features.service.ts) and app.ts passes it in, rather
 * than end users importing features.
 */
export interface FeatureGrantsOfUser {
  /** Every grant reaching the user: direct ones and those of the given groups. */
  listForUser(db: Executor, endUserId: number, groupIds: number[]): Promise<UserFeatureGrant[]>;
  /** Removes the user's direct grants on features of one environment; answers their feature IDs. */
  revokeDirectInEnvironment(
    db: Executor,
    endUserId: number,
    environmentId: number,
  ): Promise<number[]>;
}

export function createEndUsersService(deps: {
  db: Db;
  clock: Clock;
  mailer: Mailer;
  config: { publicUrl: string };
  featureGrants: FeatureGrantsOfUser;
}) {
  const now = () => isoNow(deps.clock);

  async function requireEndUser(
    db: Executor,
    ctx: RequestContext,
    id: number,
  ): Promise<EndUserRow> {
    const row = await findEndUserById(db, ctx.workspaceId, id);
    if (row === undefined) throw notFound('end_user.not_found', 'End user not found');
    return row;
  }

  async function present(db: Executor, row: EndUserRow): Promise<EndUser> {
    const [user] = await presentEndUsers(db, [row]);
    if (user === undefined) throw new Error('end user vanished');
    return user;
  }

  /** Environments named in a request: known to the workspace and in the caller's scope. */
  async function resolveEnvironments(
    ctx: RequestContext,
    types: string[],
  ): Promise<Row<'environments'>[]> {
    const unique = [...new Set(types)];
    const environments: Row<'environments'>[] = [];
    for (const type of unique) {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, type);
      requireEnvironmentAccess(ctx, type);
      environments.push(environment);
    }
    return environments;
  }

  /** Explicit groups named in a request: they exist, are not system groups, and are in the user's environments. */
  async function resolveGroups(
    db: Executor,
    ctx: RequestContext,
    ids: number[],
    environmentIds: Set<number>,
  ) {
    const unique = [...new Set(ids)];
    const groups = await findEndUserGroupsByIds(db, ctx.workspaceId, unique);
    const missing = unique.filter((id) => !groups.some((g) => g.id === id));
    if (missing.length > 0)
      throw badRequest(
        'end_user.group_unknown',
        `End-user groups not found: ${missing.join(', ')}`,
      );
    for (const group of groups) {
      if (fromFlag(group.system)) {
        throw badRequest(
          'end_user.group_system',
          `${group.name} holds every user with access to its environment; its members can’t be changed`,
        );
      }
      if (!environmentIds.has(group.environment_id)) {
        throw badRequest(
          'end_user.group_environment',
          `Group ${group.name} is in the ${group.environment_type.toUpperCase()} environment, which the user has no access to`,
        );
      }
    }
    return groups;
  }

  async function assertEmailFree(
    db: Executor,
    ctx: RequestContext,
    emailKey: string,
    email: string,
  ) {
    if ((await findEndUserByEmailKey(db, ctx.workspaceId, emailKey)) !== undefined) {
      throw badRequest(
        'end_user.email_taken',
        `Email has already been taken: ${email} is already an end user in this workspace`,
      );
    }
  }

  async function setStatus(
    ctx: RequestContext,
    id: number,
    from: EndUserStatus,
    to: EndUserStatus,
    action: string,
    message: (status: string) => string,
  ) {
    return deps.db.transaction().execute(async (trx) => {
      const row = await requireEndUser(trx, ctx, id);
      if (row.status !== from) throw badRequest(`end_user.not_${from}`, message(row.status));
      await updateEndUser(trx, id, { status: to, updated_at: now() });
      await recordChange(trx, ctx, now(), action, ['end_user', id], {
        before: { status: from },
        after: { status: to },
      });
      return present(trx, await requireEndUser(trx, ctx, id));
    });
  }

  return {
    async listEndUsers(ctx: RequestContext, query: ListEndUsersQuery): Promise<Paged<EndUser>> {
      const page = pageRequest(query);
      const environment =
        query.environment_type === undefined
          ? undefined
          : await requireEnvironment(deps.db, ctx.workspaceId, query.environment_type);
      const { rows, total } = await listEndUsers(
        deps.db,
        ctx.workspaceId,
        {
          email: query.email,
          status: query.status,
          environmentId: environment?.id,
          sort: query.sort,
          direction: query.direction,
        },
        page,
      );
      return paged(await presentEndUsers(deps.db, rows), total, page);
    },

    /** The user with its groups (Everyone included), how it reaches each feature, and recent activity. */
    async getEndUser(ctx: RequestContext, id: number): Promise<EndUserDetail> {
      const row = await requireEndUser(deps.db, ctx, id);
      const everyone = await ensureEveryoneGroups(deps.db, ctx.workspaceId, now());
      const [user, access, memberships, activity] = await Promise.all([
        present(deps.db, row),
        listEnvironmentAccessRows(deps.db, id),
        listMembershipsOfEndUser(deps.db, id),
        listRecentActivity(deps.db, ctx.workspaceId, id, RECENT_ACTIVITY_LIMIT),
      ]);
      const accessible = new Set(access.map((a) => a.environment_id));
      const systemGroups = access.flatMap((a) => {
        const group = everyone.get(a.environment_id);
        return group === undefined || !inEveryone(row, true)
          ? []
          : [{ group, environmentType: a.type, joinedAt: a.created_at }];
      });
      const groups = [
        ...systemGroups.map((s) => ({
          id: s.group.id,
          name: s.group.name,
          environment_type: s.environmentType,
          system: true,
          joined_at: s.joinedAt,
        })),
        ...memberships.map((m) => ({
          id: m.id,
          name: m.name,
          environment_type: m.environment_type,
          system: false,
          joined_at: m.joined_at,
        })),
      ];
      const grants = await deps.featureGrants.listForUser(
        deps.db,
        id,
        groups.map((g) => g.id),
      );
      return {
        ...user,
        groups,
        feature_access: grants
          .filter((g) => accessible.has(g.environment_id))
          .map((g) => ({
            feature: {
              id: g.feature_id,
              name: g.feature_name,
              kind: g.feature_kind,
              environment_type: g.environment_type,
            },
            via: g.group_id === null ? ('direct' as const) : ('group' as const),
            group: g.group_id === null ? null : { id: g.group_id, name: g.group_name ?? '' },
          })),
        recent_activity: activity.map((a) => ({
          id: a.id,
          action: a.action,
          actor: { type: a.actor_type, id: a.actor_id, name: a.actor_name },
          created_at: a.created_at,
        })),
      };
    },

    async createEndUser(ctx: RequestContext, body: CreateEndUserBody): Promise<EndUser> {
      const name = normalisedName(body.name);
      const email = body.email.trim();
      const emailKey = email.toLowerCase();
      const environments = await resolveEnvironments(ctx, body.environment_types ?? []);
      return deps.db.transaction().execute(async (trx) => {
        await assertEmailFree(trx, ctx, emailKey, email);
        const row = await provisionEndUser(trx, {
          workspaceId: ctx.workspaceId,
          name,
          email,
          avatarUrl: body.avatar_url,
          externalId: body.external_id,
          status: 'active',
          mfaEnabled: body.mfa_enabled,
          source: 'manual',
          environmentIds: environments.map((e) => e.id),
          now: now(),
        });
        await recordChange(trx, ctx, now(), 'end_user.created', ['end_user', row.id], {
          after: {
            name,
            email,
            source: 'manual',
            environment_types: environments.map((e) => e.type),
          },
        });
        return present(trx, row);
      });
    },

    /** Changes what is given; `end_user_group_ids` replaces the user's explicit groups. */
    async updateEndUser(
      ctx: RequestContext,
      id: number,
      body: UpdateEndUserBody,
    ): Promise<EndUser> {
      return deps.db.transaction().execute(async (trx) => {
        const row = await requireEndUser(trx, ctx, id);
        const changes = {
          ...(body.name === undefined ? {} : { name: normalisedName(body.name) }),
          ...(body.avatar_url === undefined ? {} : { avatar_url: body.avatar_url }),
          ...(body.external_id === undefined ? {} : { external_id: body.external_id }),
          ...(body.mfa_enabled === undefined ? {} : { mfa_enabled: toFlag(body.mfa_enabled) }),
        };
        let groupChange: { added: number[]; removed: number[] } | undefined;
        if (body.end_user_group_ids !== undefined) {
          const access = await listEnvironmentAccessRows(trx, id);
          const wanted = await resolveGroups(
            trx,
            ctx,
            body.end_user_group_ids,
            new Set(access.map((a) => a.environment_id)),
          );
          const current = await listMembershipsOfEndUser(trx, id);
          const wantedIds = new Set(wanted.map((g) => g.id));
          const removed = current.filter((m) => !wantedIds.has(m.id));
          const added = wanted.filter((g) => !current.some((m) => m.id === g.id));
          for (const group of removed) {
            requireEnvironmentAccess(ctx, group.environment_type);
            if ((await countExplicitMembers(trx, group.id)) <= 1) {
              throw badRequest(
                'end_user_group.last_member',
                `${row.email} is the last member of group ${group.name}; an end-user group must have at least one member. Add another member first or delete the group.`,
              );
            }
            await deleteGroupMembers(trx, group.id, [id]);
          }
          for (const group of added) {
            requireEnvironmentAccess(ctx, group.environment_type);
            await insertGroupMembers(trx, ctx.workspaceId, group.id, [id], now());
          }
          groupChange = { added: added.map((g) => g.id), removed: removed.map((g) => g.id) };
        }
        await updateEndUser(trx, id, { ...changes, updated_at: now() });
        await recordChange(trx, ctx, now(), 'end_user.updated', ['end_user', id], {
          before: {
            name: row.name,
            avatar_url: row.avatar_url,
            external_id: row.external_id,
            mfa_enabled: fromFlag(row.mfa_enabled),
          },
          after: {
            ...changes,
            ...(changes.mfa_enabled === undefined ? {} : { mfa_enabled: body.mfa_enabled }),
            groups: groupChange,
          },
        });
        return present(trx, await requireEndUser(trx, ctx, id));
      });
    },

    /**
     * Deletes the user: its environments, memberships, grants, policy targets and approval
     * requests go with it (foreign keys cascade), so it loses all access at once. Groups it was
     * the last member of stay, empty: a deletion is never refused for that.
     */
    async deleteEndUser(ctx: RequestContext, id: number): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const row = await requireEndUser(trx, ctx, id);
        const [user] = await presentEndUsers(trx, [row]);
        const memberships = await listMembershipsOfEndUser(trx, id);
        await deleteEndUser(trx, id);
        await recordChange(trx, ctx, now(), 'end_user.deleted', ['end_user', id], {
          before: { ...user, group_ids: memberships.map((m) => m.id) },
        });
      });
    },

    /**
     * Grants or revokes one environment. Revoking needs `confirm: true` (the spec's confirmation
     * screen) and takes the user out of that environment's groups and direct feature grants, so
     * granting it again later does not silently bring old access back. Policies that name the
     * user stay: a deny policy must still hold if access is granted again.
     */
    async setEnvironmentAccess(
      ctx: RequestContext,
      id: number,
      body: SetEnvironmentAccessBody,
    ): Promise<EndUser> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      if (!body.access && body.confirm !== true) {
        throw badRequest(
          'end_user.revoke_unconfirmed',
          `Revoking access to the ${environment.type.toUpperCase()} environment removes the user from its groups and feature grants: send "confirm": true to revoke`,
        );
      }
      return deps.db.transaction().execute(async (trx) => {
        const row = await requireEndUser(trx, ctx, id);
        const access = await listEnvironmentAccessRows(trx, id);
        const has = access.some((a) => a.environment_id === environment.id);
        if (body.access && !has) {
          await insertEnvironmentAccess(trx, ctx.workspaceId, id, [environment.id], now());
          await recordChange(trx, ctx, now(), 'end_user.environment_granted', ['end_user', id], {
            after: { environment_type: environment.type },
          });
        } else if (!body.access && has) {
          const memberships = (await listMembershipsOfEndUser(trx, id)).filter(
            (m) => m.environment_id === environment.id,
          );
          for (const m of memberships) await deleteGroupMembers(trx, m.id, [id]);
          const featureIds = await deps.featureGrants.revokeDirectInEnvironment(
            trx,
            id,
            environment.id,
          );
          await deleteEnvironmentAccess(trx, id, environment.id);
          await recordChange(trx, ctx, now(), 'end_user.environment_revoked', ['end_user', id], {
            before: {
              environment_type: environment.type,
              group_ids: memberships.map((m) => m.id),
              feature_ids: featureIds,
            },
          });
        }
        return present(trx, row);
      });
    },

    /** Locked users are denied on their next decision; memberships stay for the investigation. */
    lockEndUser(ctx: RequestContext, id: number): Promise<EndUser> {
      return setStatus(ctx, id, 'active', 'locked', 'end_user.locked', (status) =>
        status === 'locked'
          ? 'The end user is already locked'
          : `Only active end users can be locked; this one is ${status}`,
      );
    },

    unlockEndUser(ctx: RequestContext, id: number): Promise<EndUser> {
      return setStatus(
        ctx,
        id,
        'locked',
        'active',
        'end_user.unlocked',
        (status) => `The end user is not locked; it is ${status}`,
      );
    },

    /**
     * Portal invitation (spec 001): the user exists at once with status `invited` and source
     * `invitation`, in the groups named; accepting the mailed link makes it `active` and a member
     * of Everyone in its environments.
     */
    async inviteEndUser(ctx: RequestContext, body: InviteEndUserBody): Promise<EndUser> {
      const name = normalisedName(body.name);
      const email = body.email.trim();
      const emailKey = email.toLowerCase();
      const environments = await resolveEnvironments(ctx, body.environment_types ?? []);
      const token = newSecret('eui');
      const user = await deps.db.transaction().execute(async (trx) => {
        await assertEmailFree(trx, ctx, emailKey, email);
        const groups = await resolveGroups(
          trx,
          ctx,
          body.end_user_group_ids ?? [],
          new Set(environments.map((e) => e.id)),
        );
        const row = await provisionEndUser(trx, {
          workspaceId: ctx.workspaceId,
          name,
          email,
          status: 'invited',
          source: 'invitation',
          environmentIds: environments.map((e) => e.id),
          groupIds: groups.map((g) => g.id),
          now: now(),
        });
        await insertEndUserInvitation(trx, {
          workspace_id: ctx.workspaceId,
          end_user_id: row.id,
          token_hash: hashSecret(token),
          status: 'pending',
          created_at: now(),
          expires_at: new Date(deps.clock.now().getTime() + INVITATION_TTL_MS).toISOString(),
          accepted_at: null,
        });
        await recordChange(trx, ctx, now(), 'end_user.invited', ['end_user', row.id], {
          after: {
            name,
            email,
            environment_types: environments.map((e) => e.type),
            end_user_group_ids: groups.map((g) => g.id),
          },
        });
        return present(trx, row);
      });
      const workspace = await findWorkspaceById(deps.db, ctx.workspaceId);
      const workspaceName = workspace?.name ?? 'a Roster workspace';
      await deps.mailer.send({
        to: email,
        subject: `You are invited to the ${workspaceName} apps portal`,
        text: [
          `Hello ${name},`,
          '',
          `You have been invited to use the apps of ${workspaceName}.`,
          `Accept the invitation within 7 days: ${deps.config.publicUrl.replace(/\/+$/, '')}/end-user-invitations/${token}`,
          '',
          'If you did not expect this invitation, you can ignore this message.',
        ].join('\n'),
      });
      return user;
    },

    /** The invitee's side: the link's secret is the credential, and it works once. */
    /** `changes`: the request's (lib/change-tracking.ts). */
    async acceptInvitation(token: string, changes?: ChangeTracker): Promise<EndUser> {
      return deps.db.transaction().execute(async (trx) => {
        const invitation = await findEndUserInvitationByTokenHash(trx, hashSecret(token));
        if (invitation === undefined)
          throw notFound('end_user_invitation.not_found', 'Invitation not found');
        if (invitation.status !== 'pending')
          throw gone('end_user_invitation.used', 'This invitation has already been accepted');
        if (invitation.expires_at <= now())
          throw gone('end_user_invitation.expired', 'This invitation has expired');
        const claimed = await trx
          .updateTable('end_user_invitations')
          .set({ status: 'accepted', accepted_at: now() })
          .where('id', '=', invitation.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1)
          throw gone('end_user_invitation.used', 'This invitation has already been accepted');
        const row = await trx
          .selectFrom('end_users')
          .selectAll()
          .where('id', '=', invitation.end_user_id)
          .executeTakeFirstOrThrow();
        if (row.status === 'invited') {
          await updateEndUser(trx, row.id, { status: 'active', updated_at: now() });
          // Joining Everyone happens now: its joined time is the environment access's time.
          await trx
            .updateTable('end_user_environments')
            .set({ created_at: now() })
            .where('end_user_id', '=', row.id)
            .execute();
        }
        await insertAuditEvent(trx, {
          workspaceId: row.workspace_id,
          actor: { type: 'invitee', id: String(row.id), name: row.name },
          changes,
          action: 'end_user.invitation_accepted',
          targetType: 'end_user',
          targetId: row.id,
          after: { status: row.status === 'invited' ? 'active' : row.status },
          createdAt: now(),
        });
        const fresh = await trx
          .selectFrom('end_users')
          .selectAll()
          .where('id', '=', row.id)
          .executeTakeFirstOrThrow();
        return present(trx, fresh);
      });
    },

    /** Environments of the workspace, for validation in sibling modules. */
    listEnvironments: (ctx: RequestContext) => listEnvironments(deps.db, ctx.workspaceId),
  };
}
export type EndUsersService = ReturnType<typeof createEndUsersService>;
