/**
 * An upstream MCP server for the gateway's tests and benchmark, built with the MCP SDK (Streamable
 * HTTP, stateless, JSON responses) on a loopback port. It serves three tools (`search`,
 * `create_ticket`, `delete_repo`), a resource and a prompt, remembers the headers of every request
 * it gets (to prove what the gateway forwards), and can be made to fail: `down` (the port
 * closed), `hang` (requests never answered), `garbage` (answers that are not MCP) or `not-rpc`
 * (JSON that is not a JSON-RPC answer).
 *
 * Options: `sse` answers with an SSE stream instead of JSON (`enableJsonResponse: false`);
 * `stateful` gives each client a session (`sessionIdGenerator`), and `dropSessions()` forgets them
 * all, as a restarted upstream would (a request in a forgotten session gets the SDK's 404).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export type UpstreamMode = 'up' | 'hang' | 'garbage' | 'not-rpc';

export interface Upstream {
  url: string;
  /** Headers of the requests received, oldest first. */
  headers: IncomingHttpHeaders[];
  /** Tool calls executed, in order: `tool:argument`. */
  calls: string[];
  /** The JSON-RPC messages received (POST bodies), oldest first. */
  messages: unknown[];
  /** Sessions started (stateful only). */
  sessions: number;
  mode: UpstreamMode;
  /** Stateful only: forgets every session (the next request in one gets 404). */
  dropSessions(): void;
  /** Closes the port (connections refused) until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function buildServer(calls: string[]): McpServer {
  const server = new McpServer({ name: 'test-upstream', version: '1.0.0' });
  server.registerTool(
    'search',
    { description: 'Search the tickets', inputSchema: { q: z.string() } },
    ({ q }) => {
      calls.push(`search:${q}`);
      return {
        content: [{ type: 'text', text: `found 3 tickets for ${q}` }],
        structuredContent: undefined,
      };
    },
  );
  server.registerTool(
    'create_ticket',
    { description: 'Create a ticket', inputSchema: { title: z.string() } },
    ({ title }) => {
      calls.push(`create_ticket:${title}`);
      return { content: [{ type: 'text', text: `created ticket "${title}"` }] };
    },
  );
  server.registerTool(
    'delete_repo',
    { description: 'Delete a repository', inputSchema: { repo: z.string() } },
    ({ repo }) => {
      calls.push(`delete_repo:${repo}`);
      return { content: [{ type: 'text', text: `deleted ${repo}` }] };
    },
  );
  server.registerResource('readme', 'docs://readme', { mimeType: 'text/plain' }, (uri) => ({
    contents: [{ uri: uri.href, text: 'The upstream readme' }],
  }));
  server.registerPrompt('triage', { description: 'Triage a ticket' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'Triage this ticket' } }],
  }));
  return server;
}

async function readJson(req: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

export async function startUpstream(
  options: { sse?: boolean; stateful?: boolean } = {},
): Promise<Upstream> {
  const headers: IncomingHttpHeaders[] = [];
  const calls: string[] = [];
  const messages: unknown[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let http: Server | null = null;
  let port = 0;
  const upstream: Upstream = {
    url: '',
    headers,
    calls,
    messages,
    sessions: 0,
    mode: 'up',
    dropSessions() {
      for (const transport of sessions.values()) void transport.close();
      sessions.clear();
    },
    async stop() {
      if (http === null) return;
      const closing = http;
      http = null;
      await new Promise<void>((resolve) => {
        closing.close(() => {
          resolve();
        });
        closing.closeAllConnections();
      });
    },
    async start() {
      const server = createServer((req, res) => {
        headers.push(req.headers);
        if (upstream.mode === 'hang') return;
        if (upstream.mode === 'garbage') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html>not MCP</html>');
          return;
        }
        void (async () => {
          const body = req.method === 'POST' ? await readJson(req) : undefined;
          if (body !== undefined) messages.push(body);
          if (
            upstream.mode === 'not-rpc' &&
            (body as { method?: string }).method === 'tools/call'
          ) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ hello: 'world' }));
            return;
          }
          if (options.stateful === true) {
            const id = req.headers['mcp-session-id'];
            const known = typeof id === 'string' ? sessions.get(id) : undefined;
            if (known !== undefined) {
              await known.handleRequest(req, res, body);
              return;
            }
            if (id !== undefined) {
              // As the SDK's own stateful examples answer a session they do not know.
              res.writeHead(404, { 'content-type': 'application/json' });
              res.end(
                JSON.stringify({
                  jsonrpc: '2.0',
                  error: { code: -32001, message: 'Session not found' },
                  id: null,
                }),
              );
              return;
            }
            const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
              sessionIdGenerator: () => randomUUID(),
              enableJsonResponse: options.sse !== true,
              onsessioninitialized: (sessionId) => {
                upstream.sessions += 1;
                sessions.set(sessionId, transport);
              },
            });
            await buildServer(calls).connect(transport);
            await transport.handleRequest(req, res, body);
            return;
          }
          const mcp = buildServer(calls);
          const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: undefined,
            enableJsonResponse: options.sse !== true,
          });
          res.on('close', () => {
            void transport.close();
            void mcp.close();
          });
          await mcp.connect(transport);
          await transport.handleRequest(req, res, body);
        })().catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve) => {
        server.listen(port, '127.0.0.1', resolve);
      });
      port = (server.address() as AddressInfo).port;
      upstream.url = `http://127.0.0.1:${String(port)}/mcp`;
      http = server;
    },
    async close() {
      await upstream.stop();
    },
  };
  await upstream.start();
  return upstream;
}
