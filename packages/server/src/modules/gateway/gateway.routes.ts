/**
 * The gateway's HTTP side: `POST /mcp/<feature id>` is the Streamable HTTP endpoint of the MCP
 * SDK's server transport, in stateless mode (no session to pin a client to one instance; every
 * request carries its credential) with JSON responses. The caller is authenticated and the
 * feature resolved before the transport reads the body, so a bad credential or feature is a
 * plain HTTP 401/403/404; from there on the SDK answers everything, malformed messages included
 * (JSON-RPC parse and invalid-request errors, never a 500).
 *
 * The body is left to the transport: this scope registers a content-type parser that reads
 * nothing. The management API's rate limit does not apply (agents' traffic is tool calls, not
 * administration).
 */
import { Type } from 'typebox';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Api } from '../../http/types.js';
import { AppError } from '../../lib/errors.js';
import type { GatewayAuthenticator } from './gateway.caller.js';
import type { GatewayService } from './gateway.service.js';

const Params = Type.Object({ featureId: Type.String({ maxLength: 64 }) });

export function registerGatewayRoutes(
  app: Api,
  deps: { gateway: GatewayService; authenticate: GatewayAuthenticator; bodyLimit: number },
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(null, undefined);
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
      const server = deps.gateway.mcpServer(caller, target);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
        maxRequestBodySize: deps.bodyLimit,
      });
      reply.hijack();
      try {
        await server.connect(transport);
        await transport.handleRequest(request.raw, reply.raw);
      } catch (error) {
        request.log.error({ err: error }, 'MCP gateway: request failed');
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32603, message: 'Internal error' },
              id: null,
            }),
          );
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
