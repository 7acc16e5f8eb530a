/**
 * The bytes of an upstream's answer to a forwarded tools/call, as the gateway reads them
 * (upstream-pool.ts `exchange`: undici's dispatch() with a handler that collects the body, and an
 * SSE answer parsed as it arrives). A front before a real SDK upstream passes initialize and the
 * rest on, and answers the calls whose `q` starts with `raw:` with hand-made bytes: multi-byte
 * characters split across writes, a large answer in many chunks, a JSON content type with a
 * charset, an SSE stream with a notification and another request's answer first that stays open
 * after the answer, the request's ID also inside the result. The caller's own JSON-RPC ID (a
 * string with escapes, a large number) comes back as it was sent.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

const TIMEOUT_MS = 3000;
/** Non-ASCII text of 2-, 3- and 4-byte UTF-8 sequences. */
const WIDE = 'héllo — ✓ 😀 ünïcødé';

let roster: Roster;
let upstream: Upstream;
let front: ReturnType<typeof createServer>;
let featureId: number;
let token: string;
let client: Client;
/** Open SSE answers the front never ends (closed in afterAll). */
const open: ServerResponse[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `bytes` in pieces of `size` bytes, each its own write, with a pause between them. */
async function writeInPieces(res: ServerResponse, bytes: Buffer, size: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) {
    res.write(bytes.subarray(at, at + size));
    await sleep(2);
  }
}

/** The front's own answer to `tools/call` with `q` = `raw:<kind>` (`id`: the gateway's). */
async function answerRaw(kind: string, id: unknown, res: ServerResponse): Promise<void> {
  const result = (text: string) => ({
    jsonrpc: '2.0',
    id,
    result: { content: [{ type: 'text', text }] },
  });
  if (kind === 'split-utf8') {
    // No content-length: chunked, each piece of 3 bytes splits the multi-byte characters.
    res.writeHead(200, { 'content-type': 'application/json' });
    await writeInPieces(res, Buffer.from(JSON.stringify(result(WIDE))), 3);
    res.end();
  } else if (kind === 'large') {
    res.writeHead(200, { 'content-type': 'application/json' });
    await writeInPieces(
      res,
      Buffer.from(JSON.stringify(result(`${WIDE} `.repeat(40_000)))),
      65_536,
    );
    res.end();
  } else if (kind === 'charset') {
    // The answer names its request's ID inside the result too: only the envelope's counts.
    const body = JSON.stringify(result(`"id":${JSON.stringify(id)} and ${WIDE}`));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(body);
  } else if (kind === 'sse-open') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': a comment\n\n');
    await sleep(5);
    res.write(
      `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1, progressToken: 1 } })}\n\n`,
    );
    // Another request's answer in the same stream: not this call's.
    res.write(
      `data: ${JSON.stringify(result('not mine')).replace(
        JSON.stringify(id),
        '"someone-else"',
      )}\n\n`,
    );
    await writeInPieces(res, Buffer.from(`id: 7\ndata: ${JSON.stringify(result(WIDE))}\n\n`), 5);
    // The stream stays open after the answer: the gateway must not wait for its end.
    open.push(res);
  } else {
    res.writeHead(500).end();
  }
}

beforeAll(async () => {
  roster = await startRoster({ env: { ROSTER_MCP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } });
  upstream = await startUpstream();
  const target = new URL(upstream.url);
  front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let message: { id?: unknown; method?: string; params?: { arguments?: { q?: unknown } } };
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        message = {};
      }
      const q = message.params?.arguments?.q;
      if (message.method === 'tools/call' && typeof q === 'string' && q.startsWith('raw:')) {
        void answerRaw(q.slice(4), message.id, res);
        return;
      }
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: req.method,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const created = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: 'Hand-made answers',
    upstream: {
      url: `http://127.0.0.1:${String((front.address() as AddressInfo).port)}/mcp`,
      headers: {},
    },
  });
  expect(created.status).toBe(201);
  featureId = created.body.data.id as number;
  const user = await roster.post('/api/end_users', {
    name: 'Bytes user',
    email: 'bytes@upstream-bytes.example.com',
    environment_types: ['dev'],
  });
  await roster.post(`/api/features/${featureId}/access`, { end_user_ids: [user.body.data.id] });
  const agent = await roster.post('/api/agents', {
    name: 'Bytes agent',
    environment_type: 'dev',
    end_user_id: user.body.data.id,
    feature_ids: [featureId],
  });
  expect(agent.status).toBe(201);
  token = agent.body.data.token as string;
  client = new Client({ name: 'bytes-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${roster.url}/mcp/${featureId}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
});

afterAll(async () => {
  for (const res of open) res.destroy();
  await client.close().catch(() => undefined);
  await roster.close();
  front.closeAllConnections();
  await new Promise((resolve) => front.close(resolve));
  await upstream.close();
});

const text = (result: { content?: unknown }) =>
  (result.content as { type: string; text: string }[]).map((c) => c.text).join('\n');

describe('the gateway reading an upstream’s answer bytes', () => {
  it('joins multi-byte characters split across chunks, and a large answer in many chunks', async () => {
    const split = await client.callTool({ name: 'search', arguments: { q: 'raw:split-utf8' } });
    expect(split.isError).toBeFalsy();
    expect(text(split)).toBe(WIDE);
    const large = await client.callTool({ name: 'search', arguments: { q: 'raw:large' } });
    expect(text(large)).toBe(`${WIDE} `.repeat(40_000));
    // The SDK upstream behind the front still answers the ordinary calls.
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'plain' } }))).toBe(
      'found 3 tickets for plain',
    );
  });

  it('reads a JSON answer with a charset, whose result also contains its request’s ID', async () => {
    const result = await client.callTool({ name: 'search', arguments: { q: 'raw:charset' } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(new RegExp(`^"id":"roster-\\d+" and ${WIDE}$`));
  });

  it('takes the answer from an SSE stream that stays open, skipping other events', async () => {
    const started = Date.now();
    const result = await client.callTool({ name: 'search', arguments: { q: 'raw:sse-open' } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe(WIDE);
    // Answered when the answer arrived, not when the call's time ran out.
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'after sse' } }))).toBe(
      'found 3 tickets for after sse',
    );
  });

  it('answers with the caller’s own JSON-RPC ID: a string with escapes, a large number', async () => {
    for (const id of ['quote " backslash \\ line\u2028tab\t ✓', 9_007_199_254_740_991, 0]) {
      const response = await fetch(`${roster.url}/mcp/${featureId}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'search', arguments: { q: 'raw:split-utf8' } },
        }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        jsonrpc: '2.0',
        id,
        result: { content: [{ type: 'text', text: WIDE }] },
      });
    }
  });
});
