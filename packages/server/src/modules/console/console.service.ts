/**
 * Console sign-in: collaborators with a password get a session (an HTTP-only cookie holding a
 * random token, stored hashed) and a CSRF token for their writes. What a session may do follows
 * the collaborator's roles: Admin (legacy) or EnvironmentAdmin in an environment makes it
 * writable; a collaborator without either anywhere is a Read Only console user.
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
import { newSecret } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import { insertAuditEvent } from '../audit/audit.repository.js';
import type { ApiClientsService } from '../api-clients/api-clients.service.js';
import type { InvitationsService } from '../invitations/invitations.service.js';
import {
  findMemberByEmailKey,
  listRolesOfMembers,
  setMemberEnvironmentRoles,
} from '../members/members.repository.js';
import { resolveEnvRoles } from '../roles/roles.service.js';
import { listEnvironments, listWorkspaces } from '../workspaces/workspaces.repository.js';
import type { ConsoleConfig } from './console.config.js';
import {
  countCredentials,
  deleteExpiredSessions,
  deleteSessionByTokenHash,
  findSessionByTokenHash,
  insertSession,
  listCredentialsByEmailKey,
  upsertCredential,
} from './console.repository.js';
import { AttemptLimiter } from './login-limiter.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

/** Roles that make an environment writable from the console. */
const ADMIN_ROLE_NAMES = new Set(['Admin', 'EnvironmentAdmin']);

export interface AuthenticatedSession {
  workspaceId: number;
  member: { id: number; name: string; email: string };
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

  return {
    /** The session behind a cookie token, or undefined when it is unknown or expired. */
    async authenticate(token: string): Promise<AuthenticatedSession | undefined> {
      const row = await findSessionByTokenHash(deps.db, hashSecret(token), now());
      if (row === undefined) return undefined;
      const access = await accessOf(deps.db, row.workspace_id, row.member_id);
      return {
        workspaceId: row.workspace_id,
        member: { id: row.member_id, name: row.member_name, email: row.member_email },
        workspaceName: row.workspace_name,
        csrfHash: row.csrf_hash,
        expiresAt: row.expires_at,
        ...access,
      };
    },

    present(session: AuthenticatedSession, csrfToken: string): ConsoleSession {
      return {
        member: session.member,
        workspace: { id: session.workspaceId, name: session.workspaceName },
        access: session.writableEnvironmentTypes.length > 0 ? 'admin' : 'read_only',
        environment_types: session.environmentTypes,
        writable_environment_types: session.writableEnvironmentTypes,
        csrf_token: csrfToken,
        expires_at: session.expiresAt,
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
      const token = newSecret('rss');
      const csrfToken = newSecret('csrf');
      const expiresAt = new Date(
        deps.clock.now().getTime() + deps.config.sessionTtlSeconds * 1000,
      ).toISOString();
      const workspaceId = signedIn.workspace_id;
      const memberId = signedIn.member_id;
      await deps.db.transaction().execute(async (trx) => {
        await deleteExpiredSessions(trx, now());
        await insertSession(trx, {
          workspace_id: workspaceId,
          member_id: memberId,
          token_hash: hashSecret(token),
          csrf_hash: hashSecret(csrfToken),
          created_at: now(),
          expires_at: expiresAt,
        });
        const member = await trx
          .selectFrom('members')
          .select(['name'])
          .where('id', '=', memberId)
          .executeTakeFirstOrThrow();
        await insertAuditEvent(trx, {
          workspaceId,
          actor: { type: 'member', id: String(memberId), name: member.name },
          action: 'console.signed_in',
          targetType: 'member',
          targetId: memberId,
          createdAt: now(),
        });
      });
      const session = await this.authenticate(token);
      if (session === undefined) throw new Error('session vanished');
      return { token, csrfToken, session };
    },

    async signOut(token: string): Promise<void> {
      await deleteSessionByTokenHash(deps.db, hashSecret(token));
    },

    async setupRequired(): Promise<boolean> {
      return (await countCredentials(deps.db)) === 0;
    },

    /**
     * The one-time setup: whoever holds a workspace's full-scope admin API token may create that
     * workspace's first console admin. Once the workspace has one, this is refused.
     */
    async setup(body: SetupBody): Promise<void> {
      const client = await deps.apiClients.authenticate(body.admin_token);
      if (client === undefined)
        throw new AppError(
          401,
          'console.setup_token_invalid',
          'The admin API token is invalid or revoked',
        );
      const environments = await listEnvironments(deps.db, client.workspace_id);
      const scope = JSON.parse(client.environment_types) as string[];
      if (client.project_ids !== null || environments.some((env) => !scope.includes(env.type))) {
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
        actor: { type: 'member', id: String(session.member.id), name: session.member.name },
        scope: {
          environmentTypes: new Set(
            write ? session.writableEnvironmentTypes : session.environmentTypes,
          ),
          projectIds: null,
        },
      };
    },
  };
}
export type ConsoleService = ReturnType<typeof createConsoleService>;
