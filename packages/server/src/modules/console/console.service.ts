/**
 * Console sign-in: collaborators with a password get a session (an HTTP-only cookie holding a
 * random token, stored hashed) and a CSRF token for their writes. What a session may do follows
 * the collaborator's roles: Admin (legacy) or EnvironmentAdmin in an environment makes it
 * writable; a collaborator without either anywhere is a Read Only console user.
 *
 * Through the workspace's OpenID Connect connection (modules/sso verifies the provider's answer),
 * collaborators sign in by their verified email, and so do end users whose groups carry a console
 * role: `Admin` in a group of an environment makes that environment readable and writable,
 * `Read Only` readable. An end user sees only those environments. Nobody is created by a console
 * sign-in. Every request re-reads the grant: an end user who is locked, deactivated or left with
 * no console role loses the session at once (it is deleted), as a deleted collaborator does, and
 * as a collaborator does whom a collaborators SCIM connection has deactivated (`active: false`):
 * while any such connection has them inactive, password and SSO sign-in are refused too.
 *
 * Console SSO is opt-in per connection (`console_sign_in`, modules/sso). End-user sessions get
 * environment-scoped contexts whose actor is the end user: lib/scope.ts keeps them to end-user
 * things (collaborators, projects, API clients, SSO, SCIM connections and the audit log refuse
 * them).
 */
import type {
  AcceptWithPasswordBody,
  ConsoleSession,
  Member,
  SetupBody,
  SignInBody,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, conflict, forbidden, tooManyRequests } from '../../lib/errors.js';
import { hasWorkspaceScope } from '../../lib/scope.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../lib/context.js';
import { fromJson } from '../../storage/json.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import type { ChangeTargetType } from '../audit/change-kinds.js';
import type { ApiClientsService } from '../api-clients/api-clients.service.js';
import type { InvitationsService } from '../invitations/invitations.service.js';
import {
  findMemberByEmailKey,
  listRolesOfMembers,
  setMemberEnvironmentRoles,
} from '../members/members.repository.js';
import { resolveEnvRoles } from '../roles/roles.service.js';
import { listWorkspaces } from '../workspaces/workspaces.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { findEndUserByEmailKey } from '../end-users/end-users.repository.js';
import { SignInError, type VerifiedSignIn } from '../sso/sso.service.js';
import type { ConsoleConfig } from '../../config.js';
import {
  countCredentials,
  deleteEndUserSessionByTokenHash,
  deleteExpiredEndUserSessions,
  deleteExpiredSessions,
  deleteSessionByTokenHash,
  findEndUserSessionByTokenHash,
  findSessionByTokenHash,
  insertEndUserSession,
  insertSession,
  isDeactivatedByScim,
  listConsoleRolesOfEndUser,
  listCredentialsByEmailKey,
  upsertCredential,
} from './console.repository.js';
import { AttemptLimiter } from './login-limiter.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

const scimDeactivated = (email: string) =>
  forbidden(
    'console.member_deactivated',
    `${email} has been deactivated by your identity provider (SCIM) and cannot sign in to the console: ask an administrator`,
  );

/** Roles that make an environment writable from the console. */
const ADMIN_ROLE_NAMES = new Set(['Admin', 'EnvironmentAdmin']);

/** End users' session tokens carry their own prefix: the lookup goes straight to their table. */
const END_USER_TOKEN_PREFIX = 'rse';
const MEMBER_TOKEN_PREFIX = 'rss';

/** Who a console session belongs to. */
export interface ConsolePrincipal {
  type: 'member' | 'end_user';
  id: number;
  name: string;
  email: string;
}

export interface AuthenticatedSession {
  workspaceId: number;
  principal: ConsolePrincipal;
  workspaceName: string;
  csrfHash: string;
  expiresAt: string;
  environmentTypes: string[];
  writableEnvironmentTypes: string[];
}

export function createConsoleService(deps: {
  db: Db;
  clock: Clock;
  config: ConsoleConfig;
  apiClients: ApiClientsService;
  invitations: InvitationsService;
  /** Told to the console so it says whether an invitation was mailed or only written to the outbox. */
  mailDelivery: 'smtp' | 'outbox';
}) {
  const now = () => isoNow(deps.clock);
  const windowMs = deps.config.loginWindowSeconds * 1000;
  const perEmail = new AttemptLimiter(deps.clock, deps.config.loginAttemptsPerEmail, windowMs);
  const perIp = new AttemptLimiter(deps.clock, deps.config.loginAttemptsPerIp, windowMs);

  async function accessOf(db: Executor, workspaceId: number, memberId: number) {
    const [environments, roles] = await Promise.all([
      listEnvironments(db, workspaceId),
      listRolesOfMembers(db, [memberId]),
    ]);
    return {
      environmentTypes: environments.map((env) => env.type),
      writableEnvironmentTypes: roles
        .filter((r) => r.role_name !== null && ADMIN_ROLE_NAMES.has(r.role_name))
        .map((r) => r.environment_type),
    };
  }

  /**
   * What an end user may do from the console: the environments of its groups with a console role
   * (Admin: read and write; Read Only: read). Only these environments are visible to it.
   */
  async function endUserAccess(db: Executor, workspaceId: number, endUserId: number) {
    const rows = await listConsoleRolesOfEndUser(db, workspaceId, endUserId);
    const readable = new Set<string>();
    const writable = new Set<string>();
    for (const row of rows) {
      const roles = fromJson<string[]>(row.roles);
      if (roles.includes('Admin')) writable.add(row.environment_type);
      if (roles.includes('Admin') || roles.includes('Read Only'))
        readable.add(row.environment_type);
    }
    // In the workspace's environment order, like a collaborator's list.
    const order = (await listEnvironments(db, workspaceId)).map((env) => env.type);
    return {
      environmentTypes: order.filter((type) => readable.has(type)),
      writableEnvironmentTypes: order.filter((type) => writable.has(type)),
    };
  }

  async function authenticateEndUser(token: string): Promise<AuthenticatedSession | undefined> {
    const tokenHash = hashSecret(token);
    const row = await findEndUserSessionByTokenHash(deps.db, tokenHash, now());
    if (row === undefined) return undefined;
    const access =
      row.user_status === 'active'
        ? await endUserAccess(deps.db, row.workspace_id, row.end_user_id)
        : { environmentTypes: [], writableEnvironmentTypes: [] };
    if (access.environmentTypes.length === 0) {
      // Locked, deactivated, or no longer in a group with a console role: the session ends here.
      await deleteEndUserSessionByTokenHash(deps.db, tokenHash);
      return undefined;
    }
    return {
      workspaceId: row.workspace_id,
      principal: {
        type: 'end_user',
        id: row.end_user_id,
        name: row.user_name,
        email: row.user_email,
      },
      workspaceName: row.workspace_name,
      csrfHash: row.csrf_hash,
      expiresAt: row.expires_at,
      ...access,
    };
  }

  const ssoActor = (signIn: VerifiedSignIn): Actor => ({
    type: 'system',
    id: 'sso_oidc',
    name: `OpenID Connect sign-in (${signIn.issuer})`,
  });

  /** Stores a new session (token and CSRF token hashed) and audits the sign-in. */
  async function openSession(
    who: { type: 'member' | 'end_user'; workspaceId: number; id: number },
    how: Record<string, unknown> | undefined,
  ): Promise<{ token: string; csrfToken: string; session: AuthenticatedSession }> {
    const token = newSecret(who.type === 'member' ? MEMBER_TOKEN_PREFIX : END_USER_TOKEN_PREFIX);
    const csrfToken = newSecret('csrf');
    const row = {
      workspace_id: who.workspaceId,
      token_hash: hashSecret(token),
      csrf_hash: hashSecret(csrfToken),
      created_at: now(),
      expires_at: new Date(
        deps.clock.now().getTime() + deps.config.sessionTtlSeconds * 1000,
      ).toISOString(),
    };
    await deps.db.transaction().execute(async (trx) => {
      let name: string;
      if (who.type === 'member') {
        await deleteExpiredSessions(trx, now());
        await insertSession(trx, { ...row, member_id: who.id });
        name = (
          await trx
            .selectFrom('members')
            .select(['name'])
            .where('id', '=', who.id)
            .executeTakeFirstOrThrow()
        ).name;
      } else {
        await deleteExpiredEndUserSessions(trx, now());
        await insertEndUserSession(trx, { ...row, end_user_id: who.id });
        name = (
          await trx
            .selectFrom('end_users')
            .select(['name'])
            .where('id', '=', who.id)
            .executeTakeFirstOrThrow()
        ).name;
      }
      await insertAuditEvent(trx, {
        workspaceId: who.workspaceId,
        actor: { type: who.type, id: String(who.id), name },
        action: 'console.signed_in',
        targetType: who.type,
        targetId: who.id,
        after: how,
        createdAt: now(),
      });
    });
    const session = await service.authenticate(token);
    if (session === undefined) throw new Error('session vanished');
    return { token, csrfToken, session };
  }

  /** Creates the collaborator (or takes the existing one) with Admin in every environment and this password. */
  async function makeAdmin(
    trx: Executor,
    workspaceId: number,
    input: { name: string; email: string; password: string },
  ) {
    const emailKey = input.email.trim().toLowerCase();
    let member = await findMemberByEmailKey(trx, workspaceId, emailKey);
    if (member === undefined) {
      member = await trx
        .insertInto('members')
        .values({
          workspace_id: workspaceId,
          name: input.name.trim(),
          email: input.email.trim(),
          email_key: emailKey,
          external_id: null,
          time_zone: 'UTC',
          grant_type: 'team',
          avatar_url: null,
          created_at: now(),
          updated_at: now(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    const environments = await listEnvironments(trx, workspaceId);
    const resolved = await resolveEnvRoles(
      trx,
      workspaceId,
      environments.map((env) => ({ environment_type: env.type, name: 'Admin' })),
    );
    await setMemberEnvironmentRoles(
      trx,
      workspaceId,
      member.id,
      resolved.map((r) => ({
        environmentId: r.environment.id,
        roleType: r.roleType,
        legacyRoleId: r.legacyRoleId,
        environmentRoleId: r.environmentRoleId,
      })),
    );
    await upsertCredential(trx, {
      member_id: member.id,
      workspace_id: workspaceId,
      password_hash: await hashPassword(input.password),
      now: now(),
    });
    return member;
  }

  const service = {
    /**
     * The session behind a cookie token, or undefined when it is unknown or expired, or when an
     * end user's grant is gone (the session is then deleted: it never outlives the grant).
     */
    async authenticate(token: string): Promise<AuthenticatedSession | undefined> {
      if (token.startsWith(`${END_USER_TOKEN_PREFIX}_`)) return authenticateEndUser(token);
      const tokenHash = hashSecret(token);
      const row = await findSessionByTokenHash(deps.db, tokenHash, now());
      if (row === undefined) return undefined;
      if (await isDeactivatedByScim(deps.db, row.member_id)) {
        // The identity provider switched the collaborator off: the session ends here.
        await deleteSessionByTokenHash(deps.db, tokenHash);
        return undefined;
      }
      const access = await accessOf(deps.db, row.workspace_id, row.member_id);
      return {
        workspaceId: row.workspace_id,
        principal: {
          type: 'member',
          id: row.member_id,
          name: row.member_name,
          email: row.member_email,
        },
        workspaceName: row.workspace_name,
        csrfHash: row.csrf_hash,
        expiresAt: row.expires_at,
        ...access,
      };
    },

    present(session: AuthenticatedSession, csrfToken: string): ConsoleSession {
      return {
        member: {
          id: session.principal.id,
          name: session.principal.name,
          email: session.principal.email,
        },
        principal: session.principal.type === 'member' ? 'collaborator' : 'end_user',
        workspace: { id: session.workspaceId, name: session.workspaceName },
        access: session.writableEnvironmentTypes.length > 0 ? 'admin' : 'read_only',
        environment_types: session.environmentTypes,
        writable_environment_types: session.writableEnvironmentTypes,
        csrf_token: csrfToken,
        expires_at: session.expiresAt,
        mail_delivery: deps.mailDelivery,
      };
    },

    /**
     * Checks the password and opens a session. Failures count against the email and the client
     * IP; past the limit the answer is 429 whatever the password, so guessing stays slow.
     */
    async signIn(
      body: SignInBody,
      ip: string,
    ): Promise<{ token: string; csrfToken: string; session: AuthenticatedSession }> {
      const emailKey = body.email.trim().toLowerCase();
      const wait = Math.max(
        perEmail.retryAfterSeconds(`email:${emailKey}`),
        perIp.retryAfterSeconds(`ip:${ip}`),
      );
      if (wait > 0)
        throw tooManyRequests(
          'console.sign_in_rate_limited',
          `Too many sign-in attempts. Try again in ${wait} seconds.`,
          wait,
        );
      const candidates = await listCredentialsByEmailKey(deps.db, emailKey);
      let signedIn: (typeof candidates)[number] | undefined;
      for (const candidate of candidates) {
        if (await verifyPassword(body.password, candidate.password_hash)) {
          signedIn = candidate;
          break;
        }
      }
      if (candidates.length === 0) await verifyPassword(body.password, await decoyHash());
      if (signedIn === undefined) {
        perEmail.record(`email:${emailKey}`);
        perIp.record(`ip:${ip}`);
        throw new AppError(401, 'console.sign_in_failed', 'Email or password is incorrect');
      }
      perEmail.clear(`email:${emailKey}`);
      // Only said to whoever knows the password: the failures above stay indistinguishable.
      if (await isDeactivatedByScim(deps.db, signedIn.member_id)) throw scimDeactivated(body.email);
      return openSession(
        { type: 'member', workspaceId: signedIn.workspace_id, id: signedIn.member_id },
        undefined,
      );
    },

    /**
     * A console sign-in through the workspace's OpenID Connect connection, whose answer modules/sso
     * has verified: the collaborator with that email, else the end user with that email when it is
     * active and its groups give it a console role. Nobody is created; refusals are SignInErrors
     * (shown as a page to browsers) and are audited.
     */
    async signInWithSso(
      signIn: VerifiedSignIn,
    ): Promise<{ token: string; csrfToken: string; session: AuthenticatedSession }> {
      const { workspaceId, emailKey, email } = signIn;
      const how = { method: 'oidc', issuer: signIn.issuer, subject: signIn.subject };
      const refuse = async (
        target: { type: ChangeTargetType; id: number },
        status: number,
        code: string,
        reason: string,
        message: string,
      ): Promise<never> => {
        await insertAuditEvent(deps.db, {
          workspaceId,
          actor: ssoActor(signIn),
          action: 'console.sign_in_refused',
          targetType: target.type,
          targetId: target.id,
          after: { email, reason, ...how },
          createdAt: now(),
        });
        throw new SignInError(status, code, message);
      };
      const member = await findMemberByEmailKey(deps.db, workspaceId, emailKey);
      if (member !== undefined) {
        if (await isDeactivatedByScim(deps.db, member.id)) {
          const error = scimDeactivated(email);
          return refuse(
            { type: 'member', id: member.id },
            error.status,
            error.code,
            'scim_deactivated',
            error.message,
          );
        }
        return openSession({ type: 'member', workspaceId, id: member.id }, how);
      }
      const user = await findEndUserByEmailKey(deps.db, workspaceId, emailKey);
      const target: { type: ChangeTargetType; id: number } =
        user === undefined
          ? { type: 'sso_oidc', id: workspaceId }
          : { type: 'end_user', id: user.id };
      if (user === undefined) {
        return refuse(
          target,
          403,
          'console.sso_unknown_user',
          'unknown_email',
          `${email} is not a collaborator of this workspace, and no end user has this email. Console accounts are not created by signing in: ask an administrator to invite you.`,
        );
      }
      if (user.status !== 'active') {
        const messages: Record<string, string> = {
          locked: `${email} is locked in this workspace: ask an administrator to unlock it`,
          deactivated: `${email} is deactivated in this workspace`,
          invited: `${email} has not accepted its invitation yet`,
        };
        return refuse(
          target,
          403,
          `console.sso_user_${user.status}`,
          user.status,
          messages[user.status] ?? `${email} cannot sign in (status ${user.status})`,
        );
      }
      const access = await endUserAccess(deps.db, workspaceId, user.id);
      if (access.environmentTypes.length === 0) {
        return refuse(
          target,
          403,
          'console.sso_no_console_role',
          'no_console_role',
          `${email} has no console access: only end users in a group with the Admin or Read Only role may sign in to the console`,
        );
      }
      return openSession({ type: 'end_user', workspaceId, id: user.id }, how);
    },

    async signOut(token: string): Promise<void> {
      if (token.startsWith(`${END_USER_TOKEN_PREFIX}_`))
        await deleteEndUserSessionByTokenHash(deps.db, hashSecret(token));
      else await deleteSessionByTokenHash(deps.db, hashSecret(token));
    },

    async setupRequired(): Promise<boolean> {
      return (await countCredentials(deps.db)) === 0;
    },

    /**
     * The one-time setup: whoever holds a workspace's full-scope admin API token may create that
     * workspace's first console admin. Once the workspace has one, this is refused.
     */
    async setup(body: SetupBody): Promise<void> {
      const authenticated = await deps.apiClients.authenticateClient(body.admin_token);
      if (authenticated === undefined)
        throw new AppError(
          401,
          'console.setup_token_invalid',
          'The admin API token is invalid or revoked',
        );
      const client = authenticated.row;
      const environments = await listEnvironments(deps.db, client.workspace_id);
      // The same "full workspace access" rule as for the SSO connection (lib/scope.ts).
      if (
        !hasWorkspaceScope(
          authenticated.scope,
          environments.map((env) => env.type),
        )
      ) {
        throw forbidden(
          'console.setup_token_scope',
          'Setup needs an admin API token that may manage every environment and project',
        );
      }
      await deps.db.transaction().execute(async (trx) => {
        if ((await countCredentials(trx, client.workspace_id)) > 0) {
          throw conflict(
            'console.setup_done',
            'This workspace already has a console admin: sign in instead',
          );
        }
        const member = await makeAdmin(trx, client.workspace_id, body);
        await insertAuditEvent(trx, {
          workspaceId: client.workspace_id,
          actor: { type: 'api_client', id: String(client.id), name: client.name },
          action: 'console.admin_created',
          targetType: 'member',
          targetId: member.id,
          after: { name: member.name, email: member.email },
          createdAt: now(),
        });
      });
    },

    /**
     * First start with ROSTER_ADMIN_EMAIL and ROSTER_ADMIN_PASSWORD: the first workspace gets that
     * console admin, unless it already has one (later starts change nothing).
     */
    async ensureFirstAdmin(): Promise<boolean> {
      const { adminEmail, adminPassword } = deps.config;
      if (adminEmail === undefined || adminPassword === undefined) return false;
      const [workspace] = await listWorkspaces(deps.db);
      if (workspace === undefined) return false;
      return deps.db.transaction().execute(async (trx) => {
        if ((await countCredentials(trx, workspace.id)) > 0) return false;
        const member = await makeAdmin(trx, workspace.id, {
          name: adminEmail.split('@')[0] ?? adminEmail,
          email: adminEmail,
          password: adminPassword,
        });
        await insertAuditEvent(trx, {
          workspaceId: workspace.id,
          actor: { type: 'system', id: null, name: 'first start' },
          action: 'console.admin_created',
          targetType: 'member',
          targetId: member.id,
          after: { name: member.name, email: member.email },
          createdAt: now(),
        });
        return true;
      });
    },

    /**
     * `roster admin create`: a console admin (Admin in every environment) with this password, made
     * by an operator on the database itself; an existing collaborator with the email is promoted.
     */
    async createAdmin(
      workspaceId: number,
      input: { name: string; email: string; password: string },
      actor: { type: 'system'; id: string; name: string },
    ): Promise<{ id: number; name: string; email: string }> {
      return deps.db.transaction().execute(async (trx) => {
        const member = await makeAdmin(trx, workspaceId, input);
        await insertAuditEvent(trx, {
          workspaceId,
          actor,
          action: 'console.admin_created',
          targetType: 'member',
          targetId: member.id,
          after: { name: member.name, email: member.email },
          createdAt: now(),
        });
        return { id: member.id, name: member.name, email: member.email };
      });
    },

    /** The invitation page: accepts the invitation and sets the new collaborator's password. */
    async acceptInvitation(token: string, body: AcceptWithPasswordBody): Promise<Member> {
      const name = body.name.trim();
      if (name === '') throw badRequest('invitation.name_blank', "Name can't be blank");
      const passwordHash = await hashPassword(body.password);
      return deps.invitations.acceptInvitation(token, { name }, async (trx, member) => {
        await upsertCredential(trx, {
          member_id: member.id,
          workspace_id: member.workspace_id,
          password_hash: passwordHash,
          now: now(),
        });
      });
    },

    /** For the auth hook: turns a session into the request context the services expect. */
    contextFor(session: AuthenticatedSession, write: boolean): RequestContext {
      return {
        workspaceId: session.workspaceId,
        actor: {
          type: session.principal.type,
          id: String(session.principal.id),
          name: session.principal.name,
        },
        scope: {
          environmentTypes: new Set(
            write ? session.writableEnvironmentTypes : session.environmentTypes,
          ),
          projectIds: null,
        },
      };
    },
  };
  return service;
}
export type ConsoleService = ReturnType<typeof createConsoleService>;
