/**
 * SSO sign-up (just in time) with OpenID Connect, per workspace.
 *
 * Administrators configure one connection (`/api/sso/oidc`): issuer, client ID and secret,
 * allowed email domains, the claim that names groups, and the environments new users get. End
 * users then sign in through `/sso/oidc/login` → the provider → `/sso/oidc/callback`: the
 * authorization code flow with state, nonce and PKCE (S256), done by `openid-client`. On the
 * callback the end user is found by email (case-insensitive) or created (source `sso`, status
 * `active`, the configured environments, hence Everyone), and put in the groups the claim names.
 *
 * The rules (docs/sso.md):
 * - Only emails of an allowed domain sign in (exact domain, subdomains are not implied); the
 *   provider must not say `email_verified: false` (console sign-ins need `email_verified: true`).
 * - Environments are given once, when the user is created: a later sign-in never restores an
 *   environment an administrator revoked.
 * - Groups are matched by name in the environments the connection gives that the user has.
 *   Groups named by the claim that do not exist are ignored (never created). Groups with
 *   `managed_by: external` follow the claim: the user leaves them when the claim no longer names
 *   them (even as their last member, like revoking an environment); `manual` groups are only
 *   ever joined.
 * - A locked or deactivated user is refused and left as it is; an invited user becomes active
 *   (the provider has just proved the address).
 * - Login attempts (state) are single use and expire after 10 minutes; the state is also bound
 *   to the browser that started the sign-in by an HTTP-only cookie (login CSRF).
 *
 * The same flow signs people in to the admin console (modules/console) when the connection says
 * so (`console_sign_in`, off unless turned on): a login attempt records its purpose (`portal` or
 * `console`); `verifyCallback` does everything up to a verified email (state, code exchange, ID
 * token, nonce, PKCE, allowed domain, email_verified) for both, then the portal provisions the end
 * user (`provision`) and the console opens a session instead.
 *
 * Since the connection decides who may sign in to the console as any collaborator, managing it
 * needs full workspace access (lib/scope.ts requireWorkspaceAdmin), and end-user console sessions
 * cannot even read it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import type {
  EndUser,
  PutSsoOidcBody,
  SsoCallbackQuery,
  SsoOidcConnection,
  SsoSignIn,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { fromFlag, fromJson, toFlag, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, badRequest, notFound } from '../../lib/errors.js';
import { hashSecret } from '../../lib/secrets.js';
import type { Actor, RequestContext } from '../../lib/context.js';
import { requireCollaboratorActor, requireWorkspaceAdmin } from '../../lib/scope.js';
import { insertAuditEvent, recordChange } from '../audit/audit.repository.js';
import { listEnvironments } from '../environments/environments.repository.js';
import {
  deleteGroupMembers,
  insertGroupMembers,
  listMembershipsOfEndUser,
} from '../memberships/memberships.repository.js';
import {
  findEndUserByEmailKey,
  listEnvironmentAccessRows,
  updateEndUser,
  type EndUserRow,
} from '../end-users/end-users.repository.js';
import { presentEndUsers } from '../end-users/end-users.service.js';
import { provisionEndUser } from '../end-users/end-users.provision.js';
import { requireEnvironment } from '../environments/environments.service.js';
import type { SecretBox } from '../../lib/secret-box.js';
import {
  claimSsoLoginAttempt,
  deleteSsoConnection,
  deleteSsoLoginAttemptsExpiredBefore,
  listConsoleSsoWorkspaceIds,
  findGroupsByNameKeys,
  findSsoConnection,
  findSsoLoginAttemptByStateHash,
  insertSsoLoginAttempt,
  upsertSsoConnection,
  type SsoConnectionRow,
} from './sso.repository.js';

/** How long the provider may take to send the user back. */
export const LOGIN_ATTEMPT_TTL_MS = 10 * 60 * 1000;
/** Discovery documents and keys are fetched again after this long (or when the connection changes). */
const DISCOVERY_TTL_MS = 10 * 60 * 1000;
const PROVIDER_TIMEOUT_SECONDS = 10;
const DEFAULT_SCOPES = ['openid', 'email', 'profile'];
/** A groups claim longer than this is cut: no directory has that many groups worth matching. */
const MAX_CLAIMED_GROUPS = 1000;
const NAME_MAX = 200;

export const SSO_CALLBACK_PATH = '/sso/oidc/callback';

/**
 * What a login attempt signs in to: the end-user portal (JIT sign-up), the admin console, or an
 * MCP client's OAuth authorization (modules/oauth: the end user, provisioned as for the portal).
 */
export type SsoPurpose = 'portal' | 'console' | 'mcp';

/** A callback whose state, code, ID token and email have all been checked. */
export interface VerifiedSignIn {
  purpose: SsoPurpose;
  workspaceId: number;
  /** As the provider sent it; `emailKey` is its lower-case form used for lookups. */
  email: string;
  emailKey: string;
  issuer: string;
  subject: string | null;
  claims: Record<string, unknown>;
  connection: SsoConnectionRow;
  /** For `mcp` sign-ins: the OAuth authorization request (interaction uid) it finishes. */
  oauthInteraction: string | null;
}
export const SSO_LOGIN_PATH = '/sso/oidc/login';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** The issuer as given (issuer comparisons are exact), after the checks a URL format cannot do. */
function checkedIssuer(raw: string): string {
  const issuer = raw.trim();
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw badRequest('sso.issuer_invalid', 'issuer_url must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw badRequest('sso.issuer_invalid', 'issuer_url must be an https URL');
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw badRequest(
      'sso.issuer_insecure',
      'issuer_url must use https (http is accepted only for localhost, for development)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw badRequest('sso.issuer_invalid', 'issuer_url must not contain credentials');
  }
  if (url.search !== '' || url.hash !== '') {
    throw badRequest('sso.issuer_invalid', 'issuer_url must not have a query or a fragment');
  }
  return issuer;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function sameText(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison is constant-time whatever the inputs.
  return timingSafeEqual(sha256(a), sha256(b));
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Group names from a claim: an array of strings, or one string (some providers send a single group so). */
function groupNames(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return list
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim())
    .filter((v) => v !== '' && v.length <= NAME_MAX)
    .slice(0, MAX_CLAIMED_GROUPS);
}

/** The failure shown to someone signing in: a status and a sentence; detail goes to the log. */
export class SignInError extends AppError {}

/**
 * The provider could not be reached (connection refused, DNS, timeout), as opposed to an answer
 * that failed the checks: Node's fetch throws a TypeError "fetch failed" (its cause says why) or
 * a timeout/abort error, which openid-client passes through unwrapped. Its own TypeErrors (bad
 * arguments) carry other messages.
 */
function isUnreachable(error: unknown): boolean {
  if (error instanceof TypeError) return error.message === 'fetch failed';
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** openid-client's message with the check that failed (its cause says which claim, or why). */
function verificationDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  return cause instanceof Error && cause.message !== error.message
    ? `${error.message} (${cause.message})`
    : error.message;
}

function signInError(status: number, code: string, message: string): SignInError {
  return new SignInError(status, code, message);
}

const consoleSignInOff = () =>
  signInError(
    404,
    'sso.console_sign_in_off',
    'Console sign-in through single sign-on is not turned on for this workspace',
  );

interface CachedConfiguration {
  key: string;
  fetchedAt: number;
  configuration: oidc.Configuration;
}

export function createSsoService(deps: {
  db: Db;
  clock: Clock;
  publicUrl: string;
  secrets: SecretBox;
}) {
  const now = () => isoNow(deps.clock);
  const base = deps.publicUrl.replace(/\/+$/, '');
  const redirectUri = `${base}${SSO_CALLBACK_PATH}`;
  const cookieSecure = base.startsWith('https:');
  const discovered = new Map<number, CachedConfiguration>();

  const secretContext = (workspaceId: number) => `sso_oidc:${workspaceId}`;

  function present(row: SsoConnectionRow): SsoOidcConnection {
    return {
      issuer_url: row.issuer_url,
      client_id: row.client_id,
      client_secret_set: row.client_secret_encrypted !== '',
      allowed_domains: fromJson<string[]>(row.allowed_domains),
      groups_claim: row.groups_claim,
      environment_types: fromJson<string[]>(row.environment_types),
      scopes: fromJson<string[]>(row.scopes),
      enabled: fromFlag(row.enabled),
      console_sign_in: fromFlag(row.console_sign_in),
      redirect_uri: redirectUri,
      login_url: `${base}${SSO_LOGIN_PATH}?workspace=${row.workspace_id}`,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  /** What the audit log keeps of a connection: everything but the secret. */
  function auditView(row: SsoConnectionRow | undefined) {
    if (row === undefined) return undefined;
    const connection = present(row);
    return {
      issuer_url: connection.issuer_url,
      client_id: connection.client_id,
      allowed_domains: connection.allowed_domains,
      groups_claim: connection.groups_claim,
      environment_types: connection.environment_types,
      scopes: connection.scopes,
      enabled: connection.enabled,
      console_sign_in: connection.console_sign_in,
    };
  }

  /** The SSO connection can sign anyone in to the console as a collaborator: full scope only. */
  async function requireSsoAdmin(ctx: RequestContext): Promise<void> {
    const environments = await listEnvironments(deps.db, ctx.workspaceId);
    requireWorkspaceAdmin(
      ctx,
      environments.map((env) => env.type),
    );
  }

  async function requireConnection(db: Executor, ctx: RequestContext): Promise<SsoConnectionRow> {
    const row = await findSsoConnection(db, ctx.workspaceId);
    if (row === undefined)
      throw notFound(
        'sso.not_configured',
        'No OpenID Connect connection is configured for this workspace',
      );
    return row;
  }

  /** The provider's metadata and keys, discovered once per connection version and cached. */
  async function configurationFor(row: SsoConnectionRow): Promise<oidc.Configuration> {
    const key = `${row.issuer_url}\n${row.client_id}\n${row.updated_at}`;
    const cached = discovered.get(row.workspace_id);
    if (
      cached !== undefined &&
      cached.key === key &&
      Date.now() - cached.fetchedAt < DISCOVERY_TTL_MS
    ) {
      return cached.configuration;
    }
    let secret: string;
    try {
      secret = deps.secrets.open(row.client_secret_encrypted, secretContext(row.workspace_id));
    } catch {
      throw signInError(
        500,
        'sso.secret_unreadable',
        'The stored client secret cannot be decrypted (was ROSTER_SECRET_KEY changed?). An administrator must set the client secret again.',
      );
    }
    const issuer = new URL(row.issuer_url);
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(issuer, row.client_id, undefined, undefined, {
        timeout: PROVIDER_TIMEOUT_SECONDS,
        // Plain http is only accepted for loopback issuers (checked when the connection is saved).
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only as a warning sign; loopback development issuers need it
        execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
      });
    } catch (error) {
      throw signInError(
        502,
        'sso.discovery_failed',
        `The identity provider at ${row.issuer_url} could not be reached or its discovery document is invalid: ${(error as Error).message}`,
      );
    }
    const methods = configuration.serverMetadata().token_endpoint_auth_methods_supported;
    // client_secret_basic is the OpenID default; use the form post only when that is all the provider takes.
    const auth =
      methods === undefined ||
      methods.includes('client_secret_basic') ||
      !methods.includes('client_secret_post')
        ? oidc.ClientSecretBasic(secret)
        : oidc.ClientSecretPost(secret);
    configuration = new oidc.Configuration(
      configuration.serverMetadata(),
      row.client_id,
      undefined,
      auth,
    );
    configuration.timeout = PROVIDER_TIMEOUT_SECONDS;
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- as above: loopback issuers only
    if (issuer.protocol === 'http:') oidc.allowInsecureRequests(configuration);
    // openid-client 6 checks the ID token's claims but not its signature unless asked (a token
    // from the token endpoint over TLS is trusted by default, RFC 6749): ask, so a token signed
    // by any key outside the provider's JWKS is refused (the keys are fetched and cached here).
    oidc.enableNonRepudiationChecks(configuration);
    discovered.set(row.workspace_id, { key, fetchedAt: Date.now(), configuration });
    return configuration;
  }

  const ssoActor = (row: SsoConnectionRow): Actor => ({
    type: 'system',
    id: 'sso_oidc',
    name: `OpenID Connect sign-in (${row.issuer_url})`,
  });

  /**
   * Joins the groups the claim names in the given environments; leaves `external` groups it no
   * longer names. Returns what changed, for the audit event.
   */
  async function syncGroups(
    trx: Executor,
    user: EndUserRow,
    environmentIds: number[],
    names: string[],
  ) {
    const keys = [...new Set(names.map((n) => n.toLowerCase()))];
    const wanted = await findGroupsByNameKeys(trx, user.workspace_id, environmentIds, keys);
    const current = await listMembershipsOfEndUser(trx, user.id);
    const joined = wanted.filter((g) => !current.some((c) => c.id === g.id));
    const left = current.filter(
      (c) =>
        environmentIds.includes(c.environment_id) &&
        c.managed_by === 'external' &&
        !keys.includes(c.name_key),
    );
    for (const group of joined)
      await insertGroupMembers(trx, user.workspace_id, group.id, [user.id], now());
    for (const group of left) await deleteGroupMembers(trx, group.id, [user.id]);
    const claimedKeys = new Set(wanted.map((g) => g.name_key));
    return {
      joined: joined.map((g) => ({ id: g.id, name: g.name, environment_type: g.environment_type })),
      left: left.map((g) => ({ id: g.id, name: g.name, environment_type: g.environment_type })),
      ignored: [...new Set(names)].filter((n) => !claimedKeys.has(n.toLowerCase())).slice(0, 50),
    };
  }

  return {
    redirectUri,
    cookieSecure,

    async getConnection(ctx: RequestContext): Promise<SsoOidcConnection> {
      requireCollaboratorActor(ctx);
      return present(await requireConnection(deps.db, ctx));
    },

    /**
     * Creates or replaces the workspace's connection. The secret may be left out to keep the
     * stored one; it is required the first time.
     */
    async putConnection(ctx: RequestContext, body: PutSsoOidcBody): Promise<SsoOidcConnection> {
      await requireSsoAdmin(ctx);
      const issuer = checkedIssuer(body.issuer_url);
      const clientId = body.client_id.trim();
      if (clientId === '') throw badRequest('sso.client_id_blank', "client_id can't be blank");
      const scopes = [...new Set(body.scopes ?? DEFAULT_SCOPES)];
      if (!scopes.includes('openid'))
        throw badRequest('sso.scope_openid', 'scopes must include openid');
      const domains = [...new Set(body.allowed_domains.map((d) => d.toLowerCase()))];
      const types = [...new Set(body.environment_types)];
      for (const type of types) await requireEnvironment(deps.db, ctx.workspaceId, type);
      const secret = body.client_secret?.trim();
      if (secret === '')
        throw badRequest('sso.client_secret_blank', "client_secret can't be blank");
      return deps.db.transaction().execute(async (trx) => {
        const before = await findSsoConnection(trx, ctx.workspaceId);
        if (before === undefined && secret === undefined) {
          throw badRequest(
            'sso.client_secret_required',
            'client_secret is required when the connection is first configured',
          );
        }
        await upsertSsoConnection(trx, {
          workspace_id: ctx.workspaceId,
          issuer_url: issuer,
          client_id: clientId,
          client_secret_encrypted:
            secret === undefined
              ? (before?.client_secret_encrypted ?? '')
              : deps.secrets.seal(secret, secretContext(ctx.workspaceId)),
          allowed_domains: toJson(domains),
          groups_claim: body.groups_claim ?? null,
          environment_types: toJson(types),
          scopes: toJson(scopes),
          enabled: toFlag(body.enabled ?? true),
          // Opt-in: a PUT without it (an older client, a script) leaves console sign-in off.
          console_sign_in: toFlag(body.console_sign_in ?? false),
          created_at: now(),
          updated_at: now(),
        });
        const after = await requireConnection(trx, ctx);
        await recordChange(
          trx,
          ctx,
          now(),
          before === undefined ? 'sso.oidc_created' : 'sso.oidc_updated',
          ['sso_oidc', ctx.workspaceId],
          {
            before: auditView(before),
            after: { ...auditView(after), client_secret_changed: secret !== undefined },
          },
        );
        discovered.delete(ctx.workspaceId);
        return present(after);
      });
    },

    async deleteConnection(ctx: RequestContext): Promise<void> {
      await requireSsoAdmin(ctx);
      await deps.db.transaction().execute(async (trx) => {
        const before = await requireConnection(trx, ctx);
        await deleteSsoConnection(trx, ctx.workspaceId);
        await recordChange(trx, ctx, now(), 'sso.oidc_deleted', ['sso_oidc', ctx.workspaceId], {
          before: auditView(before),
        });
      });
      discovered.delete(ctx.workspaceId);
    },

    /**
     * Starts a sign-in: records the attempt (state hashed, nonce, PKCE verifier) and answers the
     * provider URL to redirect to, and the state for the browser-binding cookie.
     */
    async startLogin(
      workspaceId: number,
      purpose: SsoPurpose = 'portal',
      oauthInteraction: string | null = null,
    ): Promise<{ location: string; state: string; maxAgeSeconds: number }> {
      const row = await findSsoConnection(deps.db, workspaceId);
      if (row === undefined || !fromFlag(row.enabled)) {
        throw signInError(
          404,
          'sso.not_configured',
          'Single sign-on is not enabled for this workspace',
        );
      }
      if (purpose === 'console' && !fromFlag(row.console_sign_in)) throw consoleSignInOff();
      const configuration = await configurationFor(row);
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const codeChallenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
      const createdAt = deps.clock.now();
      await deleteSsoLoginAttemptsExpiredBefore(
        deps.db,
        new Date(createdAt.getTime() - 24 * 60 * 60 * 1000).toISOString(),
      );
      await insertSsoLoginAttempt(deps.db, {
        workspace_id: workspaceId,
        state_hash: hashSecret(state),
        nonce,
        code_verifier: codeVerifier,
        created_at: createdAt.toISOString(),
        expires_at: new Date(createdAt.getTime() + LOGIN_ATTEMPT_TTL_MS).toISOString(),
        used_at: null,
        purpose,
        oauth_interaction: oauthInteraction,
      });
      const location = oidc.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope: fromJson<string[]>(row.scopes).join(' '),
        state,
        nonce,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      });
      return { location: location.href, state, maxAgeSeconds: LOGIN_ATTEMPT_TTL_MS / 1000 };
    },

    /**
     * The workspace whose connection signs people in to the console: the one asked for when it
     * has an enabled connection with `console_sign_in`, else the only workspace that has one
     * (undefined when none, or when several do and none was asked for).
     */
    async consoleWorkspace(requested: number | undefined): Promise<number | undefined> {
      const enabled = await listConsoleSsoWorkspaceIds(deps.db);
      if (requested !== undefined) return enabled.includes(requested) ? requested : undefined;
      return enabled.length === 1 ? enabled[0] : undefined;
    },

    /**
     * The provider's redirect back, for either purpose. `rawQuery` is the callback's query string
     * as received (the ID token checks need every parameter, `iss` included); `boundState` is the
     * browser's cookie. Answers the verified identity; nothing is created or changed yet.
     */
    async verifyCallback(
      query: SsoCallbackQuery,
      rawQuery: string,
      boundState: string | undefined,
    ): Promise<VerifiedSignIn> {
      if (query.state === undefined || query.state === '') {
        throw signInError(
          400,
          'sso.state_missing',
          'The sign-in response has no state: start the sign-in again',
        );
      }
      const attempt = await findSsoLoginAttemptByStateHash(deps.db, hashSecret(query.state));
      if (attempt === undefined)
        throw signInError(
          400,
          'sso.state_unknown',
          'This sign-in link is not valid: start the sign-in again',
        );
      if (attempt.used_at !== null) {
        throw signInError(
          400,
          'sso.state_used',
          'This sign-in response has already been used: start the sign-in again',
        );
      }
      if (attempt.expires_at <= now())
        throw signInError(
          400,
          'sso.state_expired',
          'This sign-in took too long and has expired: start the sign-in again',
        );
      if (boundState === undefined || !sameText(boundState, query.state)) {
        throw signInError(
          400,
          'sso.state_not_bound',
          'This sign-in was started in another browser (or its cookie was lost): start the sign-in again from this browser',
        );
      }
      // Single use: claimed before the code is exchanged, so a replay racing the original fails here.
      if (!(await claimSsoLoginAttempt(deps.db, attempt.id, now()))) {
        throw signInError(
          400,
          'sso.state_used',
          'This sign-in response has already been used: start the sign-in again',
        );
      }
      if (query.error !== undefined) {
        const detail =
          query.error_description === undefined
            ? query.error
            : `${query.error}: ${query.error_description}`;
        throw signInError(
          400,
          'sso.provider_error',
          `The identity provider refused the sign-in (${detail})`,
        );
      }
      const row = await findSsoConnection(deps.db, attempt.workspace_id);
      if (row === undefined || !fromFlag(row.enabled)) {
        throw signInError(
          404,
          'sso.not_configured',
          'Single sign-on is not enabled for this workspace',
        );
      }
      const purpose: SsoPurpose =
        attempt.purpose === 'console' || attempt.purpose === 'mcp' ? attempt.purpose : 'portal';
      // Turned off between the start and the callback: the console attempt is refused.
      if (purpose === 'console' && !fromFlag(row.console_sign_in)) throw consoleSignInOff();
      const configuration = await configurationFor(row);

      let claims: Record<string, unknown>;
      let accessToken: string;
      try {
        const tokens = await oidc.authorizationCodeGrant(
          configuration,
          new URL(`${redirectUri}${rawQuery === '' ? '' : `?${rawQuery}`}`),
          {
            pkceCodeVerifier: attempt.code_verifier,
            expectedState: query.state,
            expectedNonce: attempt.nonce,
            idTokenExpected: true,
          },
        );
        const idTokenClaims = tokens.claims();
        if (idTokenClaims === undefined) throw new Error('the token response has no ID token');
        claims = { ...idTokenClaims };
        accessToken = tokens.access_token;
      } catch (error) {
        if (isUnreachable(error)) {
          throw signInError(
            502,
            'sso.provider_unreachable',
            `The identity provider at ${row.issuer_url} is unreachable: ${(error as Error).message}`,
          );
        }
        throw signInError(
          400,
          'sso.token_invalid',
          `The identity provider's answer could not be verified: ${verificationDetail(error)}`,
        );
      }
      const groupsClaim = row.groups_claim;
      const needsUserInfo =
        stringClaim(claims.email) === undefined ||
        (groupsClaim !== null && !(groupsClaim in claims));
      if (needsUserInfo && configuration.serverMetadata().userinfo_endpoint !== undefined) {
        try {
          const info = await oidc.fetchUserInfo(configuration, accessToken, String(claims.sub));
          // The ID token wins where both say something.
          claims = { ...info, ...claims };
        } catch (error) {
          throw signInError(
            502,
            'sso.userinfo_failed',
            `The identity provider's user info could not be read: ${(error as Error).message}`,
          );
        }
      }
      const email = await verifiedEmail(row, claims, purpose);
      return {
        purpose,
        workspaceId: row.workspace_id,
        email,
        emailKey: email.toLowerCase(),
        issuer: row.issuer_url,
        subject: stringClaim(claims.sub) ?? null,
        claims,
        connection: row,
        oauthInteraction: attempt.oauth_interaction,
      };
    },

    provision,
  };

  /**
   * The email the claims prove: present, of an allowed domain, and not said to be unverified. A
   * console sign-in signs in as whoever has the email (possibly a workspace admin), so there the
   * provider must say `email_verified: true`; an absent claim is not enough.
   */
  async function verifiedEmail(
    row: SsoConnectionRow,
    claims: Record<string, unknown>,
    purpose: SsoPurpose,
  ): Promise<string> {
    const email = stringClaim(claims.email);
    if (email === undefined || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) {
      throw signInError(
        400,
        'sso.email_missing',
        'The identity provider did not send an email address (request the email scope)',
      );
    }
    const actor = ssoActor(row);
    const domain = (email.split('@').pop() ?? '').toLowerCase();
    const allowed = fromJson<string[]>(row.allowed_domains);
    if (!allowed.includes(domain)) {
      await insertAuditEvent(deps.db, {
        workspaceId: row.workspace_id,
        actor,
        action: 'sso.sign_in_refused',
        targetType: 'sso_oidc',
        targetId: row.workspace_id,
        after: { email, reason: 'domain_not_allowed' },
        createdAt: now(),
      });
      throw signInError(
        403,
        'sso.domain_not_allowed',
        `Sign-in with ${domain} addresses is not allowed in this workspace`,
      );
    }
    if (purpose === 'console' && claims.email_verified !== true) {
      await insertAuditEvent(deps.db, {
        workspaceId: row.workspace_id,
        actor,
        action: 'console.sign_in_refused',
        targetType: 'sso_oidc',
        targetId: row.workspace_id,
        after: { email, reason: 'email_not_verified', method: 'oidc', issuer: row.issuer_url },
        createdAt: now(),
      });
      throw signInError(
        403,
        'sso.email_unverified',
        `The identity provider did not say that ${email} is verified (email_verified must be true to sign in to the console)`,
      );
    }
    if (claims.email_verified === false) {
      throw signInError(
        403,
        'sso.email_unverified',
        `The identity provider has not verified ${email}: verify the address there first`,
      );
    }
    return email;
  }

  /** Finds or creates the end user a portal sign-in describes, and syncs its groups; all in one transaction. */
  async function provision(signIn: VerifiedSignIn): Promise<SsoSignIn> {
    const { connection: row, claims, email, emailKey } = signIn;
    const actor = ssoActor(row);
    const names = row.groups_claim === null ? null : groupNames(claims[row.groups_claim]);
    const refusal = await deps.db.transaction().execute(async (trx) => {
      const existing = await findEndUserByEmailKey(trx, row.workspace_id, emailKey);
      if (
        existing !== undefined &&
        (existing.status === 'locked' || existing.status === 'deactivated')
      ) {
        await insertAuditEvent(trx, {
          workspaceId: row.workspace_id,
          actor,
          action: 'end_user.sign_in_refused',
          targetType: 'end_user',
          targetId: existing.id,
          after: { reason: existing.status },
          createdAt: now(),
        });
        return existing.status;
      }
      return null;
    });
    if (refusal !== null) {
      throw signInError(
        403,
        `sso.user_${refusal}`,
        refusal === 'locked'
          ? `${email} is locked in this workspace: ask an administrator to unlock it`
          : `${email} is deactivated in this workspace`,
      );
    }

    return deps.db.transaction().execute(async (trx) => {
      let user = await findEndUserByEmailKey(trx, row.workspace_id, emailKey);
      const created = user === undefined;
      if (user === undefined) {
        const environments = (await listEnvironments(trx, row.workspace_id)).filter((e) =>
          fromJson<string[]>(row.environment_types).includes(e.type),
        );
        const name =
          stringClaim(claims.name) ??
          ([stringClaim(claims.given_name), stringClaim(claims.family_name)]
            .filter((p) => p !== undefined)
            .join(' ') ||
            email.split('@')[0] ||
            email);
        const picture = stringClaim(claims.picture);
        user = await provisionEndUser(trx, {
          workspaceId: row.workspace_id,
          name: name.slice(0, NAME_MAX),
          email,
          avatarUrl:
            picture !== undefined && picture.startsWith('https://') && picture.length <= 2000
              ? picture
              : null,
          status: 'active',
          source: 'sso',
          environmentIds: environments.map((e) => e.id),
          now: now(),
        });
        await insertAuditEvent(trx, {
          workspaceId: row.workspace_id,
          actor,
          action: 'end_user.created',
          targetType: 'end_user',
          targetId: user.id,
          after: {
            name: user.name,
            email,
            source: 'sso',
            environment_types: environments.map((e) => e.type),
          },
          createdAt: now(),
        });
      } else if (user.status === 'invited') {
        await updateEndUser(trx, user.id, { status: 'active', updated_at: now() });
        // Joining Everyone happens now, as when an invitation is accepted.
        await trx
          .updateTable('end_user_environments')
          .set({ created_at: now() })
          .where('end_user_id', '=', user.id)
          .execute();
      }
      // Groups of the connection's environments that the user may access (access may have been revoked).
      const configured = fromJson<string[]>(row.environment_types);
      const environmentIds = (await listEnvironmentAccessRows(trx, user.id))
        .filter((a) => configured.includes(a.type))
        .map((a) => a.environment_id);
      const groups = names === null ? null : await syncGroups(trx, user, environmentIds, names);
      await insertAuditEvent(trx, {
        workspaceId: row.workspace_id,
        actor,
        action: 'end_user.signed_in',
        targetType: 'end_user',
        targetId: user.id,
        before: user.status === 'invited' ? { status: 'invited' } : undefined,
        after: {
          method: 'oidc',
          issuer: row.issuer_url,
          subject: stringClaim(claims.sub) ?? null,
          created,
          ...(user.status === 'invited' ? { status: 'active' } : {}),
          ...(groups === null ? {} : { groups }),
        },
        createdAt: now(),
      });
      const fresh = await findEndUserByEmailKey(trx, row.workspace_id, emailKey);
      if (fresh === undefined) throw new Error('end user vanished');
      const [endUser] = (await presentEndUsers(trx, [fresh])) as [EndUser];
      const memberships = await listMembershipsOfEndUser(trx, fresh.id);
      return {
        created,
        end_user: endUser,
        groups: memberships.map((m) => ({
          id: m.id,
          name: m.name,
          environment_type: m.environment_type,
        })),
      };
    });
  }
}

export type SsoService = ReturnType<typeof createSsoService>;
