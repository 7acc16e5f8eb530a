/**
 * The gateway's tools/call fast path is served below Fastify (modules/gateway/gateway.lean.ts):
 * what Fastify's hooks and error handler did for a gateway answer must still happen, and every
 * request the lean path does not answer must get Fastify's answer as before. Raw HTTP requests
 * with the headers of a fast-path call: the refusals (401 without a token, an unknown OAuth token's
 * challenge, 404 for an unknown feature or one without an upstream), the SDK's answers for a wrong
 * content type, a body that is not JSON and one over the limit, and on an answered call the request
 * ID, the security headers, the request metrics and the index sync after an approval is opened.
 * Over a raw socket, the edges of reading the body: one split across many TCP writes, one sent
 * chunked (no Content-Length), one over the limit sent chunked, and a client that goes away
 * mid-body.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

let roster: Roster;
let upstream: Upstream;
let featureId: number;
/** An MCP server feature without an upstream, which the agent may use. */
let bareFeatureId: number;
let token: string;

const call = (id: number | string, name = 'search', args: Record<string, unknown> = { q: 'x' }) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

/** A POST as the SDK's client sends a tools/call (the fast path's headers), overridable. */
function post(path: string, body: string, headers: Record<string, string | null> = {}) {
  const all: Record<string, string | null> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...headers,
  };
  const sent: Record<string, string> = {};
  for (const [name, value] of Object.entries(all)) if (value !== null) sent[name] = value;
  return fetch(`${roster.url}${path}`, { method: 'POST', headers: sent, body });
}

/** The head of a fast-path call sent over a raw socket, with the body's framing header. */
function rawHead(path: string, framing: string): string {
  const { host } = new URL(roster.url);
  return [
    `POST ${path} HTTP/1.1`,
    `host: ${host}`,
    `authorization: Bearer ${token}`,
    'content-type: application/json',
    'accept: application/json, text/event-stream',
    'connection: close',
    framing,
    '',
    '',
  ].join('\r\n');
}

/**
 * Sends a fast-path call over its own socket: the head, then the body in the pieces given, each
 * its own TCP write after a pause; resolves with the status and body once the server closes.
 */
function rawPost(path: string, framing: string, pieces: (string | Buffer)[]) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = net.connect(Number(new URL(roster.url).port), '127.0.0.1');
    socket.setNoDelay(true);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(received).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(split + 4) });
    });
    socket.on('connect', () => {
      void (async () => {
        socket.write(rawHead(path, framing));
        for (const piece of pieces) {
          await new Promise((done) => setTimeout(done, 2));
          socket.write(piece);
        }
      })();
    });
  });
}

/** A body in HTTP/1.1 chunked framing, a chunk a piece. */
const chunked = (pieces: string[]) => [
  ...pieces.map((piece) => `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`),
  '0\r\n\r\n',
];

/** Pieces of `text` of `size` characters each. */
const split = (text: string, size: number) =>
  Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
    text.slice(i * size, (i + 1) * size),
  );

beforeAll(async () => {
  roster = await startRoster();
  upstream = await startUpstream();
  const feature = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: 'Lean path',
    upstream: { url: upstream.url, headers: { Authorization: 'Bearer lean-upstream' } },
  });
  expect(feature.status).toBe(201);
  featureId = feature.body.data.id as number;
  const approval = await roster.post('/api/policies', {
    name: 'Deleting needs approval',
    environment_type: 'dev',
    feature_id: featureId,
    tools: ['delete_repo'],
    scope: { type: 'all' },
    effect: 'require_approval',
  });
  expect(approval.status).toBe(201);
  const bare = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: 'No upstream',
  });
  expect(bare.status).toBe(201);
  bareFeatureId = bare.body.data.id as number;
  const user = await roster.post('/api/end_users', {
    name: 'Lean user',
    email: 'lean@gateway.example.com',
    environment_types: ['dev'],
  });
  await roster.post(`/api/features/${featureId}/access`, { end_user_ids: [user.body.data.id] });
  const agent = await roster.post('/api/agents', {
    name: 'Lean agent',
    environment_type: 'dev',
    end_user_id: user.body.data.id,
    feature_ids: [featureId, bareFeatureId],
  });
  expect(agent.status).toBe(201);
  token = agent.body.data.token as string;
});

afterAll(async () => {
  await roster.close();
  await upstream.close();
});

describe('the gateway’s lean path keeps the HTTP layer’s answers', () => {
  it('answers a tools/call with the request ID, the security headers and the upstream’s result', async () => {
    const res = await post(`/mcp/${featureId}`, call(7), { 'x-request-id': 'trace-lean.1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-lean.1');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: 7,
      result: { content: [{ type: 'text', text: 'found 3 tickets for x' }] },
    });
    // A request ID that is not a sane token is replaced by a new UUID, as on every route.
    const odd = await post(`/mcp/${featureId}`, call('s'), { 'x-request-id': 'not sane!' });
    expect(odd.status).toBe(200);
    expect(odd.headers.get('x-request-id')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect((await odd.json()).id).toBe('s');
  });

  it('counts answered calls in the request metrics under the gateway’s route', async () => {
    const count = async () => {
      const text = await (await fetch(`${roster.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('roster_http_requests_total{') &&
            l.includes('method="POST"') &&
            l.includes('route="/mcp/:featureId"') &&
            l.includes('status="200"'),
        );
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    // The duration histogram's sum for the route, in seconds (the metric's unit).
    const seconds = async () => {
      const text = await (await fetch(`${roster.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('roster_http_request_duration_seconds_sum{') &&
            l.includes('route="/mcp/:featureId"'),
        );
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = await count();
    const secondsBefore = await seconds();
    const started = performance.now();
    for (let i = 0; i < 3; i++) expect((await post(`/mcp/${featureId}`, call(i))).status).toBe(200);
    const elapsed = (performance.now() - started) / 1000;
    expect(await count()).toBe(before + 3);
    // Each call crosses loopback to the upstream and back: well over a microsecond each, and no
    // more than the client saw in all (a duration recorded in the wrong unit fails one or the other).
    const added = (await seconds()) - secondsBefore;
    expect(added).toBeGreaterThan(3 * 20e-6);
    expect(added).toBeLessThanOrEqual(elapsed);
  });

  it('refuses a call without a token with 401 and the MCP authorization challenge', async () => {
    const res = await post(`/mcp/${featureId}`, call(1), { authorization: null });
    expect(res.status).toBe(401);
    // No error code: the request carried no credential at all (RFC 6750).
    expect(res.headers.get('www-authenticate')).toMatch(
      new RegExp(
        `^Bearer realm="roster-mcp", resource_metadata="http[^"]+/\\.well-known/oauth-protected-resource/mcp/${featureId}"$`,
      ),
    );
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const body = await res.json();
    expect(JSON.stringify(body)).toContain('Missing bearer token');
    expect(upstream.messages.filter((m) => (m as { id?: unknown }).id === 1).length).toBe(0);
  });

  it('refuses an unknown OAuth access token with 401 and error="invalid_token"', async () => {
    const res = await post(`/mcp/${featureId}`, call(1), {
      authorization: 'Bearer not-an-issued-oauth-token',
    });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('realm="roster-mcp"');
    expect(challenge).toContain(`/.well-known/oauth-protected-resource/mcp/${featureId}"`);
    expect(challenge).toContain('error="invalid_token"');
    expect(JSON.stringify(await res.json())).toContain('Invalid agent token or OAuth access token');
  });

  it('answers 404 for an unknown feature and for a feature without an upstream', async () => {
    const unknown = await post('/mcp/987654', call(1));
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(await unknown.json())).toContain('Feature not found');
    const noUpstream = await post(`/mcp/${bareFeatureId}`, call(1));
    expect(noUpstream.status).toBe(404);
    expect((await noUpstream.json()).errors[0].title).toBe(
      'Feature "No upstream" has no upstream MCP server configured',
    );
    // A feature the agent may not use: 403, before its upstream is looked at.
    const other = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'Not the agent’s',
      upstream: { url: upstream.url },
    });
    expect(other.status).toBe(201);
    const forbidden = await post(`/mcp/${other.body.data.id}`, call(1));
    expect(forbidden.status).toBe(403);
    expect(JSON.stringify(await forbidden.json())).toContain('may not use feature');
  });

  it('hands a wrong content type, a body that is not JSON and one over the limit to the SDK', async () => {
    const wrongType = await post(`/mcp/${featureId}`, call(1), { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect((await wrongType.json()).error.code).toBe(-32000);
    const notJson = await post(`/mcp/${featureId}`, '{"jsonrpc": "2.0", "id": 1,');
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.code).toBe(-32700);
    const huge = await post(`/mcp/${featureId}`, call(1, 'search', { q: 'x'.repeat(1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe(-32000);
    // The next call on the fast path works.
    const next = await post(`/mcp/${featureId}`, call(2));
    expect(next.status).toBe(200);
    expect((await next.json()).result.content[0].text).toBe('found 3 tickets for x');
  });

  it('opens an approval request on a require_approval call, visible as soon as the call answers', async () => {
    const res = await post(`/mcp/${featureId}`, call(3, 'delete_repo', { repo: 'r' }));
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(answer.result.isError).toBe(true);
    const opened = /Approval request (\d+) is pending/.exec(answer.result.content[0].text)?.[1];
    expect(opened).toBeDefined();
    const listed = await roster.get('/api/approval_requests?status=pending');
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((r: { id: number }) => r.id)).toContain(Number(opened));
  });

  it('answers a call whose body comes in many TCP writes, with or without a Content-Length', async () => {
    const body = call('pieces', 'search', { q: 'é'.repeat(40) });
    const expected = {
      jsonrpc: '2.0',
      id: 'pieces',
      result: { content: [{ type: 'text', text: `found 3 tickets for ${'é'.repeat(40)}` }] },
    };
    // Split by bytes, so that a two-byte character is cut across two writes.
    const bytes = Buffer.from(body);
    const sized = await rawPost(
      `/mcp/${featureId}`,
      `content-length: ${bytes.length}`,
      Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) =>
        bytes.subarray(i * 7, (i + 1) * 7),
      ),
    );
    expect(sized.status).toBe(200);
    expect(JSON.parse(sized.body)).toEqual(expected);
    const sent = await rawPost(
      `/mcp/${featureId}`,
      'transfer-encoding: chunked',
      chunked(split(body, 9)),
    );
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.body)).toEqual(expected);
  });

  it('answers a chunked body over the limit with the SDK’s 413, and serves the next call', async () => {
    const huge = call(1, 'search', { q: 'x'.repeat(1024 * 1024) });
    const res = await rawPost(
      `/mcp/${featureId}`,
      'transfer-encoding: chunked',
      chunked(split(huge, 256 * 1024)),
    );
    expect(res.status).toBe(413);
    // The HTTP/1.1 framing of the answer (chunked or sized) around the JSON-RPC error.
    expect(res.body).toContain('"code":-32000');
    const next = await post(`/mcp/${featureId}`, call(2));
    expect(next.status).toBe(200);
  });

  it('keeps serving when a client goes away mid-body, and answers no 500 for it', async () => {
    const errors = async () => {
      const text = await (await fetch(`${roster.url}/metrics`)).text();
      return text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('roster_http_requests_total{') &&
            l.includes('route="/mcp/:featureId"') &&
            l.includes('status="500"'),
        )
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const before = await errors();
    const { port } = new URL(roster.url);
    for (const [framing, first] of [
      ['content-length: 200', call(9).slice(0, 30)],
      ['transfer-encoding: chunked', `1e\r\n${call(9).slice(0, 30)}\r\n`],
    ] as const) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(rawHead(`/mcp/${featureId}`, framing) + first);
          // Long enough for the server to authenticate and start reading the body.
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 200);
        });
        socket.on('error', reject);
      });
    }
    const next = await post(`/mcp/${featureId}`, call(10));
    expect(next.status).toBe(200);
    expect((await next.json()).id).toBe(10);
    expect(await errors()).toBe(before);
  });
});
