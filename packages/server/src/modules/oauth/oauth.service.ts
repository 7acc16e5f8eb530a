/**
 * Roster as the OAuth 2.0 authorization server of its MCP gateway, for interactive MCP clients
 * (docs/agents.md "Interactive MCP clients (OAuth)"), following the MCP authorization spec:
 * metadata (RFC 8414), dynamic client registration (RFC 7591), authorization code with PKCE
 * (S256), resource indicators (RFC 8707: every access token is bound to the one gateway URL,
 * `<ROSTER_PUBLIC_URL>/mcp/<feature id>`, it was requested for). The OAuth protocol is
 * oidc-provider's; Roster supplies its storage (oauth.adapter.ts), the sign-in (delegated to the
 * workspace's OIDC connection, modules/sso) and the check of a token at the gateway.
 *
 * The provider is built on first use: its signing key lives in the database (so every instance
 * of a cluster signs with the same key), which cannot be read synchronously at startup.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
// The library is loaded on first use (below): a server no interactive client talks to never loads
// it (nor prints its notice that Node.js 20 is older than the LTS it targets).
import type Provider from 'oidc-provider';
import type { AccessToken, KoaContextWithOIDC } from 'oidc-provider';
import type { SecretBox } from '../../lib/secret-box.js';
import type { Db } from '../../storage/database.js';
import { createOauthAdapterFactory, deleteExpiredOauthRecords } from './oauth.adapter.js';

/** The one scope of gateway access tokens (what the protected-resource metadata advertises). */
export const MCP_SCOPE = 'mcp';
const REFRESH_TOKEN_TTL_SECONDS = 14 * 24 * 60 * 60;
/** Where the provider's endpoints live (beside the well-known documents at the root). */
export const OAUTH_PREFIX = '/oauth';
const KEY_RECORD = 'signing';

/** The end user an authorization was signed in as: `<workspace id>.<end user id>`. */
export function accountIdOf(workspaceId: number, endUserId: number): string {
  return `${String(workspaceId)}.${String(endUserId)}`;
}

export function parseAccountId(
  accountId: string,
): { workspaceId: number; endUserId: number } | undefined {
  const match = /^(\d{1,10})\.(\d{1,10})$/.exec(accountId);
  if (match === null) return undefined;
  return { workspaceId: Number(match[1]), endUserId: Number(match[2]) };
}

/** A gateway access token that passed the library's checks (known, not expired, not revoked). */
export interface GatewayToken {
  workspaceId: number;
  endUserId: number;
  clientId: string;
  clientName: string | null;
  /** The gateway URL the token is bound to (its audience). */
  audience: string | null;
}

interface KeyMaterial {
  jwk: Record<string, unknown>;
  cookieKey: string;
}

export function createOauthService(deps: {
  db: Db;
  secrets: SecretBox;
  publicUrl: string;
  /** ROSTER_OAUTH_ACCESS_TOKEN_TTL_SECONDS. */
  accessTokenTtlSeconds: number;
}) {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const publicUrl = new URL(base);
  // The library judges expiry by the system clock (its own Date.now); the storage's expiry must
  // agree with it, so both use the system clock, not Roster's injectable one.
  const now = () => new Date();
  const adapter = createOauthAdapterFactory({ db: deps.db, secrets: deps.secrets, now });

  /** The feature ID of a gateway URL of this server, or undefined. */
  function gatewayFeature(resource: string): number | undefined {
    const prefix = `${base}/mcp/`;
    if (!resource.startsWith(prefix)) return undefined;
    const rest = resource.slice(prefix.length);
    return /^\d{1,10}$/.test(rest) && Number(rest) > 0 ? Number(rest) : undefined;
  }

  /** The workspace of a gateway resource (undefined: no such MCP server feature). */
  async function resourceWorkspace(resource: string): Promise<number | undefined> {
    const featureId = gatewayFeature(resource);
    if (featureId === undefined) return undefined;
    const row = await deps.db
      .selectFrom('features')
      .select('workspace_id')
      .where('id', '=', featureId)
      .where('kind', '=', 'mcp_server')
      .executeTakeFirst();
    return row?.workspace_id;
  }

  /**
   * The signing key and cookie key every instance shares: created by the first instance that
   * needs them (a concurrent creator's insert is ignored and both read the winner's).
   */
  async function keyMaterial(): Promise<KeyMaterial> {
    const store = adapter('RosterKey');
    const existing = await store.find(KEY_RECORD);
    if (existing !== undefined) return existing as unknown as KeyMaterial;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const created: KeyMaterial = {
      jwk: {
        ...privateKey.export({ format: 'jwk' }),
        alg: 'ES256',
        use: 'sig',
        kid: randomBytes(8).toString('hex'),
      },
      cookieKey: randomBytes(32).toString('base64url'),
    };
    const idHash = createHash('sha256').update(KEY_RECORD, 'utf8').digest('base64url');
    await deps.db
      .insertInto('oauth_records')
      .values({
        model: 'RosterKey',
        id_hash: idHash,
        payload: deps.secrets.seal(JSON.stringify(created), `RosterKey:${idHash}`),
        grant_id: null,
        uid_hash: null,
        user_code: null,
        expires_at: null,
        consumed_at: null,
      })
      .onConflict((oc) => oc.columns(['model', 'id_hash']).doNothing())
      .execute();
    const stored = await store.find(KEY_RECORD);
    if (stored === undefined) throw new Error('OAuth signing key not stored');
    return stored as unknown as KeyMaterial;
  }

  /**
   * The login prompt is shown again when the browser's session at Roster signed in to another
   * workspace than the one of the gateway URL asked for: a session of workspace A never
   * authorizes a client for workspace B's MCP server.
   */
  function loginPolicy(interactionPolicy: typeof import('oidc-provider').interactionPolicy) {
    const policy = interactionPolicy.base();
    policy.get('login')?.checks.add(
      new interactionPolicy.Check(
        'workspace_mismatch',
        "the session's end user belongs to another workspace",
        async (ctx) => {
          const accountId = ctx.oidc.session?.accountId;
          const resource = ctx.oidc.params?.resource;
          if (accountId === undefined || typeof resource !== 'string') {
            return interactionPolicy.Check.NO_NEED_TO_PROMPT;
          }
          const workspaceId = await resourceWorkspace(resource);
          return workspaceId !== parseAccountId(accountId)?.workspaceId
            ? interactionPolicy.Check.REQUEST_PROMPT
            : interactionPolicy.Check.NO_NEED_TO_PROMPT;
        },
      ),
    );
    return policy;
  }

  async function build(): Promise<Provider> {
    const keys = await keyMaterial();
    const { default: Provider, errors, interactionPolicy } = await import('oidc-provider');
    const provider = new Provider(base, {
      adapter,
      clients: [],
      jwks: { keys: [keys.jwk] },
      cookies: { keys: [keys.cookieKey] },
      routes: {
        authorization: `${OAUTH_PREFIX}/authorize`,
        token: `${OAUTH_PREFIX}/token`,
        registration: `${OAUTH_PREFIX}/register`,
        revocation: `${OAUTH_PREFIX}/revoke`,
        jwks: `${OAUTH_PREFIX}/jwks`,
        userinfo: `${OAUTH_PREFIX}/userinfo`,
        end_session: `${OAUTH_PREFIX}/logout`,
        introspection: `${OAUTH_PREFIX}/introspect`,
        pushed_authorization_request: `${OAUTH_PREFIX}/par`,
        code_verification: `${OAUTH_PREFIX}/device`,
        device_authorization: `${OAUTH_PREFIX}/device/auth`,
        backchannel_authentication: `${OAUTH_PREFIX}/backchannel`,
        challenge: `${OAUTH_PREFIX}/challenge`,
      },
      scopes: [MCP_SCOPE, 'offline_access'],
      // The authorization code flow only (OAuth 2.1, as the MCP authorization spec requires).
      responseTypes: ['code'],
      claims: { openid: ['sub'] },
      clientDefaults: {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        // Roster's one signing key is an EC P-256 key.
        id_token_signed_response_alg: 'ES256',
      },
      // PKCE for every client, public or not (S256 is the only method the library accepts).
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        // Open registration (RFC 7591), as the MCP authorization spec expects of MCP clients.
        registration: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resourceIndicator) => {
            if (gatewayFeature(resourceIndicator) === undefined) {
              throw new errors.InvalidTarget(
                `resource must be a gateway URL of this server: ${base}/mcp/<feature id>`,
              );
            }
            return {
              scope: MCP_SCOPE,
              audience: resourceIndicator,
              accessTokenTTL: deps.accessTokenTtlSeconds,
              accessTokenFormat: 'opaque',
            };
          },
        },
      },
      ttl: {
        AccessToken: deps.accessTokenTtlSeconds,
        RefreshToken: REFRESH_TOKEN_TTL_SECONDS,
        AuthorizationCode: 60,
        Interaction: 10 * 60,
        Session: 8 * 60 * 60,
        Grant: REFRESH_TOKEN_TTL_SECONDS,
      },
      // Clients that may refresh get a refresh token (without asking for offline_access).
      issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
      interactions: {
        policy: loginPolicy(interactionPolicy),
        url: (_ctx, interaction) => `${OAUTH_PREFIX}/interaction/${interaction.uid}`,
      },
      findAccount: (_ctx, id) =>
        parseAccountId(id) === undefined
          ? undefined
          : { accountId: id, claims: () => ({ sub: id }) },
      // Consent is the administrator's (the feature's access and policies decide every call):
      // the signed-in end user's grant covers the gateway URL asked for.
      async loadExistingGrant(ctx: KoaContextWithOIDC) {
        const { client, session, params } = ctx.oidc;
        if (client === undefined || session?.accountId === undefined) return undefined;
        const existing = session.grantIdFor(client.clientId);
        const grant =
          (existing === undefined ? undefined : await ctx.oidc.provider.Grant.find(existing)) ??
          new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        const requested = params?.scope;
        const scopes = (typeof requested === 'string' ? requested : '')
          .split(' ')
          .filter((s) => s === 'openid' || s === 'offline_access' || s === MCP_SCOPE);
        if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
        const resource = params?.resource;
        for (const r of Array.isArray(resource) ? resource : [resource]) {
          if (typeof r === 'string') grant.addResourceScope(r, MCP_SCOPE);
        }
        await grant.save();
        return grant;
      },
      renderError: (ctx, out) => {
        // A plain answer (the library's default page is a styled one of its own).
        ctx.type = 'json';
        ctx.body = out;
      },
    });
    // URLs are built from ROSTER_PUBLIC_URL (see routes: the forwarded headers are set there).
    provider.proxy = true;
    return provider;
  }

  const environments = new Map<
    number,
    { workspaceId: number; environmentId: number; environmentType: string }
  >();

  let providing: Promise<Provider> | undefined;
  const provider = (): Promise<Provider> => {
    providing ??= build().catch((error: unknown) => {
      providing = undefined;
      throw error;
    });
    return providing;
  };

  return {
    provider,
    /** ROSTER_PUBLIC_URL without a trailing slash: the issuer. */
    base,
    gatewayFeature,
    resourceWorkspace,
    /** The public URL's host and scheme, which the provider builds every URL from. */
    publicHost: publicUrl.host,
    publicProto: publicUrl.protocol.replace(':', ''),

    /** The access token a gateway caller sent, when it is one the library issued and still valid. */
    async verifyAccessToken(token: string): Promise<GatewayToken | undefined> {
      if (token.length > 512) return undefined;
      const p = await provider();
      let found: AccessToken | undefined;
      try {
        found = await p.AccessToken.find(token);
      } catch {
        // Malformed values are unknown tokens.
        return undefined;
      }
      if (found === undefined || found.isExpired) return undefined;
      const { accountId, clientId } = found;
      const account = parseAccountId(accountId);
      if (account === undefined || clientId === undefined) return undefined;
      const client = await p.Client.find(clientId);
      if (client === undefined) return undefined;
      const aud = found.aud;
      return {
        ...account,
        clientId,
        clientName: typeof client.clientName === 'string' ? client.clientName : null,
        audience:
          typeof aud === 'string'
            ? aud
            : Array.isArray(aud) && aud.length === 1
              ? (aud[0] ?? null)
              : null,
      };
    },

    /**
     * Finishes the authorization request `uid` as the end user a workspace SSO sign-in proved,
     * or with an OAuth error; answers where to send the browser (back to the library, which
     * redirects to the client). undefined: the request expired or is unknown.
     */
    async finishInteraction(
      uid: string,
      result: { accountId: string } | { error: string; description: string },
    ): Promise<string | undefined> {
      const p = await provider();
      const interaction = await p.Interaction.find(uid);
      if (interaction === undefined) return undefined;
      interaction.result =
        'accountId' in result
          ? { login: { accountId: result.accountId } }
          : { error: result.error, error_description: result.description };
      const remaining = interaction.exp - Math.floor(now().getTime() / 1000);
      if (remaining <= 0) return undefined;
      await interaction.save(remaining);
      return interaction.returnTo;
    },

    /**
     * The workspace and environment of a feature, for a gateway call with an OAuth token. Cached:
     * a feature never moves; a deleted one is refused by the gateway's decision anyway.
     */
    async featureEnvironment(featureId: number) {
      const cached = environments.get(featureId);
      if (cached !== undefined) return cached;
      const row = await deps.db
        .selectFrom('features')
        .innerJoin('environments', 'environments.id', 'features.environment_id')
        .select([
          'features.workspace_id as workspaceId',
          'features.environment_id as environmentId',
          'environments.type as environmentType',
        ])
        .where('features.id', '=', featureId)
        .where('features.kind', '=', 'mcp_server')
        .executeTakeFirst();
      if (row === undefined) return undefined;
      if (environments.size >= 10_000) environments.clear();
      environments.set(featureId, row);
      return row;
    },

    cleanup: () => deleteExpiredOauthRecords(deps.db, now()),
  };
}
export type OauthService = ReturnType<typeof createOauthService>;
