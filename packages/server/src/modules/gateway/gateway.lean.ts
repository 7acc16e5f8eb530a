/**
 * The gateway's fast path served below Fastify (http/lean-path.ts): a `POST /mcp/<feature id>`
 * that is a single, well-formed `tools/call` from an authenticated caller is answered straight on
 * the Node request and response, without Fastify's routing, hooks, request/reply objects and reply
 * pipeline (docs/performance.md, "MCP gateway", "After the lean path"). Everything else is handed
 * to Fastify's handler untouched: other URLs and methods, other MCP messages, unusual headers, a
 * body without a Content-Length or over the limit, and every refusal (401/403/404/503: the
 * credential or feature is checked here, and on a refusal Fastify's route checks it again and
 * answers with its usual body and headers). A request whose body was already read here is handed
 * over with the bytes (`handOverWithBody`), which Fastify's route reads instead of the consumed
 * stream (`replayLeanBody`), so the gateway's one body parser (gateway.routes.ts) reads every body
 * Fastify gets, with the body limit.
 *
 * What the HTTP layer does for a gateway answer is done here too, by the functions the single
 * check uses (http/lean-path.ts): the request ID (the caller's sane X-Request-Id or a new UUID) in
 * `x-request-id` and in the log lines, the security headers (`x-content-type-options`,
 * `cache-control`), the request log lines Fastify writes; and the request metrics under the
 * route's pattern, and a write's index sync before the answer (an approval request opened by a
 * require_approval call).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { trackChanges } from '../../lib/change-tracking.js';
import {
  handOverWithBody,
  leanRequestLog,
  readSmallBody,
  sendLean,
  type LeanDispatcher,
  type NodeHandler,
} from '../../http/lean-path.js';
import { requestIdOf } from '../../http/request-id.js';
import type { GatewayAuthenticator } from './gateway.caller.js';
import type { GatewayService } from './gateway.service.js';
import { fastToolCall, INTERNAL_ERROR, parseMessage, UNPARSED } from './gateway.routes.js';

/** The route pattern the HTTP metrics count gateway requests under (as Fastify names it). */
const ROUTE = '/mcp/:featureId';
const PATH = /^\/mcp\/([^/?#]+)$/;

/** Serves the gateway's tools/call calls on `dispatcher` (every `POST /mcp/…` comes here first). */
export function registerLeanGateway(
  dispatcher: LeanDispatcher,
  deps: {
    gateway: GatewayService;
    authenticate: GatewayAuthenticator;
    bodyLimit: number;
    metrics: { request(method: string, route: string, status: number, ms: number): void };
    /** After a request that recorded a change: the index sync (as the app's onSend hook does). */
    afterWrite: () => Promise<void>;
  },
): void {
  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    featureId: string,
    fastify: NodeHandler,
  ): Promise<void> {
    const started = performance.now();
    let caller;
    let target;
    try {
      caller = await deps.authenticate(req.headers.authorization, featureId);
      target = await deps.gateway.target(caller, featureId);
    } catch {
      // A refusal (or the index not ready): Fastify's route answers it, body unread.
      fastify(req, res);
      return;
    }
    // A body of the size it declares, up to the limit, is read here; any other (no
    // Content-Length, chunked, over the limit) is Fastify's, whose body parser
    // (gateway.routes.ts) reads it with the limit and hands what is over it to the SDK (413).
    const reading = readSmallBody(req, deps.bodyLimit, (bytes) => {
      if (bytes === undefined) {
        // The client went away mid-body: nothing to answer.
        res.destroy();
        return;
      }
      try {
        const message = parseMessage(bytes);
        const call = message === UNPARSED ? undefined : fastToolCall(req.headers, message);
        // Not a tools/call the fast path answers: Fastify's route reads the bytes (replayLeanBody).
        if (call === undefined) handOverWithBody(req, res, bytes, fastify);
        else
          answer(req, res, caller, target, call, started).catch((error: unknown) => {
            failed(res, error);
          });
      } catch (error) {
        failed(res, error);
      }
    });
    if (!reading) fastify(req, res);
  }

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    caller: Awaited<ReturnType<GatewayAuthenticator>>,
    target: Awaited<ReturnType<GatewayService['target']>>,
    call: NonNullable<ReturnType<typeof fastToolCall>>,
    started: number,
  ): Promise<void> {
    const log = dispatcher.log();
    const id = requestIdOf(req.headers);
    const reqLog = leanRequestLog(log, id, req);
    // Changes recorded by the call (an approval request opened) are synced before the answer.
    // The call's writes do not name it (lib/change-tracking.ts): they mark every tracked request
    // open, this one among them.
    const changes = trackChanges(res);
    const answered = await deps.gateway
      .answerToolCall(caller, target, call)
      .catch((error: unknown) => {
        (reqLog ?? log)?.error({ err: error }, 'MCP gateway: request failed');
        return undefined;
      });
    if (changes.recorded) {
      await deps.afterWrite().catch((error: unknown) => {
        (reqLog ?? log)?.error({ err: error }, 'access index sync failed');
      });
    }
    const status = answered === undefined ? 500 : 200;
    const ms = sendLean(
      res,
      {
        id,
        status,
        contentType: 'application/json',
        payload: answered === undefined ? INTERNAL_ERROR : JSON.stringify(answered),
        // A call still in flight when the app started closing: its connection closes with the
        // answer, so the client sends its next call on a new one (refused, or Fastify's 503)
        // instead of on a socket the shutdown is about to cut.
        headers: dispatcher.isClosing() ? { connection: 'close' } : undefined,
      },
      reqLog,
      started,
    );
    deps.metrics.request('POST', ROUTE, status, ms);
  }

  function failed(res: ServerResponse, error: unknown): void {
    dispatcher.log()?.error({ err: error }, 'MCP gateway: request failed');
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(INTERNAL_ERROR);
    } else res.destroy();
  }

  // The dispatcher hands every request to Fastify once the app is closing (503 while it drains).
  dispatcher.prefix('POST', '/mcp/', (req, res, fastify) => {
    const url = req.url ?? '';
    const featureId = PATH.exec(url)?.[1];
    const headers = req.headers;
    const accept = headers.accept;
    // The header checks of fastToolCall first: a request that cannot be a fast-path call is
    // Fastify's before anything is read.
    if (
      featureId === undefined ||
      accept === undefined ||
      !accept.includes('application/json') ||
      !accept.includes('text/event-stream') ||
      headers['content-type'] === undefined
    ) {
      fastify(req, res);
      return;
    }
    serve(req, res, featureId, fastify).catch((error: unknown) => {
      failed(res, error);
    });
  });
}
