/**
 * Who is calling the MCP gateway. One function turns the request's credential into a caller, so
 * a second kind of credential (an OAuth access token naming the end user, for interactive MCP
 * clients) is one more branch here and nothing else in the gateway changes: the gateway only
 * reads the GatewayCaller.
 *
 * Accepted: `Authorization: Bearer <agent token>`, and `Bearer <OAuth access token>` issued by
 * Roster to an interactive MCP client (modules/oauth) for this very gateway URL: the call is the
 * end user's own (no agent restriction). Refused: API-client tokens and console sessions (cookies
 * are not read here at all), agents that are unknown, rotated away, disabled or expired, and OAuth
 * tokens that are unknown, expired, revoked or bound to another gateway URL; each refusal says
 * which. Every 401 carries `WWW-Authenticate: Bearer resource_metadata="…"` (the MCP
 * authorization spec): where an interactive client discovers how to get a token.
 */
import type { Actor } from '../../lib/context.js';
import { AppError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { AGENT_TOKEN_PREFIX, type AgentIdentity } from '../agents/agents.service.js';
import type { GatewayToken } from '../oauth/oauth.service.js';

export interface GatewayCaller {
  /** The kind of credential: an agent token, or an OAuth access token naming the end user. */
  kind: 'agent' | 'oauth';
  workspaceId: number;
  environmentId: number;
  environmentType: string;
  /** The end user on whose behalf the call runs: their own decision applies to every call. */
  endUserId: number;
  /**
   * What the credential itself allows: per feature ID, the tools (null: every tool). null: no
   * limit beyond the end user's own decision (what an OAuth token naming the user would carry).
   */
  features: ReadonlyMap<number, ReadonlySet<string> | null> | null;
  /** The actor of records and of approval requests the caller opens. */
  actor: Actor & { id: string; name: string };
  /** For `oauth` callers: the registered OAuth client the person authorized. */
  client?: { id: string; name: string | null };
}

const API_CLIENT_TOKEN_PREFIX = 'rst_';

/** Where a client finds how to get a token for this gateway URL (RFC 9728). */
export function resourceMetadataUrl(publicUrl: string, featureId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/.well-known/oauth-protected-resource/mcp/${featureId}`;
}

/** The OAuth side the gateway needs (modules/oauth), absent on servers built without it. */
export interface GatewayOauth {
  verifyAccessToken(token: string): Promise<GatewayToken | undefined>;
  /** The workspace and environment of a feature (undefined: no such feature). */
  featureEnvironment(
    featureId: number,
  ): Promise<{ workspaceId: number; environmentId: number; environmentType: string } | undefined>;
}

function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}

export function createGatewayAuthenticator(deps: {
  agents: { authenticateAgent(token: string): Promise<AgentIdentity | undefined> };
  clock: Clock;
  publicUrl: string;
  oauth?: GatewayOauth;
}) {
  return async function authenticateCaller(
    authorization: string | undefined,
    rawFeatureId: string,
  ): Promise<GatewayCaller> {
    const featureId = /^\d{1,10}$/.test(rawFeatureId) ? rawFeatureId : undefined;
    const refused = (status: 401 | 403, code: string, message: string, error = true): AppError => {
      // The message is in the body: header values must stay ASCII (agent names need not be).
      const params = [
        'realm="roster-mcp"',
        ...(featureId === undefined
          ? []
          : [`resource_metadata="${resourceMetadataUrl(deps.publicUrl, featureId)}"`]),
        // RFC 6750: no error code when the request carried no credential at all.
        ...(error ? [status === 403 ? 'error="insufficient_scope"' : 'error="invalid_token"'] : []),
      ];
      return new AppError(status, code, message, {
        'www-authenticate': `Bearer ${params.join(', ')}`,
      });
    };
    const token = bearer(authorization);
    if (token === undefined) {
      throw refused(
        401,
        'gateway.credential_missing',
        'Missing bearer token: send Authorization: Bearer <agent token or OAuth access token>',
        false,
      );
    }
    if (token.startsWith(API_CLIENT_TOKEN_PREFIX)) {
      throw refused(
        401,
        'gateway.credential_kind',
        'API-client tokens are not gateway credentials: create an agent (POST /api/agents) and use its token',
      );
    }
    if (!token.startsWith(`${AGENT_TOKEN_PREFIX}_`) && deps.oauth !== undefined) {
      const resource =
        featureId === undefined
          ? undefined
          : `${deps.publicUrl.replace(/\/+$/, '')}/mcp/${featureId}`;
      return oauthCaller(deps.oauth, token, featureId, resource, refused);
    }
    const agent = token.startsWith(`${AGENT_TOKEN_PREFIX}_`)
      ? await deps.agents.authenticateAgent(token)
      : undefined;
    if (agent === undefined) {
      throw refused(
        401,
        'gateway.credential_invalid',
        'Invalid agent token (unknown, or replaced by a rotation)',
      );
    }
    if (agent.disabled) {
      throw refused(403, 'gateway.agent_disabled', `Agent "${agent.name}" is disabled`);
    }
    if (agent.expiresAt !== null && Date.parse(agent.expiresAt) <= deps.clock.now().getTime()) {
      throw refused(
        401,
        'gateway.agent_expired',
        `Agent "${agent.name}" expired at ${agent.expiresAt}`,
      );
    }
    return {
      kind: 'agent',
      workspaceId: agent.workspaceId,
      environmentId: agent.environmentId,
      environmentType: agent.environmentType,
      endUserId: agent.endUserId,
      features: agent.features,
      actor: { type: 'agent', id: String(agent.id), name: agent.name },
    };
  };
}

/**
 * An OAuth access token's caller: the end user it names, in the workspace and environment of the
 * feature it is bound to. Only the token's validity is read here (from the shared store, on every
 * call); whether the end user may act (locked, access, policies) is the index's decision per call.
 */
async function oauthCaller(
  oauth: GatewayOauth,
  token: string,
  featureId: string | undefined,
  /** This gateway URL: the token's audience must be exactly it (RFC 8707). */
  resource: string | undefined,
  refused: (status: 401 | 403, code: string, message: string) => AppError,
): Promise<GatewayCaller> {
  const found = await oauth.verifyAccessToken(token);
  if (found === undefined) {
    throw refused(
      401,
      'gateway.credential_invalid',
      'Invalid agent token or OAuth access token (unknown, expired, revoked, or replaced by a rotation)',
    );
  }
  const feature =
    featureId === undefined ? undefined : await oauth.featureEnvironment(Number(featureId));
  if (
    feature === undefined ||
    resource === undefined ||
    found.audience !== resource ||
    feature.workspaceId !== found.workspaceId
  ) {
    throw refused(
      401,
      'gateway.token_audience',
      `This OAuth access token was issued for ${found.audience ?? 'no gateway URL'}, not for this one: request a token for this gateway URL (resource indicator)`,
    );
  }
  return {
    kind: 'oauth',
    workspaceId: found.workspaceId,
    environmentId: feature.environmentId,
    environmentType: feature.environmentType,
    endUserId: found.endUserId,
    features: null,
    actor: {
      type: 'end_user',
      id: String(found.endUserId),
      name: `end user ${String(found.endUserId)}`,
    },
    client: { id: found.clientId, name: found.clientName },
  };
}
export type GatewayAuthenticator = ReturnType<typeof createGatewayAuthenticator>;
