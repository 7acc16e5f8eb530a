/**
 * Wires the console into the app: its `/api/console` routes, the session authenticator the API's
 * auth hook uses, the first admin from ROSTER_ADMIN_EMAIL/PASSWORD, and the built console at `/`.
 */
import type { SessionAuthenticator } from '../../http/auth.js';
import type { Api } from '../../http/types.js';
import type { SsoService } from '../sso/sso.service.js';
import type { ConsoleSsoSignIn } from '../sso/sso.routes.js';
import type { ConsoleConfig } from '../../config.js';
import { registerConsoleRoutes } from './console.routes.js';
import type { AuthenticatedSession, ConsoleService } from './console.service.js';
import { consolePage, registerConsoleStatic, type ConsolePage } from '../../http/console-shell.js';
import { CSRF_HEADER, SESSION_COOKIE, readCookie, setSessionCookies } from '../../http/cookies.js';

export function sessionAuthenticator(
  consoleService: ConsoleService,
): SessionAuthenticator<AuthenticatedSession> {
  return {
    cookieName: SESSION_COOKIE,
    csrfHeader: CSRF_HEADER,
    readCookie,
    authenticate: (token) => consoleService.authenticate(token),
    contextFor: (session, write) => consoleService.contextFor(session, write),
  };
}

/**
 * Registers the console. Answers its page (for the invitation pages) and the handler that
 * finishes console sign-ins on the shared OpenID Connect callback (for modules/sso's routes).
 */
export async function registerConsole(
  app: Api,
  deps: {
    consoleService: ConsoleService;
    sso: SsoService;
    config: ConsoleConfig;
    publicUrl: string;
    afterWrite: () => Promise<void>;
  },
): Promise<{ page: ConsolePage; ssoSignIn: ConsoleSsoSignIn }> {
  const cookies = { secure: deps.publicUrl.startsWith('https:') };
  const page = consolePage(deps.config.staticDir);
  app.addHook('onReady', async () => {
    if (await deps.consoleService.ensureFirstAdmin()) await deps.afterWrite();
  });
  await app.register(
    (scope, _options, done) => {
      registerConsoleRoutes(scope, deps.consoleService, deps.sso, {
        ...cookies,
        maxAgeSeconds: deps.config.sessionTtlSeconds,
      });
      done();
    },
    { prefix: '/api/console' },
  );
  await app.register(async (scope) => registerConsoleStatic(scope, deps.config.staticDir, page));
  const ssoSignIn: ConsoleSsoSignIn = async (signIn, _request, reply) => {
    const { token, csrfToken } = await deps.consoleService.signInWithSso(signIn);
    setSessionCookies(
      reply,
      { token, csrfToken, maxAgeSeconds: deps.config.sessionTtlSeconds },
      cookies,
    );
    // Every client is sent to the console; scripts read the session at GET /api/console/session.
    return reply.redirect('/', 302);
  };
  return { page, ssoSignIn };
}
