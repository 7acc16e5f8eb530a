/**
 * The HTTP side of Roster's OAuth authorization server (oauth.service.ts) and of the gateway's
 * protected-resource metadata:
 *
 * - `GET /.well-known/oauth-protected-resource/mcp/<feature id>` (RFC 9728): what a 401 from
 *   the gateway points an MCP client to; names the gateway URL and Roster as its server.
 * - `GET /.well-known/oauth-authorization-server` (RFC 8414) and
 *   `/.well-known/openid-configuration`: the library's metadata.
 * - `/oauth/*`: the library's endpoints (authorize, token, register, revoke, …), answered by
 *   oidc-provider itself, errors included (RFC 6749/7591 error bodies, never a 500 for bad input).
 * - `GET /oauth/interaction/<uid>`: the sign-in step. The person signs in at the workspace's
 *   OIDC connection (modules/sso, purpose `mcp`); its callback (`/sso/oidc/callback`) comes back
 *   to `mcpSignIn`, which provisions the end user as a portal sign-in does and finishes the
 *   authorization as that end user (or with `access_denied`, e.g. a locked user).
 *
 * The bodies are the library's to read: this scope registers a content-type parser that reads
 * nothing. URLs are built from ROSTER_PUBLIC_URL whatever Host a request came with: the
 * forwarded host and scheme are set from it before the library sees the request.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Type } from 'typebox';
import type { Api } from '../../http/types.js';
import { AppError, notFound } from '../../lib/errors.js';
import { SignInError, type SsoService, type VerifiedSignIn } from '../sso/sso.service.js';
import { stateCookie } from '../sso/sso.routes.js';
import { accountIdOf, MCP_SCOPE, OAUTH_PREFIX, type OauthService } from './oauth.service.js';

export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

const ResourceParams = Type.Object({ featureId: Type.String({ maxLength: 64 }) });
const InteractionParams = Type.Object({ uid: Type.String({ maxLength: 128 }) });

const expired = () =>
  new SignInError(
    400,
    'oauth.interaction_unknown',
    'This authorization request is unknown or has expired (or was started in another browser): start again from your MCP client',
  );

export function registerOauthRoutes(
  app: Api,
  deps: { oauth: OauthService; sso: SsoService },
): void {
  const { oauth, sso } = deps;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(null, undefined);
  });

  let callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  async function toProvider(request: FastifyRequest, reply: FastifyReply, url?: string) {
    const provider = await oauth.provider();
    callback ??= provider.callback() as (
      req: IncomingMessage,
      res: ServerResponse,
    ) => Promise<void>;
    const raw = request.raw;
    if (url !== undefined) raw.url = url;
    raw.headers['x-forwarded-host'] = oauth.publicHost;
    raw.headers['x-forwarded-proto'] = oauth.publicProto;
    reply.hijack();
    await callback(raw, reply.raw);
  }

  app.get(
    `${PROTECTED_RESOURCE_PATH}/mcp/:featureId`,
    { schema: { hide: true, params: ResourceParams } },
    (request, reply) => {
      // The same answer for every well-formed feature ID, existing or not: the metadata names only
      // the resource URL and the authorization server, and a 404 for an unknown ID would tell
      // anyone, unauthenticated, which MCP features exist. Whether the resource exists is
      // checked when a token is asked for it (and by the gateway, after authentication).
      if (!/^\d{1,10}$/.test(request.params.featureId)) {
        throw notFound('feature.not_found', 'No MCP server feature at this gateway URL');
      }
      const resource = `${oauth.base}/mcp/${request.params.featureId}`;
      return reply.header('cache-control', 'public, max-age=300').send({
        resource,
        authorization_servers: [oauth.base],
        scopes_supported: [MCP_SCOPE],
        bearer_methods_supported: ['header'],
        resource_documentation: `${oauth.base}/api/docs`,
      });
    },
  );

  app.get('/.well-known/oauth-authorization-server', { schema: { hide: true } }, (request, reply) =>
    toProvider(request, reply, '/.well-known/openid-configuration'),
  );
  app.get('/.well-known/openid-configuration', { schema: { hide: true } }, (request, reply) =>
    toProvider(request, reply),
  );

  app.get(
    `${OAUTH_PREFIX}/interaction/:uid`,
    { schema: { hide: true, params: InteractionParams } },
    async (request, reply) => {
      const provider = await oauth.provider();
      const uid = request.params.uid;
      // Expired records are never answered; each new sign-in sweeps them (as SSO attempts are).
      await oauth.cleanup();
      let details: Awaited<ReturnType<typeof provider.interactionDetails>>;
      try {
        details = await provider.interactionDetails(request.raw, reply.raw);
      } catch {
        throw expired();
      }
      if (details.uid !== uid) throw expired();
      const refuse = async (error: string, description: string) => {
        const returnTo = await oauth.finishInteraction(uid, { error, description });
        if (returnTo === undefined) throw expired();
        return reply.header('cache-control', 'no-store').redirect(returnTo, 303);
      };
      const resource = details.params.resource;
      if (typeof resource !== 'string') {
        return refuse(
          'invalid_target',
          `resource is required: the gateway URL (${oauth.base}/mcp/<feature id>) the token is for`,
        );
      }
      const workspaceId = await oauth.resourceWorkspace(resource);
      if (workspaceId === undefined) {
        return refuse('invalid_target', `${resource} is not an MCP server of this Roster`);
      }
      let started: Awaited<ReturnType<SsoService['startLogin']>>;
      try {
        started = await sso.startLogin(workspaceId, 'mcp', uid);
      } catch (error) {
        if (error instanceof AppError) return refuse('access_denied', error.message);
        throw error;
      }
      return reply
        .header('set-cookie', stateCookie(started.state, started.maxAgeSeconds, sso.cookieSecure))
        .header('cache-control', 'no-store')
        .redirect(started.location, 302);
    },
  );

  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    url: `${OAUTH_PREFIX}/*`,
    schema: { hide: true },
    handler: (request, reply) => toProvider(request, reply),
  });
}

/**
 * The SSO callback's answer to an `mcp` sign-in: the end user is found or created as for a portal
 * sign-in (locked and deactivated users refused), and the authorization request finishes as them
 * (the library then redirects to the MCP client with a code), or with `access_denied`.
 */
export function mcpSignIn(deps: { oauth: OauthService; sso: SsoService }) {
  return async (
    verified: VerifiedSignIn,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> => {
    const uid = verified.oauthInteraction;
    if (uid === null) throw expired();
    let result: { accountId: string } | { error: string; description: string };
    try {
      const signIn = await deps.sso.provision(verified);
      result = { accountId: accountIdOf(verified.workspaceId, signIn.end_user.id) };
    } catch (error) {
      if (!(error instanceof SignInError)) throw error;
      result = { error: 'access_denied', description: error.message };
    }
    const returnTo = await deps.oauth.finishInteraction(uid, result);
    if (returnTo === undefined) throw expired();
    return reply.redirect(returnTo, 303);
  };
}
