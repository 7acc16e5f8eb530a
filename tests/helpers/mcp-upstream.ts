/**
 * An upstream MCP server for the gateway's tests and benchmark, built with the MCP SDK (Streamable
 * HTTP, stateless, JSON responses) on a loopback port. It serves three tools (`search`,
 * `create_ticket`, `delete_repo`), a resource and a prompt, remembers the headers of every request
 * it gets (to prove what the gateway forwards), and can be made to fail: `down` (the port
 * closed), `hang` (requests never answered) or `garbage` (answers that are not MCP).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export type UpstreamMode = 'up' | 'hang' | 'garbage';

export interface Upstream {
  url: string;
  /** Headers of the requests received, oldest first. */
  headers: IncomingHttpHeaders[];
  /** Tool calls executed, in order: `tool:argument`. */
  calls: string[];
  mode: UpstreamMode;
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

export async function startUpstream(): Promise<Upstream> {
  const headers: IncomingHttpHeaders[] = [];
  const calls: string[] = [];
  let http: Server | null = null;
  let port = 0;
  const upstream: Upstream = {
    url: '',
    headers,
    calls,
    mode: 'up',
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
        const mcp = buildServer(calls);
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on('close', () => {
          void transport.close();
          void mcp.close();
        });
        mcp
          .connect(transport)
          .then(() => transport.handleRequest(req, res))
          .catch(() => {
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
