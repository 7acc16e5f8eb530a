/**
 * Who is calling the MCP gateway. One function turns the request's credential into a caller, so
 * a second kind of credential (an OAuth access token naming the end user, for interactive MCP
 * clients) is one more branch here and nothing else in the gateway changes: the gateway only
 * reads the GatewayCaller.
 *
 * Accepted today: `Authorization: Bearer <agent token>`. Refused: API-client tokens and console
 * sessions (cookies are not read here at all), and agents that are unknown, rotated away,
 * disabled or expired; each refusal says which.
 */
import type { Actor } from '../../lib/context.js';
import { AppError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';
import { AGENT_TOKEN_PREFIX, type AgentIdentity } from '../agents/agents.service.js';

export interface GatewayCaller {
  /** The kind of credential; `agent` only for now. */
  kind: 'agent';
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
}

const API_CLIENT_TOKEN_PREFIX = 'rst_';

function refused(status: 401 | 403, code: string, message: string): AppError {
  // The message is in the body: header values must stay ASCII (agent names need not be).
  return new AppError(status, code, message, {
    'www-authenticate': 'Bearer realm="roster-mcp", error="invalid_token"',
  });
}

function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
}

export function createGatewayAuthenticator(deps: {
  agents: { authenticateAgent(token: string): Promise<AgentIdentity | undefined> };
  clock: Clock;
}) {
  return async function authenticateCaller(
    authorization: string | undefined,
  ): Promise<GatewayCaller> {
    const token = bearer(authorization);
    if (token === undefined) {
      throw refused(
        401,
        'gateway.credential_missing',
        'Missing bearer token: send Authorization: Bearer <agent token>',
      );
    }
    if (token.startsWith(API_CLIENT_TOKEN_PREFIX)) {
      throw refused(
        401,
        'gateway.credential_kind',
        'API-client tokens are not gateway credentials: create an agent (POST /api/agents) and use its token',
      );
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
export type GatewayAuthenticator = ReturnType<typeof createGatewayAuthenticator>;
