/**
 * The gateway's fast path for tools/call (gateway.routes.ts, upstream-pool.ts `callTool`): the
 * SDK's real client in front, real SDK upstreams behind, and what the fast path must keep:
 * concurrent callers sharing one upstream session with the same JSON-RPC ID get their own
 * answers (the upstream sees gateway-unique IDs), an upstream answering SSE, a stateful upstream
 * that loses its session between calls, an upstream answering garbage or hanging (a clear error,
 * then the next call works), the agent token never reaching the upstream, a denied call refused
 * with its reason and nothing forwarded, and the body limit answered by the SDK (413).
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

const UPSTREAM_SECRET = 'Bearer fast-path-upstream-secret';
const TIMEOUT_MS = 800;
const AGENTS = 12;

let roster: Roster;
const upstreams: Upstream[] = [];
const clients: Client[] = [];
/** Every agent token created, to look for in what the upstreams received. */
const tokens: string[] = [];
let userSeq = 0;

const text = (result: { content?: unknown }) =>
  (result.content as { type: string; text: string }[]).map((c) => c.text).join('\n');

async function connect(token: string, featureId: number): Promise<Client> {
  const client = new Client({ name: 'fast-path-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${roster.url}/mcp/${featureId}`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

/** An MCP server feature in front of `upstream`, with delete_repo denied by a policy. */
async function mcpFeature(name: string, upstream: Upstream): Promise<number> {
  const created = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name,
    upstream: { url: upstream.url, headers: { Authorization: UPSTREAM_SECRET } },
  });
  expect(created.status).toBe(201);
  const id = created.body.data.id as number;
  const deny = await roster.post('/api/policies', {
    name: `No deleting repositories (${name})`,
    environment_type: 'dev',
    feature_id: id,
    tools: ['delete_repo'],
    scope: { type: 'all' },
    effect: 'deny',
  });
  expect(deny.status).toBe(201);
  return id;
}

/** An end user with access to the feature, and an agent of theirs: its ID and token. */
async function agentFor(featureId: number) {
  userSeq += 1;
  const user = await roster.post('/api/end_users', {
    name: `User ${userSeq}`,
    email: `user-${userSeq}@fast-path.example.com`,
    environment_types: ['dev'],
  });
  expect(user.status).toBe(201);
  await roster.post(`/api/features/${featureId}/access`, { end_user_ids: [user.body.data.id] });
  const agent = await roster.post('/api/agents', {
    name: `Agent ${userSeq}`,
    environment_type: 'dev',
    end_user_id: user.body.data.id,
    feature_ids: [featureId],
  });
  expect(agent.status).toBe(201);
  tokens.push(agent.body.data.token);
  return {
    id: agent.body.data.id as number,
    token: agent.body.data.token as string,
    userId: user.body.data.id as number,
  };
}

/** The tools/call messages an upstream received. */
const toolCallsSeen = (upstream: Upstream) =>
  upstream.messages.filter(
    (m): m is { id: unknown; params: { name: string; arguments: { q?: string } } } =>
      (m as { method?: string }).method === 'tools/call',
  );

beforeAll(async () => {
  roster = await startRoster({ env: { ROSTER_MCP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await roster.close();
  await Promise.allSettled(upstreams.map((u) => u.close()));
  // The agent tokens never reached any upstream, in any header (checked after every test ran).
  for (const upstream of upstreams) {
    for (const headers of upstream.headers) {
      const values = JSON.stringify(headers);
      for (const token of tokens) expect(values).not.toContain(token);
      expect(headers.authorization).toBe(UPSTREAM_SECRET);
    }
  }
});

describe('the gateway fast path for tools/call', () => {
  it('answers concurrent calls of many agents, all with the same JSON-RPC id, each with its own answer', async () => {
    const upstream = await startUpstream({ stateful: true });
    upstreams.push(upstream);
    const feature = await mcpFeature('Shared session', upstream);
    const agents = await Promise.all(Array.from({ length: AGENTS }, () => agentFor(feature)));
    // Each client is new: its first call after initialize has JSON-RPC id 1, like every other's.
    const connected = await Promise.all(agents.map((a) => connect(a.token, feature)));
    const before = toolCallsSeen(upstream).length;
    const results = await Promise.all(
      connected.map((client, i) =>
        // Every third agent asks for the denied tool: decisions of different callers interleave.
        i % 3 === 2
          ? client.callTool({ name: 'delete_repo', arguments: { repo: `repo-${i}` } })
          : client.callTool({ name: 'search', arguments: { q: `agent-${i}` } }),
      ),
    );
    results.forEach((result, i) => {
      if (i % 3 === 2) {
        expect(result.isError).toBe(true);
        expect(text(result)).toContain('No deleting repositories (Shared session)');
      } else {
        expect(result.isError).toBeFalsy();
        expect(text(result)).toBe(`found 3 tickets for agent-${i}`);
      }
    });
    // One upstream session for all of them, and every forwarded call had an ID of its own.
    expect(upstream.sessions).toBe(1);
    const seen = toolCallsSeen(upstream).slice(before);
    expect(seen.map((m) => m.params.arguments.q).sort()).toEqual(
      agents
        .map((_a, i) => i)
        .filter((i) => i % 3 !== 2)
        .map((i) => `agent-${i}`)
        .sort(),
    );
    const ids = seen.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain(1);
    // Nothing of the denied calls was forwarded.
    expect(upstream.calls.filter((c) => c.startsWith('delete_repo'))).toEqual([]);
    // The records name each call's own agent (written in batches: polled until they are in).
    const recordsOf = async (agentId: number) =>
      (
        await roster.get(
          `/api/audit_events?action=agent.tool_call&target_id=${agentId}&page[size]=100`,
        )
      ).body.data as { after: { tool: string; decision: string; end_user_id: number } }[];
    for (const [i, agent] of agents.entries()) {
      let mine = await recordsOf(agent.id);
      for (let tries = 0; tries < 50 && mine.length === 0; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        mine = await recordsOf(agent.id);
      }
      expect(mine.map((r) => [r.after.tool, r.after.decision, r.after.end_user_id])).toEqual([
        i % 3 === 2 ? ['delete_repo', 'deny', agent.userId] : ['search', 'allow', agent.userId],
      ]);
    }
  });

  it('reads an upstream that answers with an SSE stream', async () => {
    const upstream = await startUpstream({ sse: true });
    upstreams.push(upstream);
    const feature = await mcpFeature('SSE upstream', upstream);
    const client = await connect((await agentFor(feature)).token, feature);
    for (const q of ['one', 'two', 'three']) {
      const result = await client.callTool({ name: 'search', arguments: { q } });
      expect(result.isError).toBeFalsy();
      expect(text(result)).toBe(`found 3 tickets for ${q}`);
    }
    expect(upstream.calls).toEqual(['search:one', 'search:two', 'search:three']);
  });

  it('reconnects when a stateful upstream lost its session between calls', async () => {
    const upstream = await startUpstream({ stateful: true, sse: true });
    upstreams.push(upstream);
    const feature = await mcpFeature('Stateful upstream', upstream);
    const client = await connect((await agentFor(feature)).token, feature);
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'before' } }))).toBe(
      'found 3 tickets for before',
    );
    expect(upstream.sessions).toBe(1);
    upstream.dropSessions();
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'after' } }))).toBe(
      'found 3 tickets for after',
    );
    expect(upstream.sessions).toBe(2);
    expect(upstream.calls).toEqual(['search:before', 'search:after']);
  });

  it('gives a clear error when the upstream answers garbage or hangs, and the next call works', async () => {
    const upstream = await startUpstream();
    upstreams.push(upstream);
    const feature = await mcpFeature('Flaky upstream', upstream);
    const client = await connect((await agentFor(feature)).token, feature);
    const failing: [typeof upstream.mode, RegExp][] = [
      ['not-rpc', /Flaky upstream.*is unreachable or did not answer in MCP/],
      ['garbage', /Flaky upstream.*is unreachable or did not answer in MCP/],
      ['hang', new RegExp(`did not answer within ${TIMEOUT_MS} ms`)],
    ];
    for (const [mode, message] of failing) {
      upstream.mode = mode;
      const started = Date.now();
      const error = await client.callTool({ name: 'search', arguments: { q: mode } }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);
      upstream.mode = 'up';
      expect(
        text(await client.callTool({ name: 'search', arguments: { q: `after ${mode}` } })),
      ).toBe(`found 3 tickets for after ${mode}`);
    }
  });

  it('follows an upstream URL that redirects (as the SDK client’s fetch does)', async () => {
    const upstream = await startUpstream();
    upstreams.push(upstream);
    // A front on its own origin: `/old` answers 307 to `/mcp` (method and body kept; the SDK's
    // client follows same-origin redirects only), and `/mcp` is passed on to the real upstream.
    const front = createServer((req, res) => {
      if (req.url === '/old') {
        req.resume();
        res.writeHead(307, { location: '/mcp' }).end();
        return;
      }
      const target = new URL(upstream.url);
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
      req.pipe(out);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const frontUrl = `http://127.0.0.1:${String((front.address() as AddressInfo).port)}/old`;
      const feature = await mcpFeature('Redirecting upstream', { ...upstream, url: frontUrl });
      const client = await connect((await agentFor(feature)).token, feature);
      for (const q of ['first', 'second']) {
        expect(text(await client.callTool({ name: 'search', arguments: { q } }))).toBe(
          `found 3 tickets for ${q}`,
        );
      }
      expect(upstream.calls).toEqual(['search:first', 'search:second']);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it('passes the upstream’s own JSON-RPC error on (an unknown tool) and keeps serving', async () => {
    const upstream = await startUpstream();
    upstreams.push(upstream);
    const feature = await mcpFeature('Errors upstream', upstream);
    const client = await connect((await agentFor(feature)).token, feature);
    const result = await client.callTool({ name: 'no_such_tool', arguments: {} }).then(
      (r) => ({ result: r }),
      (e: unknown) => ({ error: e as Error }),
    );
    // The SDK upstream answers an unknown tool either as an error result or a JSON-RPC error;
    // either way it is the upstream's answer, named as such.
    if ('result' in result) {
      expect(result.result.isError).toBe(true);
      expect(text(result.result)).toContain('no_such_tool');
    } else {
      expect(result.error.message).toContain('no_such_tool');
    }
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'ok' } }))).toBe(
      'found 3 tickets for ok',
    );
  });

  it('answers a body over the limit with the SDK’s 413, and a batch through the SDK path', async () => {
    const upstream = await startUpstream();
    upstreams.push(upstream);
    const feature = await mcpFeature('Limits upstream', upstream);
    const agent = await agentFor(feature);
    const post = (body: string) =>
      fetch(`${roster.url}/mcp/${feature}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${agent.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
    const huge = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'search', arguments: { q: 'x'.repeat(1024 * 1024 + 10) } },
      }),
    );
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe(-32000);
    const batch = await post(
      JSON.stringify([
        {
          jsonrpc: '2.0',
          id: 'a',
          method: 'tools/call',
          params: { name: 'search', arguments: { q: 'in a batch' } },
        },
        {
          jsonrpc: '2.0',
          id: 'b',
          method: 'tools/call',
          params: { name: 'delete_repo', arguments: { repo: 'x' } },
        },
      ]),
    );
    expect(batch.status).toBe(200);
    const answers = (await batch.json()) as {
      id: string;
      result: { isError?: boolean; content: { text: string }[] };
    }[];
    const byId = new Map(answers.map((a) => [a.id, a.result]));
    expect(byId.get('a')?.content[0]?.text).toBe('found 3 tickets for in a batch');
    expect(byId.get('b')?.isError).toBe(true);
    // A single call straight over HTTP (no SDK client): the fast path's answer keeps the caller's id.
    const single = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'mine-7',
        method: 'tools/call',
        params: { name: 'search', arguments: { q: 'raw' } },
      }),
    );
    expect(single.status).toBe(200);
    expect(single.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await single.json()).toEqual({
      jsonrpc: '2.0',
      id: 'mine-7',
      result: { content: [{ type: 'text', text: 'found 3 tickets for raw' }] },
    });
    const forwarded = toolCallsSeen(upstream).find((m) => m.params.arguments.q === 'raw');
    expect(forwarded?.id).not.toBe('mine-7');
  });
});
