/**
 * The gateway's HTTP side: `POST /mcp/<feature id>` is the Streamable HTTP endpoint of the MCP
 * SDK's server transport, in stateless mode (no session to pin a client to one instance; every
 * request carries its credential) with JSON responses. The caller is authenticated and the
 * feature resolved first, so a bad credential or feature is a plain HTTP 401/403/404.
 *
 * Two paths. The fast path: a single, well-formed JSON-RPC `tools/call` request with the headers
 * the SDK's transport requires (checked as it checks them, the message with the SDK's own
 * schemas) is answered here as JSON, without the SDK's Node↔Web conversion, web streams and
 * per-request Server (docs/performance.md, "MCP gateway"). On the app's server such a call is
 * answered before it reaches Fastify (gateway.lean.ts, with the same `fastToolCall`); this route
 * answers it for requests Fastify gets directly (inject, and what the lean path hands over).
 * Everything else (initialize, lists,
 * notifications, resources, prompts, batches, pings, tasks, unusual headers and every malformed
 * message) goes to the SDK's transport as before, with the body parsed here once
 * (`handleRequest(req, res, parsedBody)`); a body that is not JSON or is over the limit is handed
 * to the SDK unparsed (`rawBody`, which its Node adapter reads), so it answers its own JSON-RPC
 * parse or size error, never a 500.
 *
 * The management API's rate limit does not apply (agents' traffic is tool calls, not
 * administration).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Type } from 'typebox';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import {
  CallToolRequestSchema,
  JSONRPCRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type CallToolRequest,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Api } from '../../http/types.js';
import { AppError } from '../../lib/errors.js';
import type { GatewayAuthenticator } from './gateway.caller.js';
import type { GatewayService } from './gateway.service.js';

const Params = Type.Object({ featureId: Type.String({ maxLength: 64 }) });

/**
 * A request body as read: at most the limit plus one byte (`tooLarge` past the limit). Private
 * fields, so that the app's NUL check (a walk of every enumerable property of request.body) does
 * not walk the Buffer byte by byte: nothing of the body is stored, and a NUL in it is the JSON
 * parser's (or the SDK's) to refuse.
 */
class RawBody {
  readonly #bytes: Buffer;
  readonly #tooLarge: boolean;
  constructor(bytes: Buffer, tooLarge: boolean) {
    this.#bytes = bytes;
    this.#tooLarge = tooLarge;
  }
  get bytes(): Buffer {
    return this.#bytes;
  }
  get tooLarge(): boolean {
    return this.#tooLarge;
  }
}

/** A body that was not parsed (absent, over the limit, or not JSON): the SDK reads it itself. */
export const UNPARSED = Symbol('unparsed');

/** A body's JSON-RPC message, or UNPARSED when it is not JSON. */
export function parseMessage(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return UNPARSED;
  }
}

/** The JSON-RPC answer to a request the gateway failed on (its own fault, not the caller's). */
export const INTERNAL_ERROR = JSON.stringify({
  jsonrpc: '2.0',
  error: { code: -32603, message: 'Internal error' },
  id: null,
});

/**
 * Reads a request body up to `limit` bytes, and one byte more when it is larger: that byte is
 * enough for the SDK to answer its 413, and the rest is drained unkept.
 */
function readBody(
  payload: NodeJS.ReadableStream,
  limit: number,
  done: (error: Error | null, body?: RawBody) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  payload.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    size += chunk.length;
    if (size > limit) {
      tooLarge = true;
      chunks.push(chunk.subarray(0, chunk.length - (size - limit - 1)));
      return;
    }
    chunks.push(chunk);
  });
  payload.on('error', (error: Error) => {
    done(error, undefined);
  });
  payload.on('end', () => {
    done(
      null,
      new RawBody(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), tooLarge),
    );
  });
}

/**
 * The tools/call of a request the fast path may answer, or undefined for the SDK's path: the
 * Accept, Content-Type and MCP-Protocol-Version checks of the SDK's transport (stateless mode),
 * then the message against the SDK's JSON-RPC and tools/call schemas.
 */
export function fastToolCall(
  headers: IncomingHttpHeaders,
  message: unknown,
): { id: RequestId; params: CallToolRequest['params'] } | undefined {
  // The cheap test first: most messages that are not tools/call leave here.
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
  if ((message as { method?: unknown }).method !== 'tools/call') return undefined;
  const accept = headers.accept;
  if (
    accept === undefined ||
    !accept.includes('application/json') ||
    !accept.includes('text/event-stream')
  )
    return undefined;
  if (!isJsonContentType(headers['content-type'])) return undefined;
  const version = headers['mcp-protocol-version'];
  if (
    version !== undefined &&
    (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))
  )
    return undefined;
  const rpc = JSONRPCRequestSchema.safeParse(message);
  if (!rpc.success) return undefined;
  const call = CallToolRequestSchema.safeParse({
    method: rpc.data.method,
    params: rpc.data.params,
  });
  // A task-augmented call (the experimental tasks extension) is the SDK's to handle.
  if (!call.success || call.data.params.task !== undefined) return undefined;
  return { id: rpc.data.id, params: call.data.params };
}

export function registerGatewayRoutes(
  app: Api,
  deps: { gateway: GatewayService; authenticate: GatewayAuthenticator; bodyLimit: number },
): void {
  app.removeAllContentTypeParsers();
  // Any content type: the SDK's transport checks it (415) on its path, the fast path checks it.
  // A body the lean path read (gateway.lean.ts) comes replayed from its bytes (replayLeanBody).
  app.addContentTypeParser('*', (_request, payload, done) => {
    readBody(payload, deps.bodyLimit, done);
  });

  app.post(
    '/:featureId',
    { schema: { hide: true, params: Params }, config: { rateLimit: false } },
    async (request, reply) => {
      const caller = await deps.authenticate(
        request.headers.authorization,
        request.params.featureId,
      );
      const target = await deps.gateway.target(caller, request.params.featureId);
      const body = request.body instanceof RawBody ? request.body : undefined;
      const message = body === undefined || body.tooLarge ? UNPARSED : parseMessage(body.bytes);
      const call = message === UNPARSED ? undefined : fastToolCall(request.headers, message);
      if (call !== undefined) {
        const answer = await deps.gateway.answerToolCall(caller, target, call);
        return reply.header('content-type', 'application/json').send(JSON.stringify(answer));
      }
      // The SDK's Node adapter reads `rawBody` instead of the (already read) request stream.
      if (message === UNPARSED && body !== undefined)
        (request.raw as { rawBody?: Buffer }).rawBody = body.bytes;
      const server = deps.gateway.mcpServer(caller, target);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
        maxRequestBodySize: deps.bodyLimit,
      });
      reply.hijack();
      try {
        await server.connect(transport);
        await transport.handleRequest(
          request.raw,
          reply.raw,
          message === UNPARSED ? undefined : message,
        );
      } catch (error) {
        request.log.error({ err: error }, 'MCP gateway: request failed');
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(INTERNAL_ERROR);
        }
      } finally {
        await server.close().catch(() => undefined);
        // A body the transport answered without reading it all (over the size limit: 413) leaves
        // the request paused mid-body, so the connection never turns idle and holds up the
        // server's shutdown. End the connection once the answer is out, and cut it a second
        // later: a client still sending the rest (blocked on a full window) never closes its side.
        if (!request.raw.complete) {
          const socket = request.raw.socket;
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref();
        }
      }
      return reply;
    },
  );

  // Stateless: no server-initiated stream (GET) and no session to end (DELETE), as the
  // Streamable HTTP transport allows (405).
  app.route({
    method: ['GET', 'DELETE'],
    url: '/:featureId',
    schema: { hide: true, params: Params },
    config: { rateLimit: false },
    handler: (_request, reply) => {
      void reply.header('allow', 'POST');
      throw new AppError(
        405,
        'gateway.method',
        'The MCP gateway is stateless: send MCP messages with POST',
      );
    },
  });
}
