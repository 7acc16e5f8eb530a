import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { AppError } from '../../lib/errors.js';
import { secretMatches } from '../../lib/secrets.js';
import {
  CSRF_COOKIE,
  CSRF_HEADER,
  SESSION_COOKIE,
  clearSessionCookies,
  readCookie,
  setSessionCookies,
  type CookieOptions,
} from '../../http/cookies.js';
import type { ConsoleService } from './console.service.js';
import { SignInError, type SsoService } from '../sso/sso.service.js';
import { signInPage, stateCookie } from '../sso/sso.routes.js';

/** Where the console's "Sign in with SSO" button sends the browser. */
export const CONSOLE_SSO_LOGIN_PATH = '/api/console/sso/login';

const tags = ['Console'];
const signedOut = () => new AppError(401, 'console.signed_out', 'Not signed in');

/** `/api/console/*`: the console's sign-in, setup and invitation acceptance. No API token needed. */
export function registerConsoleRoutes(
  app: Api,
  consoleService: ConsoleService,
  sso: SsoService,
  cookies: CookieOptions & { maxAgeSeconds: number },
): void {
  async function currentSession(request: FastifyRequest) {
    const token = readCookie(request, SESSION_COOKIE);
    const session = token === undefined ? undefined : await consoleService.authenticate(token);
    if (token === undefined || session === undefined) throw signedOut();
    return { token, session };
  }

  app.get(
    '/session',
    {
      schema: {
        tags,
        summary: 'The signed-in console user',
        security: [],
        ...schemaOf('getSession'),
      },
    },
    async (request) => {
      const { session } = await currentSession(request);
      const csrfToken = readCookie(request, CSRF_COOKIE);
      // The CSRF cookie goes with the session; without it the session cannot write, so start over.
      if (csrfToken === undefined || !secretMatches(csrfToken, session.csrfHash)) throw signedOut();
      return { data: consoleService.present(session, csrfToken) };
    },
  );
  app.post(
    '/session',
    {
      config: { rateLimit: false },
      schema: {
        tags,
        summary: 'Sign in with email and password',
        description:
          'Sets the HTTP-only session cookie and the CSRF cookie. Failed attempts are limited per email and per client IP (429).',
        security: [],
        ...schemaOf('signIn'),
      },
    },
    async (request, reply) => {
      const { token, csrfToken, session } = await consoleService.signIn(request.body, request.ip);
      setSessionCookies(reply, { token, csrfToken, maxAgeSeconds: cookies.maxAgeSeconds }, cookies);
      return { data: consoleService.present(session, csrfToken) };
    },
  );
  app.delete(
    '/session',
    {
      schema: {
        tags,
        summary: 'Sign out',
        security: [],
        ...schemaOf('signOut'),
      },
    },
    async (request, reply) => {
      const token = readCookie(request, SESSION_COOKIE);
      if (token !== undefined) {
        const session = await consoleService.authenticate(token);
        const header = request.headers[CSRF_HEADER];
        if (
          session !== undefined &&
          (typeof header !== 'string' || !secretMatches(header, session.csrfHash))
        ) {
          throw new AppError(403, 'console.csrf', 'Missing or wrong X-CSRF-Token header');
        }
        await consoleService.signOut(token);
      }
      clearSessionCookies(reply, cookies);
      return reply.status(204).send(null);
    },
  );
  app.get(
    '/sso',
    {
      schema: {
        tags,
        summary: 'Whether the sign-in page offers "Sign in with SSO"',
        description:
          'True when the workspace (`workspace`, or the only workspace with one) has an enabled OpenID Connect connection with `console_sign_in` on. Collaborators, and end users in a group with the Admin or Read Only role, sign in with it when the provider says `email_verified: true`; see docs/sso.md.',
        security: [],
        ...schemaOf('getSso'),
      },
    },
    async (request) => {
      const requested = request.query.workspace;
      const workspaceId = await sso.consoleWorkspace(
        requested === undefined ? undefined : Number(requested),
      );
      return {
        data: {
          available: workspaceId !== undefined,
          login_url:
            workspaceId === undefined ? null : `${CONSOLE_SSO_LOGIN_PATH}?workspace=${workspaceId}`,
        },
      };
    },
  );
  app.get(
    '/sso/login',
    {
      // Not exempt from the per-IP limit: every call stores a login attempt (state, nonce, PKCE).
      schema: {
        tags,
        summary: 'Start a console sign-in through the OpenID Connect connection',
        description:
          'Redirects (302) to the provider with state, nonce and PKCE; the provider sends the browser back to /sso/oidc/callback, which opens the console session and redirects to the console. 404 when no enabled connection with `console_sign_in` applies. Counts against the per-IP request limit (429).',
        security: [],
        ...schemaOf('consoleSsoLogin'),
      },
    },
    (request, typedReply) =>
      // The reply is HTML or a redirect as often as JSON: it is sent untyped.
      signInPage(
        request,
        typedReply as FastifyReply,
        async (reply) => {
          const requested = request.query.workspace;
          const workspaceId = await sso.consoleWorkspace(
            requested === undefined ? undefined : Number(requested),
          );
          if (workspaceId === undefined) {
            throw new SignInError(
              404,
              'sso.not_configured',
              'Single sign-on is not enabled for this workspace',
            );
          }
          const started = await sso.startLogin(workspaceId, 'console');
          return reply
            .header(
              'set-cookie',
              stateCookie(started.state, started.maxAgeSeconds, sso.cookieSecure),
            )
            .header('cache-control', 'no-store')
            .redirect(started.location, 302);
        },
        () => ({ href: '/sign-in', label: 'Back to the sign-in page' }),
      ),
  );
  app.get(
    '/setup',
    {
      schema: {
        tags,
        summary: 'Whether the console still needs its first admin',
        security: [],
        ...schemaOf('getSetup', {}),
      },
    },
    async () => ({ data: { setup_required: await consoleService.setupRequired() } }),
  );
  app.post(
    '/setup',
    {
      schema: {
        tags,
        summary: 'Create the first console admin with the workspace admin API token',
        description:
          'Once per workspace: the collaborator gets Admin in every environment and the password given.',
        security: [],
        ...schemaOf('setup'),
      },
    },
    async (request, reply) => {
      await consoleService.setup(request.body);
      return reply.status(201).send({ data: null });
    },
  );
  app.post(
    '/invitations/:token/accept',
    {
      schema: {
        tags,
        summary: 'Accept a collaborator invitation with a name and a console password',
        security: [],
        ...schemaOf('acceptInvitationWithPassword'),
      },
    },
    async (request, reply) => {
      const member = await consoleService.acceptInvitation(request.params.token, request.body);
      return reply.status(201).send({ data: member });
    },
  );
}
