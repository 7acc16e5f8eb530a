import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorBody, SsoSignIn } from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { readCookie } from '../../http/cookies.js';
import {
  SignInError,
  SSO_CALLBACK_PATH,
  SSO_LOGIN_PATH,
  type SsoService,
  type VerifiedSignIn,
} from './sso.service.js';

const tags = ['SSO'];

/** Binds a login attempt to the browser that started it (see sso.service.ts). */
export const SSO_STATE_COOKIE = 'roster_sso_state';

/** Administrators' side, behind API-client auth. */
export function registerSsoRoutes(app: Api, sso: SsoService): void {
  app.get(
    '/sso/oidc',
    {
      schema: {
        tags,
        summary: "The workspace's OpenID Connect connection",
        description:
          'The client secret is never returned; `client_secret_set` says whether one is stored.',
        ...schemaOf('getSsoOidc'),
      },
    },
    async (request) => ({ data: await sso.getConnection(contextOf(request)) }),
  );
  app.put(
    '/sso/oidc',
    {
      schema: {
        tags,
        summary: 'Configure the OpenID Connect connection',
        description:
          'Creates or replaces the connection. `client_secret` is write-only: required the first time, kept when left out later. The issuer must use https (http only for localhost).',
        ...schemaOf('putSsoOidc'),
      },
    },
    async (request) => ({ data: await sso.putConnection(contextOf(request), request.body) }),
  );
  app.delete(
    '/sso/oidc',
    {
      schema: {
        tags,
        summary: 'Remove the OpenID Connect connection',
        description: 'End users created by SSO stay; they can no longer sign in through it.',
        ...schemaOf('deleteSsoOidc'),
      },
    },
    async (request, reply) => {
      await sso.deleteConnection(contextOf(request));
      return reply.status(204).send(null);
    },
  );
}

/** A browser asks for HTML; scripts and tests get the same answers as JSON. */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small self-contained page (sign-in results and failures); `back` links to where to try again. */
export function page(
  title: string,
  message: string,
  back?: { href: string; label: string },
): string {
  const link =
    back === undefined
      ? ''
      : `<p><a href="${escapeHtml(back.href)}">${escapeHtml(back.label)}</a></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2328}h1{font-size:1.4rem}a{color:#0969da}</style>
</head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${link}</main></body></html>`;
}

/** The console's sign-in page, where a failed console sign-in sends the user back. */
const CONSOLE_SIGN_IN = { href: '/sign-in', label: 'Back to the sign-in page' };

/**
 * What the admin console does with a verified console sign-in (modules/console provides it):
 * open a session and answer (a redirect for browsers). Without it console attempts are refused.
 */
export type ConsoleSsoSignIn = (
  signIn: VerifiedSignIn,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply>;

export function stateCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SSO_STATE_COOKIE}=${encodeURIComponent(value)}`,
    // Only the callback needs it.
    `Path=${SSO_CALLBACK_PATH}`,
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    // Lax: sent on the provider's top-level redirect back, not on cross-site subrequests.
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * Sign-in failures are pages for browsers and the usual error body for everyone else. `back()`
 * says where the page links to try again, once that is known (console sign-ins).
 */
export async function signInPage(
  request: FastifyRequest,
  reply: FastifyReply,
  action: (reply: FastifyReply) => Promise<FastifyReply>,
  back: () => { href: string; label: string } | undefined = () => undefined,
): Promise<void> {
  try {
    await action(reply);
  } catch (error) {
    if (error instanceof SignInError && wantsHtml(request)) {
      await reply
        .status(error.status)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(
          page(
            error.status === 403 ? 'Sign-in not allowed' : 'Sign-in failed',
            error.message,
            back(),
          ),
        );
    }
    throw error;
  }
}

/**
 * End users' side: no API token; the provider's signed answer is the credential. The callback
 * also finishes console sign-ins (started at `/api/console/sso/login`), handed to `consoleSignIn`.
 */
export function registerPublicSsoRoutes(
  app: Api,
  sso: SsoService,
  consoleSignIn?: ConsoleSsoSignIn,
  /** What an MCP client's OAuth authorization does with a verified sign-in (modules/oauth). */
  mcpSignIn?: ConsoleSsoSignIn,
): void {
  app.get(
    SSO_LOGIN_PATH,
    {
      schema: {
        tags,
        summary: 'Start an OpenID Connect sign-in',
        description:
          'Redirects (302) to the provider with state, nonce and PKCE. 404 when the workspace has no enabled connection.',
        ...schemaOf('ssoLogin', { 400: ErrorBody, 404: ErrorBody, 502: ErrorBody }),
      },
    },
    (request, typedReply) =>
      // The reply is HTML or a redirect as often as JSON: it is sent untyped.
      signInPage(request, typedReply as FastifyReply, async (reply) => {
        const started = await sso.startLogin(Number(request.query.workspace));
        return reply
          .header('set-cookie', stateCookie(started.state, started.maxAgeSeconds, sso.cookieSecure))
          .header('cache-control', 'no-store')
          .redirect(started.location, 302);
      }),
  );
  app.get(
    SSO_CALLBACK_PATH,
    {
      schema: {
        tags,
        summary: 'OpenID Connect callback (the redirect URI)',
        description:
          'Exchanges the code, validates the ID token, and finds or creates the end user (just-in-time), with groups from the configured claim. Browsers get an HTML page, other clients JSON. For a console sign-in (started at /api/console/sso/login) it opens a console session instead: browsers are redirected to the console, other clients get the session.',
        ...schemaOf('ssoCallback', {
          400: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          502: ErrorBody,
        }),
      },
    },
    (request, typedReply) => {
      let purpose: VerifiedSignIn['purpose'] | undefined;
      // The reply is HTML, a redirect or JSON: it is sent untyped.
      return signInPage(
        request,
        typedReply,
        async (reply) => {
          const queryIndex = request.url.indexOf('?');
          const rawQuery = queryIndex === -1 ? '' : request.url.slice(queryIndex + 1);
          // The attempt is used (or refused) either way: the cookie has done its job.
          void reply
            .header('set-cookie', stateCookie('', 0, sso.cookieSecure))
            .header('cache-control', 'no-store');
          const verified = await sso.verifyCallback(
            request.query,
            rawQuery,
            readCookie(request, SSO_STATE_COOKIE),
          );
          purpose = verified.purpose;
          if (verified.purpose === 'console') {
            if (consoleSignIn === undefined) {
              throw new SignInError(
                404,
                'sso.console_disabled',
                'Console sign-in is not available',
              );
            }
            return consoleSignIn(verified, request, reply);
          }
          if (verified.purpose === 'mcp') {
            if (mcpSignIn === undefined) {
              throw new SignInError(404, 'sso.mcp_disabled', 'MCP client sign-in is not available');
            }
            return mcpSignIn(verified, request, reply);
          }
          return portalAnswer(request, reply, await sso.provision(verified));
        },
        () => (purpose === 'console' ? CONSOLE_SIGN_IN : undefined),
      );
    },
  );
}

/** The portal's answer: a short page for browsers, the sign-in as JSON for other clients. */
function portalAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  result: SsoSignIn,
): FastifyReply {
  if (wantsHtml(request)) {
    return reply
      .type('text/html; charset=utf-8')
      .send(
        page(
          result.created ? 'Welcome' : 'Signed in',
          `You are signed in as ${result.end_user.email}. ${result.created ? 'Your account has been created. ' : ''}You can close this page.`,
        ),
      );
  }
  return reply.send({ data: result });
}
