/**
 * Decisions answered by the workspace's home instance (docs/operations.md, "Several instances").
 * On an instance that is not the home, a decision route forwards the request, already
 * authenticated, to the home with the caller's context in a header signed with a key derived from
 * ROSTER_SECRET_KEY (HMAC-SHA256 over the method, URL, time, context and body digest); the home
 * accepts the context only with a valid, fresh signature and answers from its warm index. If the
 * home cannot be reached within ROSTER_FORWARD_TIMEOUT_MS the instance answers itself
 * (a cold load) and stops using that home until its lease proves it alive again.
 *
 * Each hop carries a name the receiving instance gives the request (a random UUID, signed with the
 * rest): an end-user decision is recorded under it at most once, so a decision the home recorded
 * but answered too late is not recorded again by the instance answering itself. A correctly
 * signed hop is not counted again by the home's rate limit: the receiving instance counted it.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../lib/context.js';
import { AppError } from '../../lib/errors.js';
import type { Membership } from './membership.js';

/** What routing needs of the change feed (modules/audit/change-feed.ts). */
export interface FeedPosition {
  position(): number;
  hasSeen(position: number): boolean;
  /** Reads the log, and every watched ID up to `through` however old (change-feed.ts). */
  sync(through?: number): Promise<void>;
}

/** The routes that read the access index: answered by the home. */
const HOME_ROUTES = new Set([
  'POST /api/access/check',
  'POST /api/access/check_batch',
  'POST /api/end_users/decisions',
  'GET /api/access/projects',
  'GET /api/projects/:id/access',
  'GET /api/members/:id/privileges',
  'GET /api/members/:id/projects_privileges',
]);

export const FORWARD_HEADER = 'x-roster-forwarded';
/** A signed hop older (or newer) than this is refused: a captured one cannot be replayed later. */
const MAX_SKEW_MS = 30_000;
/** The home's answer headers the caller gets back with the body. */
const RELAYED_HEADERS = ['content-type', 'content-disposition', 'retry-after'];

interface WireContext {
  w: number;
  a: RequestContext['actor'];
  e: string[];
  p: number[] | null;
}

const forwardedRequests = new WeakMap<FastifyRequest, string>();
/** The name of a request forwarded (or about to be) to its home, by the receiving instance. */
const requestNames = new WeakMap<FastifyRequest, string>();

/**
 * The name the receiving instance gave this request when it forwarded it: set on the home (from
 * the signed hop) and on the receiving instance (for when it answers itself); undefined for a
 * request that was never forwarded.
 */
export function forwardedRequestName(request: FastifyRequest): string | undefined {
  return requestNames.get(request);
}

/** A hop from another instance whose signature was verified (its caller was counted there). */
export function isSignedForward(request: FastifyRequest): boolean {
  return forwardedRequests.has(request);
}

/** Kept-alive connections to the other instances: a hop costs no TCP handshake. */
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

interface HopAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request to another instance over node:http (a kept-alive agent; measurably cheaper per hop
 * than fetch), failing on a connection error or when `timeoutMs` passes before the whole answer.
 */
function hop(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<HopAnswer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const request = (secure ? https : http).request(
      url,
      {
        method,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        agent: secure ? agents['https:'] : agents['http:'],
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function isHomeRoute(request: FastifyRequest): boolean {
  return HOME_ROUTES.has(`${request.method} ${request.routeOptions.url ?? ''}`);
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64url');
const bodyText = (request: FastifyRequest) =>
  request.body === undefined ? '' : JSON.stringify(request.body);

export interface ClusterRouting {
  /** onRequest, before authentication: a signed hop from another instance carries its context. */
  acceptForwarded: (request: FastifyRequest) => Promise<void>;
  /** preValidation: the hop's body is the one that was signed. */
  checkForwardedBody: (request: FastifyRequest) => Promise<void>;
  /** preHandler, after authentication: a decision for a workspace homed elsewhere goes there. */
  forwardToHome: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export function clusterRouting(options: {
  membership: Membership;
  secretKey: string;
  timeoutMs: number;
  changes: FeedPosition;
  log?: { warn(fields: object, message: string): void };
}): ClusterRouting {
  const { membership } = options;
  // A key of its own, so the hop's signatures say nothing about the encryption key.
  const key = createHmac('sha256', options.secretKey).update('roster cluster forwarding').digest();
  const sign = (
    method: string,
    url: string,
    time: string,
    seen: string,
    ctx: string,
    body: string,
    name: string,
  ) =>
    createHmac('sha256', key)
      .update(['v2', method, url, time, seen, ctx, body, name].join('\n'))
      .digest('base64url');
  const refused = (message: string) => new AppError(401, 'cluster.signature', message);

  return {
    async acceptForwarded(request) {
      const header = request.headers[FORWARD_HEADER];
      if (header === undefined) return;
      const parts = typeof header === 'string' ? header.split('.') : [];
      if (parts.length !== 6) throw refused('Malformed forwarded request');
      const [time, seen, ctx, body, name, signature] = parts as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const expected = Buffer.from(sign(request.method, request.url, time, seen, ctx, body, name));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw refused('Forwarded request with an invalid signature');
      if (!/^\d+$/.test(time) || Math.abs(Date.now() - Number(time)) > MAX_SKEW_MS)
        throw refused('Forwarded request too old or from the future');
      if (!isHomeRoute(request)) throw refused('Only decisions are forwarded');
      const wire = JSON.parse(Buffer.from(ctx, 'base64url').toString('utf8')) as WireContext;
      // The caller's authentication and scope, as the instance it called established them.
      request.ctx = {
        workspaceId: wire.w,
        actor: wire.a,
        scope: {
          environmentTypes: new Set(wire.e),
          projectIds: wire.p === null ? null : new Set(wire.p),
        },
      };
      forwardedRequests.set(request, body);
      if (/^[0-9a-f-]{36}$/.test(name)) requestNames.set(request, name);
      // The sender's own writes are applied here before the answer, as they would be there: a
      // caller's check right after its write sees it whichever instance answers.
      const position = Number(seen);
      if (Number.isSafeInteger(position) && !options.changes.hasSeen(position))
        await options.changes.sync(position);
    },

    async checkForwardedBody(request) {
      const signed = forwardedRequests.get(request);
      if (signed !== undefined && digest(bodyText(request)) !== signed)
        throw refused('Forwarded request whose body is not the one signed');
      await Promise.resolve();
    },

    async forwardToHome(request, reply) {
      // A hop is answered where it lands, even if this instance's list differs for a moment.
      if (forwardedRequests.has(request) || request.ctx === null || !isHomeRoute(request)) return;
      const home = membership.homeOf(request.ctx.workspaceId);
      if (home === membership.url) return;
      const ctx = request.ctx;
      const wire: WireContext = {
        w: ctx.workspaceId,
        a: ctx.actor,
        e: [...ctx.scope.environmentTypes],
        p: ctx.scope.projectIds === null ? null : [...ctx.scope.projectIds],
      };
      const ctxText = Buffer.from(JSON.stringify(wire)).toString('base64url');
      const body = bodyText(request);
      const bodyDigest = digest(body);
      const time = String(Date.now());
      const seen = String(options.changes.position());
      // Kept for this instance too: if it answers itself, it records under the same name.
      const name = randomUUID();
      requestNames.set(request, name);
      const signature = sign(request.method, request.url, time, seen, ctxText, bodyDigest, name);
      let answer: HopAnswer;
      try {
        answer = await hop(
          new URL(`${home}${request.url}`),
          request.method,
          {
            [FORWARD_HEADER]: `${time}.${seen}.${ctxText}.${bodyDigest}.${name}.${signature}`,
            ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(typeof request.headers.accept === 'string'
              ? { accept: request.headers.accept }
              : {}),
          },
          request.body === undefined ? undefined : body,
          options.timeoutMs,
        );
      } catch (error) {
        // Unreachable or too slow: answer here after a cold load, and stop waiting on that home.
        options.log?.warn({ err: error, home }, 'home instance unreachable; answering locally');
        membership.suspect(home);
        return;
      }
      reply.status(answer.status);
      for (const name of RELAYED_HEADERS) {
        const value = answer.headers[name];
        if (typeof value === 'string') reply.header(name, value);
      }
      // The home's serialized answer goes out as it came (the route's serializer ran there).
      return reply.send(answer.text);
    },
  };
}
