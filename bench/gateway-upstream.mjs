/**
 * The upstream MCP server of `npm run bench:gateway`, in its own process: the MCP SDK's McpServer
 * on Streamable HTTP (stateless, JSON responses) with three tools, on 127.0.0.1. Tells the parent
 * its port.
 */
import { createServer } from 'node:http';
import process from 'node:process';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { z } from 'zod';

// One validator for every per-request server (the SDK builds an Ajv per server otherwise).
const jsonSchemaValidator = new AjvJsonSchemaValidator();

function build() {
  const server = new McpServer(
    { name: 'bench-upstream', version: '1.0.0' },
    { jsonSchemaValidator },
  );
  server.registerTool('search', { inputSchema: { q: z.string() } }, ({ q }) => ({
    content: [{ type: 'text', text: `found 3 tickets for ${q}` }],
  }));
  server.registerTool('create_ticket', { inputSchema: { title: z.string() } }, ({ title }) => ({
    content: [{ type: 'text', text: `created ${title}` }],
  }));
  server.registerTool('delete_repo', { inputSchema: { repo: z.string() } }, ({ repo }) => ({
    content: [{ type: 'text', text: `deleted ${repo}` }],
  }));
  return server;
}

const http = createServer((req, res) => {
  const server = build();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  server
    .connect(transport)
    .then(() => transport.handleRequest(req, res))
    .catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
});
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: http.address().port });
});
process.on('message', (m) => {
  if (m.type === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
