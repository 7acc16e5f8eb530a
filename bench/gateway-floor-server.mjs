/**
 * The floor of `npm run bench:gateway` (BENCH_FLOOR=1): a bare Fastify reverse proxy that passes
 * MCP requests to the upstream over an undici keep-alive pool, reading and JSON-parsing the body
 * and re-serialising it as the gateway does, with no authentication, decision, recording, hooks or
 * metrics. Its CPU per call is what Fastify + undici + JSON cost on this machine: the part of the
 * gateway's CPU that no change inside Roster's own code can remove.
 */
import process from 'node:process';
import Fastify from 'fastify';
import { Agent } from 'undici';

const upstream = new URL(process.argv[2]);
const http = new Agent({ keepAliveTimeout: 60_000 });
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
  done(null, body);
});
app.post('/mcp', async (request, reply) => {
  const message = JSON.parse(request.body);
  const headers = { 'content-type': 'application/json', accept: request.headers.accept };
  const version = request.headers['mcp-protocol-version'];
  if (version !== undefined) headers['mcp-protocol-version'] = version;
  const response = await http.request({
    origin: upstream.origin,
    path: upstream.pathname,
    method: 'POST',
    headers,
    body: JSON.stringify(message),
  });
  const type = response.headers['content-type'];
  if (response.statusCode === 202) {
    await response.body.dump();
    return reply.status(202).send();
  }
  const answer = await response.body.json();
  return reply
    .status(response.statusCode)
    .header('content-type', type)
    .send(JSON.stringify(answer));
});
app.route({
  method: ['GET', 'DELETE'],
  url: '/mcp',
  handler: (_q, reply) => reply.status(405).send(),
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ type: 'ready', port: app.server.address().port });
process.on('message', (m) => {
  if (m.type === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
});
process.on('disconnect', () => {
  void app.close().then(() => process.exit(0));
});
