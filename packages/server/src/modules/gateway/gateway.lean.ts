/**
 * The gateway's fast path served below Fastify: a `POST /mcp/<feature id>` that is a single,
 * well-formed `tools/call` from an authenticated caller is answered straight on the Node request
 * and response, without Fastify's routing, hooks, request/reply objects and reply pipeline
 * (docs/performance.md, "MCP gateway", "After the lean path"). Everything else is handed to
 * Fastify's handler untouched: other URLs and methods, other MCP messages, unusual headers, and
 * every refusal (401/403/404/503: the credential or feature is checked here, and on a refusal
 * Fastify's route checks it again and answers with its usual body and headers). A request whose
 * body was already read here is handed over with the bytes attached, which the
 * gateway's body parser (gateway.routes.ts) uses instead of the consumed stream.
 *
 * What the HTTP layer does for a gateway answer is done here too: the request ID (the caller's
 * sane X-Request-Id or a new UUID) in `x-request-id` and in the log lines, the security headers
 * (`x-content-type-options`, `cache-control`), the request metrics under the route's pattern, the
 * request log lines Fastify writes, the body limit, and a write's index sync before the answer
 * (an approval request opened by a require_approval call).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { recordedChanges, trackChanges } from '../../lib/change-tracking.js';
import { leanRequestLog, sendLean } from '../../http/lean-path.js';
import { requestIdOf } from '../../http/request-id.js';
import type { GatewayAuthenticator } from './gateway.caller.js';
import type { GatewayService } from './gateway.service.js';
import { attachReadBody, fastToolCall, type ReadBody } from './gateway.routes.js';

/** The route pattern the HTTP metrics count gateway requests under (as Fastify names it). */
const ROUTE = '/mcp/:featureId';
const PATH = /^\/mcp\/([^/?#]+)$/;

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createLeanGateway(deps: {
  gateway: GatewayService;
  authenticate: GatewayAuthenticator;
  bodyLimit: number;
  metrics: { request(method: string, route: string, status: number, ms: number): void };
  /** After a request that recorded a change: the index sync (as the app's onSend hook does). */
  afterWrite: () => Promise<void>;
}) {
  /** Fastify's logger, once the app is built (useLog). */
  let log: FastifyBaseLogger | undefined;
  /** Set when the app starts closing (stop): from then on Fastify answers everything. */
  let closing = false;

  function readBody(req: IncomingMessage): Promise<ReadBody> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (chunk: Buffer) => {
        if (tooLarge) return;
        size += chunk.length;
        if (size > deps.bodyLimit) {
          // One byte past the limit is enough for the SDK to answer its 413; the rest is drained.
          tooLarge = true;
          chunks.push(chunk.subarray(0, chunk.length - (size - deps.bodyLimit - 1)));
          return;
        }
        chunks.push(chunk);
      });
      req.on('error', reject);
      req.on('end', () => {
        resolve({
          bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          tooLarge,
        });
      });
    });
  }

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
    const body = await readBody(req);
    let message: unknown;
    if (!body.tooLarge) {
      try {
        message = JSON.parse(body.bytes.toString('utf8'));
      } catch {
        message = undefined;
      }
    }
    const call = message === undefined ? undefined : fastToolCall(req.headers, message);
    if (call === undefined) {
      attachReadBody(req, body);
      fastify(req, res);
      return;
    }
    const id = requestIdOf(req.headers);
    const reqLog = leanRequestLog(log, id, req);
    // Changes recorded by the call (an approval request opened) are synced before the answer.
    const marker = {};
    const answer = await new Promise<Awaited<ReturnType<GatewayService['answerToolCall']>>>(
      (resolve, reject) => {
        trackChanges(marker, res, () => {
          deps.gateway.answerToolCall(caller, target, call).then(resolve, reject);
        });
      },
    ).catch((error: unknown) => {
      (reqLog ?? log)?.error({ err: error }, 'MCP gateway: request failed');
      return undefined;
    });
    if (recordedChanges(marker)) {
      await deps.afterWrite().catch((error: unknown) => {
        (reqLog ?? log)?.error({ err: error }, 'access index sync failed');
      });
    }
    const status = answer === undefined ? 500 : 200;
    const payload = JSON.stringify(
      answer ?? { jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null },
    );
    const ms = sendLean(
      res,
      {
        id,
        status,
        contentType: 'application/json',
        payload,
        // A call still in flight when the app started closing: its connection closes with the
        // answer, so the client sends its next call on a new one (refused, or Fastify's 503)
        // instead of on a socket the shutdown is about to cut.
        headers: closing ? { connection: 'close' } : undefined,
      },
      reqLog,
      started,
    );
    deps.metrics.request('POST', ROUTE, status, ms);
  }

  /** The server's request listener: the fast path, or Fastify's own handler. */
  function handle(req: IncomingMessage, res: ServerResponse, fastify: NodeHandler): void {
    const url = req.url;
    // Once the app is closing, Fastify answers every request (503 while it drains).
    if (closing || req.method !== 'POST' || url === undefined || !url.startsWith('/mcp/')) {
      fastify(req, res);
      return;
    }
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
      log?.error({ err: error }, 'MCP gateway: request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            error: { code: -32603, message: 'Internal error' },
            id: null,
          }),
        );
      } else res.destroy();
    });
  }

  return {
    handle,
    /** Request logs go to the app's logger (Fastify's, created after this). */
    useLog(logger: FastifyBaseLogger): void {
      log = logger;
    },
    /** The app is closing: hand every request to Fastify (app.ts, preClose). */
    stop(): void {
      closing = true;
    },
  };
}
export type LeanGateway = ReturnType<typeof createLeanGateway>;
