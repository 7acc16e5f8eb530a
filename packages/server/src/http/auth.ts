/**
 * Bearer-token authentication for the workspace API (API clients) and the platform API
 * (ROSTER_PLATFORM_TOKEN). Tokens are compared by hash in constant time. The workspace API also
 * takes the admin console's session cookie instead of a token; writes made with the cookie must
 * echo the session's CSRF token in X-CSRF-Token (double submit), and Read Only sessions cannot write.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../lib/context.js';
import { AppError, forbidden } from '../lib/errors.js';
import { hashSecret, secretMatches } from '../lib/secrets.js';

function bearerToken(request: FastifyRequest): string | undefined {
  return bearerTokenOf(request.headers.authorization);
}

function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

const unauthorized = (message: string) =>
  new AppError(401, 'auth.invalid', message, { 'www-authenticate': 'Bearer realm="roster"' });

/** What the auth hook needs of the console's sessions (modules/console). */
export interface SessionFacts {
  csrfHash: string;
  writableEnvironmentTypes: string[];
}
export interface SessionAuthenticator<S extends SessionFacts = SessionFacts> {
  cookieName: string;
  csrfHeader: string;
  authenticate(token: string): Promise<S | undefined>;
  contextFor(session: S, write: boolean): RequestContext;
  readCookie(request: FastifyRequest, name: string): string | undefined;
}

/**
 * The access checks: POSTs that only ask a question. They store nothing, so they are not writes
 * (Read Only sessions may ask), need no NUL scan and no index sync afterwards (app.ts).
 */
export function isAccessQuestion(request: FastifyRequest): boolean {
  return request.method === 'POST' && /^\/api\/access\/check(_batch)?(\?|$)/.test(request.url);
}

function isWrite(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS')
    return false;
  return !isAccessQuestion(request);
}

async function sessionContext<S extends SessionFacts>(
  request: FastifyRequest,
  sessions: SessionAuthenticator<S>,
  token: string,
): Promise<RequestContext> {
  const session = await sessions.authenticate(token);
  if (session === undefined) throw unauthorized('Your console session has expired: sign in again');
  const write = isWrite(request);
  if (write) {
    const csrf = request.headers[sessions.csrfHeader];
    if (typeof csrf !== 'string' || !secretMatches(csrf, session.csrfHash)) {
      throw forbidden('auth.csrf', 'Missing or wrong X-CSRF-Token header');
    }
    if (session.writableEnvironmentTypes.length === 0) {
      throw forbidden(
        'auth.read_only',
        'Read Only console users can see everything but change nothing',
      );
    }
  }
  return sessions.contextFor(session, write);
}

/** An API client as the auth hook needs it. */
interface AuthenticatedClient {
  row: { id: number; workspace_id: number; name: string };
  scope: RequestContext['scope'];
}

/**
 * What bearer-token authentication needs of the API clients module, passed in by app.ts: http/
 * imports no module (docs/architecture.md).
 */
export interface ClientAuthenticator {
  /** The client of a token already in the cache, or undefined (not cached: ask below). */
  cachedClient(token: string): AuthenticatedClient | undefined;
  authenticateClient(token: string): Promise<AuthenticatedClient | undefined>;
}

function clientContext(client: AuthenticatedClient): RequestContext {
  return {
    workspaceId: client.row.workspace_id,
    actor: { type: 'api_client', id: String(client.row.id), name: client.row.name },
    scope: client.scope,
  };
}

/**
 * The context of a request whose bearer token belongs to a cached API client, or undefined (no
 * token, or not cached: the hook below asks the database, or the console session). The auth hook
 * and the lean check path (modules/decisions/decisions.lean.ts) both authenticate through it.
 */
export function cachedClientContext(
  apiClients: ClientAuthenticator,
  authorization: string | undefined,
): RequestContext | undefined {
  const token = bearerTokenOf(authorization);
  const cached = token === undefined ? undefined : apiClients.cachedClient(token);
  return cached === undefined ? undefined : clientContext(cached);
}

/**
 * The workspace API's onRequest hook. A callback hook, not an async one: a token whose client is
 * cached (rotate and revoke evict it, api-clients.service.ts) authenticates without a promise or
 * a trip through the microtask queue; only a cache miss or a console session waits.
 */
export function apiClientAuth<S extends SessionFacts>(
  apiClients: ClientAuthenticator,
  sessions?: SessionAuthenticator<S>,
) {
  const authenticate = async (request: FastifyRequest, token: string | undefined) => {
    const sessionToken =
      token === undefined && sessions !== undefined
        ? sessions.readCookie(request, sessions.cookieName)
        : undefined;
    if (sessions !== undefined && sessionToken !== undefined) {
      request.ctx = await sessionContext(request, sessions, sessionToken);
      return;
    }
    if (token === undefined)
      throw unauthorized('Missing bearer token: send Authorization: Bearer <api_token>');
    const client = await apiClients.authenticateClient(token);
    if (client === undefined) throw unauthorized('Invalid or revoked API token');
    request.ctx = clientContext(client);
  };
  return (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void => {
    // Already authenticated: a signed hop from another instance of the cluster (modules/cluster).
    if (request.ctx !== null) {
      done();
      return;
    }
    const cached = cachedClientContext(apiClients, request.headers.authorization);
    if (cached !== undefined) {
      request.ctx = cached;
      done();
      return;
    }
    authenticate(request, bearerToken(request)).then(
      () => {
        done();
      },
      (error: unknown) => {
        done(error instanceof Error ? error : new Error(String(error)));
      },
    );
  };
}

export function platformAuth(platformToken: string | undefined) {
  const expectedHash = platformToken === undefined ? undefined : hashSecret(platformToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (expectedHash === undefined) {
      throw new AppError(
        404,
        'platform.disabled',
        'The platform API is off: set ROSTER_PLATFORM_TOKEN to enable it',
      );
    }
    const token = bearerToken(request);
    if (token === undefined || !secretMatches(token, expectedHash))
      throw unauthorized('Invalid platform token');
    await Promise.resolve();
  };
}
