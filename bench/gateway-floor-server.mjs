/**
 * The floors of `npm run bench:gateway`. Argument `fastify` (the default): a bare Fastify reverse proxy that passes
 * MCP requests to the upstream over an undici keep-alive pool, reading and JSON-parsing the body
 * and re-serialising it as the gateway does, with no authentication, decision, recording, hooks or
 * metrics. Its CPU per call is what Fastify + undici + JSON cost on this machine: the part of the
 * gateway's CPU that no change inside Roster's own code can remove. Argument `node`: the same proxy
 * on a bare node:http server (no Fastify), with undici's dispatch() API: what Node's HTTP stack +
 * undici + JSON cost alone. `node-request`: the same with undici's request(). `lean-upstream`: an
 * upstream, not a proxy (below).
 */
import { createServer } from 'node:http';
import process from 'node:process';
import Fastify from 'fastify';
import { Agent } from 'undici';

const upstream = new URL(process.argv[2]);
const kind = process.argv[3] ?? 'fastify';
const http = new Agent({ keepAliveTimeout: 60_000 });

/** One MCP request proxied: the answer's status, content type and body. */
async function proxy(body, accept, version) {
  const message = JSON.parse(body);
  const headers = { 'content-type': 'application/json', accept };
  if (version !== undefined) headers['mcp-protocol-version'] = version;
  const response = await http.request({
    origin: upstream.origin,
    path: upstream.pathname,
    method: 'POST',
    headers,
    body: JSON.stringify(message),
  });
  if (response.statusCode === 202) {
    await response.body.dump();
    return { status: 202 };
  }
  const answer = await response.body.json();
  return {
    status: response.statusCode,
    type: response.headers['content-type'],
    body: JSON.stringify(answer),
  };
}

/**
 * The same with undici's dispatch() and a handler that collects the answer into one Buffer (no
 * Readable body stream): the API the gateway uses since its third round. Kind `node` uses it;
 * kind `node-request` uses `proxy` above (request() + body.json(), the API before).
 */
function proxyDispatch(body, accept, version) {
  const message = JSON.parse(body);
  const headers = { 'content-type': 'application/json', accept };
  if (version !== undefined) headers['mcp-protocol-version'] = version;
  return new Promise((resolve, reject) => {
    let status = 0;
    let type;
    const chunks = [];
    http.dispatch(
      {
        origin: upstream.origin,
        path: upstream.pathname,
        method: 'POST',
        headers,
        body: JSON.stringify(message),
      },
      {
        onRequestStart() {},
        onResponseStart(_c, statusCode, h) {
          status = statusCode;
          type = h['content-type'];
        },
        onResponseData(_c, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          if (status === 202) return resolve({ status });
          const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          resolve({ status, type, body: JSON.stringify(JSON.parse(bytes.toString('utf8'))) });
        },
        onResponseError(_c, error) {
          reject(error);
        },
      },
    );
  });
}

/**
 * `lean-upstream`: answers tools/call itself with a canned result (the SDK upstream's answer to
 * `search`), and proxies every other message (initialize, lists) to the SDK upstream. An upstream
 * that costs far less CPU per call than the SDK's server transport: the saturation rows of the
 * bench point the gateway at it so that the upstream is not what limits the calls per second.
 * Its CPU per call is also what one inbound HTTP exchange on node:http costs on this machine.
 */
async function constant(body, accept, version) {
  const message = JSON.parse(body);
  if (message.method !== 'tools/call') return proxyDispatch(body, accept, version);
  const answer = {
    jsonrpc: '2.0',
    id: message.id,
    result: { content: [{ type: 'text', text: 'found 3 tickets for c0' }] },
  };
  return { status: 200, type: 'application/json', body: JSON.stringify(answer) };
}

if (kind === 'node' || kind === 'node-request' || kind === 'lean-upstream') {
  const send =
    kind === 'node-request' ? proxy : kind === 'lean-upstream' ? constant : proxyDispatch;
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      send(
        Buffer.concat(chunks).toString('utf8'),
        req.headers.accept,
        req.headers['mcp-protocol-version'],
      ).then(
        (answer) => {
          if (answer.body === undefined) res.writeHead(answer.status).end();
          else
            res
              .writeHead(answer.status, {
                'content-type': answer.type,
                'content-length': Buffer.byteLength(answer.body),
              })
              .end(answer.body);
        },
        () => res.writeHead(502).end(),
      );
    });
  });
  server.keepAliveTimeout = 72_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send({ type: 'ready', port: server.address().port });
  process.on('message', (m) => {
    if (m.type === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
  });
  process.on('disconnect', () => {
    server.close();
    process.exit(0);
  });
} else {
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });
  app.post('/mcp', async (request, reply) => {
    const answer = await proxy(
      request.body,
      request.headers.accept,
      request.headers['mcp-protocol-version'],
    );
    if (answer.body === undefined) return reply.status(answer.status).send();
    return reply.status(answer.status).header('content-type', answer.type).send(answer.body);
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
}
