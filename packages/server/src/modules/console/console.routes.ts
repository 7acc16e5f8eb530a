import { Type } from 'typebox';
import {
  AcceptWithPasswordBody,
  ConsoleSession,
  DataOf,
  ErrorBody,
  InvitationTokenParams,
  Member,
  SetupBody,
  SetupStatus,
  SignInBody,
} from '@roster/contracts';
import type { FastifyRequest } from 'fastify';
import type { Api } from '../../http/types.js';
import { AppError } from '../../lib/errors.js';
import { secretMatches } from '../../lib/secrets.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import {
  CSRF_COOKIE,
  CSRF_HEADER,
  SESSION_COOKIE,
  clearSessionCookies,
  readCookie,
  setSessionCookies,
  type CookieOptions,
} from './cookies.js';
import type { ConsoleService } from './console.service.js';

const tags = ['Console'];
const signedOut = () => new AppError(401, 'console.signed_out', 'Not signed in');

/** `/api/console/*`: the console's sign-in, setup and invitation acceptance. No API token needed. */
export function registerConsoleRoutes(
  app: Api,
  consoleService: ConsoleService,
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
        response: { 200: DataOf(ConsoleSession), ...errorResponses },
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
        body: SignInBody,
        response: { 200: DataOf(ConsoleSession), ...errorResponses },
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
        response: { ...noContent, ...errorResponses },
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
    '/setup',
    {
      schema: {
        tags,
        summary: 'Whether the console still needs its first admin',
        security: [],
        response: { 200: DataOf(SetupStatus) },
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
        body: SetupBody,
        response: { 201: DataOf(Type.Null()), ...errorResponses },
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
        params: InvitationTokenParams,
        body: AcceptWithPasswordBody,
        response: { 201: DataOf(Member), 410: ErrorBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const member = await consoleService.acceptInvitation(request.params.token, request.body);
      return reply.status(201).send({ data: member });
    },
  );
}
