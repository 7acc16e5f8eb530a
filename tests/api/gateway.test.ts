/**
 * The MCP gateway end to end, with the MCP SDK on both sides: the SDK's client connects to
 * `/mcp/<feature id>` with an agent token, and the gateway forwards to an upstream MCP server built
 * with the SDK (tests/helpers/mcp-upstream.ts) serving three tools. The walk: a filtered
 * tools/list, an allowed call forwarded unchanged, a denied call refused with its reason, an
 * approval requested, approved and honoured, a lock stopping the next call and an unlock
 * restoring it, a disabled agent stopped, a rotated token (the old one refused), an expired agent,
 * API-client tokens and console sessions refused, the upstream down or hanging (a clear error,
 * then recovery), and concurrent calls of several agents keeping their identities.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

const UPSTREAM_SECRET = 'Bearer upstream-secret-3f9a';
const TIMEOUT_MS = 1000;

let roster: Roster;
let upstream: Upstream;
let ada: number;
let bob: number;
let feature: number;
let agent: { id: number; token: string };
const clients: Client[] = [];

async function connect(token: string, featureId = feature): Promise<Client> {
  const client = new Client({ name: 'gateway-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${roster.url}/mcp/${featureId}`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function endUser(name: string): Promise<number> {
  const res = await roster.post('/api/end_users', {
    name,
    email: `${name.toLowerCase()}@gateway.example.com`,
    environment_types: ['dev'],
  });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

async function createAgent(body: Record<string, unknown>) {
  const res = await roster.post('/api/agents', {
    environment_type: 'dev',
    feature_ids: [feature],
    ...body,
  });
  expect(res.status).toBe(201);
  return res.body.data as { id: number; token: string; [key: string]: unknown };
}

/** A request the gateway refused at the HTTP level: its status and the message of its body. */
async function refused(attempt: Promise<unknown>, status: number, message: string | RegExp) {
  const error = await attempt.then(
    () => {
      throw new Error('the gateway accepted the request');
    },
    (e: unknown) => e as { code?: number; message: string },
  );
  expect(error.code).toBe(status);
  if (typeof message === 'string') expect(error.message).toContain(message);
  else expect(error.message).toMatch(message);
}

const text = (result: { content?: unknown }) =>
  (result.content as { type: string; text: string }[]).map((c) => c.text).join('\n');

type ToolCallEvent = { actor: { type: string }; after: Record<string, unknown> };

/**
 * The tool-call records of an agent once `done` holds: the recorder writes its batch every
 * 200 ms, off the call path, so the last calls show up shortly after they were answered.
 */
async function toolCalls(agentId: number, done: (records: ToolCallEvent[]) => boolean) {
  let records: ToolCallEvent[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await roster.get(
      `/api/audit_events?action=agent.tool_call&target_id=${agentId}&page[size]=100`,
    );
    records = res.body.data;
    if (done(records)) return records;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return records;
}

beforeAll(async () => {
  upstream = await startUpstream();
  roster = await startRoster({
    env: {
      ROSTER_MCP_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      ROSTER_ADMIN_EMAIL: 'admin@gateway.example.com',
      ROSTER_ADMIN_PASSWORD: 'correct horse battery',
    },
  });
  ada = await endUser('Ada');
  bob = await endUser('Bob');
  const created = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: 'Tickets MCP',
    upstream: { url: upstream.url, headers: { Authorization: UPSTREAM_SECRET } },
  });
  expect(created.status).toBe(201);
  feature = created.body.data.id;
  await roster.post(`/api/features/${feature}/access`, { end_user_ids: [ada, bob] });
  const deny = await roster.post('/api/policies', {
    name: 'No deleting repositories',
    environment_type: 'dev',
    feature_id: feature,
    tools: ['delete_repo'],
    scope: { type: 'all' },
    effect: 'deny',
  });
  expect(deny.status).toBe(201);
  const approval = await roster.post('/api/policies', {
    name: 'Tickets need a lead',
    environment_type: 'dev',
    feature_id: feature,
    tools: ['create_ticket'],
    scope: { type: 'all' },
    effect: 'require_approval',
  });
  expect(approval.status).toBe(201);
  agent = await createAgent({ name: 'Ada’s assistant', end_user_id: ada });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await roster.close();
  await upstream.close();
});

describe('MCP server features and agents', () => {
  it('shows which upstream headers are set, never their values', async () => {
    const got = await roster.get(`/api/features/${feature}`);
    expect(got.body.data.upstream).toEqual({ url: upstream.url, header_names: ['Authorization'] });
    const audit = await roster.get(`/api/audit_events?target_type=feature&target_id=${feature}`);
    for (const res of [got, audit, await roster.get('/api/features?kind=mcp_server')])
      expect(res.text).not.toContain('upstream-secret');
  });

  it('refuses an upstream on a feature that is not an MCP server, and reserved headers', async () => {
    const assistant = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Not an MCP server',
      upstream: { url: 'http://127.0.0.1:1/mcp' },
    });
    expect(assistant.status).toBe(400);
    expect(assistant.body.errors[0].title).toBe(
      'Only an mcp_server feature has an upstream MCP server',
    );
    const reserved = await roster.put(`/api/features/${feature}`, {
      upstream: { url: upstream.url, headers: { 'Mcp-Session-Id': 'x' } },
    });
    expect(reserved.status).toBe(400);
    expect(reserved.body.errors[0].title).toContain('Mcp-Session-Id');
  });

  it('creates an agent whose token is shown once and stored hashed', async () => {
    expect(agent.token).toMatch(/^rag_[\w-]{40,}$/);
    const got = await roster.get(`/api/agents/${agent.id}`);
    expect(got.body.data).toEqual({
      id: agent.id,
      name: 'Ada’s assistant',
      environment_type: 'dev',
      end_user: { id: ada, name: 'Ada', email: 'ada@gateway.example.com' },
      feature_ids: [feature],
      tools: {},
      token_prefix: expect.stringMatching(/^rag_[\w-]{8}…$/),
      disabled: false,
      expires_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      rotated_at: null,
    });
    expect(got.text).not.toContain(agent.token);
    const list = await roster.get(`/api/agents?end_user_id=${ada}`);
    expect(list.body.data.map((a: { id: number }) => a.id)).toEqual([agent.id]);
  });

  it('refuses agents for unknown end users, features of other kinds and stray tools', async () => {
    const other = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'chat_app',
      name: 'Chat',
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ end_user_id: 999_999 }, 'End user 999999 not found'],
      [{ end_user_id: ada, feature_ids: [other.body.data.id] }, 'An agent calls MCP servers'],
      [{ end_user_id: ada, tools: { '12345': ['search'] } }, 'tools names feature 12345'],
      [{ end_user_id: ada, name: '   ' }, 'Name can’t be blank'],
    ];
    for (const [body, message] of cases) {
      const res = await roster.post('/api/agents', {
        name: 'Bad',
        environment_type: 'dev',
        feature_ids: [feature],
        ...body,
      });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].title).toContain(message);
    }
  });
});

describe('the gateway walk', () => {
  let client: Client;

  it('lists only the tools the caller may call', async () => {
    client = await connect(agent.token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['create_ticket', 'search']);
  });

  it('forwards an allowed call and answers the upstream’s result unchanged', async () => {
    const before = upstream.headers.length;
    const result = await client.callTool({ name: 'search', arguments: { q: 'printer' } });
    expect(result).toEqual({ content: [{ type: 'text', text: 'found 3 tickets for printer' }] });
    expect(upstream.calls.at(-1)).toBe('search:printer');
    // The upstream got the feature's header, never the agent's token.
    const seen = upstream.headers.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const headers of seen) {
      expect(headers.authorization).toBe(UPSTREAM_SECRET);
      expect(JSON.stringify(headers)).not.toContain(agent.token);
    }
  });

  it('refuses a denied call with the decision’s reason, and forwards nothing', async () => {
    const calls = upstream.calls.length;
    const result = await client.callTool({ name: 'delete_repo', arguments: { repo: 'core' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('Policy "No deleting repositories" (deny) applies to all users');
    expect(upstream.calls.length).toBe(calls);
  });

  it('asks for approval, and honours the approval once it is given', async () => {
    const calls = upstream.calls.length;
    const first = await client.callTool({ name: 'create_ticket', arguments: { title: 'Fix it' } });
    expect(first.isError).toBe(true);
    const match = /Approval request (\d+) is pending/.exec(text(first));
    expect(match).not.toBeNull();
    const requestId = Number(match?.[1]);
    expect(text(first)).toContain(`http://roster.test/approvals`);
    expect(upstream.calls.length).toBe(calls);
    // Asking again while pending opens no second request.
    const again = await client.callTool({ name: 'create_ticket', arguments: { title: 'Fix it' } });
    expect(text(again)).toContain(`Approval request ${requestId} is pending`);

    const approved = await roster.post(`/api/approval_requests/${requestId}/approve`);
    expect(approved.status).toBe(200);
    const honoured = await client.callTool({
      name: 'create_ticket',
      arguments: { title: 'Fix it' },
    });
    expect(honoured).toEqual({ content: [{ type: 'text', text: 'created ticket "Fix it"' }] });
    expect(upstream.calls.at(-1)).toBe('create_ticket:Fix it');
  });

  it('stops the very next call when the end user is locked, and resumes on unlock', async () => {
    expect((await roster.post(`/api/end_users/${ada}/lock`)).status).toBe(200);
    const locked = await client.callTool({ name: 'search', arguments: { q: 'x' } });
    expect(locked.isError).toBe(true);
    expect(text(locked)).toContain('ada@gateway.example.com is locked');
    expect((await client.listTools()).tools).toEqual([]);
    expect((await roster.post(`/api/end_users/${ada}/unlock`)).status).toBe(200);
    const unlocked = await client.callTool({ name: 'search', arguments: { q: 'y' } });
    expect(unlocked.isError).toBeUndefined();
    expect(text(unlocked)).toBe('found 3 tickets for y');
  });

  it('stops a disabled agent at its very next call', async () => {
    const disabled = await roster.request('PATCH', `/api/agents/${agent.id}`, {
      body: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.data.disabled).toBe(true);
    await refused(
      client.callTool({ name: 'search', arguments: { q: 'z' } }),
      403,
      'Agent \\"Ada’s assistant\\" is disabled',
    );
    await roster.request('PATCH', `/api/agents/${agent.id}`, { body: { disabled: false } });
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'z' } }))).toBe(
      'found 3 tickets for z',
    );
  });

  it('limits an agent to its tools, on top of the end user’s decision', async () => {
    const narrow = await createAgent({
      name: 'Search only',
      end_user_id: ada,
      tools: { [String(feature)]: ['search'] },
    });
    const narrowClient = await connect(narrow.token);
    expect((await narrowClient.listTools()).tools.map((t) => t.name)).toEqual(['search']);
    const refused = await narrowClient.callTool({
      name: 'create_ticket',
      arguments: { title: 'a' },
    });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('Agent "Search only" may not call tool create_ticket');
  });

  it('refuses the old token after a rotation and accepts the new one', async () => {
    const rotated = await roster.post(`/api/agents/${agent.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.rotated_at).not.toBeNull();
    await refused(
      client.callTool({ name: 'search', arguments: { q: 'a' } }),
      401,
      'Invalid agent token',
    );
    agent = { id: agent.id, token: rotated.body.data.token };
    client = await connect(agent.token);
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'b' } }))).toBe(
      'found 3 tickets for b',
    );
  });

  it('refuses an expired agent', async () => {
    const expiring = await createAgent({
      name: 'Short-lived',
      end_user_id: ada,
      expires_at: new Date(roster.clock.now().getTime() + 60 * 60_000).toISOString(),
    });
    const shortClient = await connect(expiring.token);
    expect(text(await shortClient.callTool({ name: 'search', arguments: { q: 'c' } }))).toBe(
      'found 3 tickets for c',
    );
    roster.clock.advance(2 * 60 * 60_000);
    await refused(
      shortClient.callTool({ name: 'search', arguments: { q: 'd' } }),
      401,
      'Agent \\"Short-lived\\" expired',
    );
  });

  it('refuses a deleted agent’s token at once', async () => {
    const doomed = await createAgent({ name: 'Doomed', end_user_id: ada });
    const doomedClient = await connect(doomed.token);
    expect(text(await doomedClient.callTool({ name: 'search', arguments: { q: 'f' } }))).toBe(
      'found 3 tickets for f',
    );
    expect((await roster.delete(`/api/agents/${doomed.id}`)).status).toBe(204);
    expect((await roster.get(`/api/agents/${doomed.id}`)).status).toBe(404);
    await refused(
      doomedClient.callTool({ name: 'search', arguments: { q: 'g' } }),
      401,
      'Invalid agent token',
    );
  });

  it('refuses API-client tokens and console sessions', async () => {
    await refused(connect(roster.adminToken), 401, 'API-client tokens are not gateway credentials');
    const signIn = await roster.post(
      '/api/console/session',
      { email: 'admin@gateway.example.com', password: 'correct horse battery' },
      null,
    );
    expect(signIn.status).toBe(200);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^roster_session=/);
    const withCookie = await fetch(`${roster.url}/mcp/${feature}`, {
      method: 'POST',
      headers: {
        cookie,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(withCookie.status).toBe(401);
    const sessionToken = cookie.split('=')[1] ?? '';
    await refused(connect(sessionToken), 401, 'Invalid agent token');
  });

  it('answers 404 for an unknown feature or one without an upstream, and a protocol error for a malformed message', async () => {
    const plain = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'No upstream yet',
    });
    const withFeature = await createAgent({
      name: 'Wide',
      end_user_id: ada,
      feature_ids: [feature, plain.body.data.id],
    });
    const post = (path: string, body: string) =>
      fetch(`${roster.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${withFeature.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body,
      });
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    for (const path of ['/mcp/999999', '/mcp/abc', `/mcp/${plain.body.data.id}`]) {
      const res = await post(path, list);
      expect(res.status).toBe(404);
    }
    const garbage = await post(`/mcp/${feature}`, '{"jsonrpc": "2.0", "method": ');
    expect(garbage.status).toBe(400);
    expect((await garbage.json()).error.code).toBe(-32700);
    const notRpc = await post(`/mcp/${feature}`, JSON.stringify({ hello: 'world' }));
    expect(notRpc.status).toBe(400);
    expect((await notRpc.json()).error.message).toMatch(/Invalid JSON-RPC message/);
    // The gateway still serves.
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'e' } }))).toBe(
      'found 3 tickets for e',
    );
  });

  it('passes resources and prompts through under the feature’s access', async () => {
    const read = await client.readResource({ uri: 'docs://readme' });
    expect(read.contents).toEqual([{ uri: 'docs://readme', text: 'The upstream readme' }]);
    const prompt = await client.getPrompt({ name: 'triage' });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Triage this ticket' });
    await roster.post(`/api/end_users/${ada}/lock`);
    await expect(client.readResource({ uri: 'docs://readme' })).rejects.toThrow(/is locked/);
    await roster.post(`/api/end_users/${ada}/unlock`);
  });

  it('gives a clear error within the timeout when the upstream is down, hangs or answers garbage, and recovers', async () => {
    await upstream.stop();
    let started = Date.now();
    await expect(client.callTool({ name: 'search', arguments: { q: 'down' } })).rejects.toThrow(
      /upstream MCP server of feature "Tickets MCP" \(\d+\) is unreachable/,
    );
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2000);
    await upstream.start();
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'back' } }))).toBe(
      'found 3 tickets for back',
    );

    upstream.mode = 'hang';
    started = Date.now();
    await expect(client.callTool({ name: 'search', arguments: { q: 'slow' } })).rejects.toThrow(
      `did not answer within ${TIMEOUT_MS} ms`,
    );
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2000);
    upstream.mode = 'garbage';
    await expect(client.callTool({ name: 'search', arguments: { q: 'junk' } })).rejects.toThrow(
      /is unreachable or did not answer in MCP/,
    );
    upstream.mode = 'up';
    expect(text(await client.callTool({ name: 'search', arguments: { q: 'again' } }))).toBe(
      'found 3 tickets for again',
    );
    const health = await roster.get('/healthz', null);
    expect(health.status).toBe(200);
  });

  it('records every call with its agent, end user, decision, reasons, upstream status and latency', async () => {
    const all = ['ok', 'not_called', 'timeout', 'unreachable'];
    const records = await toolCalls(agent.id, (r) =>
      all.every((status) => r.some((e) => e.after.upstream_status === status)),
    );
    expect(records.every((r) => r.actor.type === 'agent')).toBe(true);
    const denied = records.find((r) => r.after.tool === 'delete_repo');
    expect(denied?.after).toMatchObject({
      end_user_id: ada,
      end_user_email: 'ada@gateway.example.com',
      feature_id: feature,
      feature_name: 'Tickets MCP',
      method: 'tools/call',
      decision: 'deny',
      upstream_status: 'not_called',
      reasons: [expect.stringContaining('No deleting repositories')],
    });
    const statuses = new Set(records.map((r) => r.after.upstream_status));
    expect(statuses).toEqual(new Set(all));
    for (const record of records) expect(record.after.latency_ms).toEqual(expect.any(Number));
  });
});

describe('concurrent agents', () => {
  it('keeps each call’s identity when many agents call at once', async () => {
    // Bob is locked: his agents' calls must all be refused, Ada's all forwarded, interleaved.
    await roster.post(`/api/end_users/${bob}/lock`);
    const bobAgent = await createAgent({ name: 'Bob’s agent', end_user_id: bob });
    const adaAgent = await createAgent({ name: 'Ada’s second agent', end_user_id: ada });
    const bobClient = await connect(bobAgent.token);
    const adaClient = await connect(adaAgent.token);
    const calls = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? adaClient
            .callTool({ name: 'search', arguments: { q: `ada-${i}` } })
            .then((r) => ['ada', i, r] as const)
        : bobClient
            .callTool({ name: 'search', arguments: { q: `bob-${i}` } })
            .then((r) => ['bob', i, r] as const),
    );
    for (const [who, i, result] of await Promise.all(calls)) {
      if (who === 'ada') expect(text(result)).toBe(`found 3 tickets for ada-${i}`);
      else {
        expect(result.isError).toBe(true);
        expect(text(result)).toContain('bob@gateway.example.com is locked');
      }
    }
    expect(upstream.calls.filter((c) => c.startsWith('search:bob-'))).toEqual([]);
    const bobRecords = await toolCalls(bobAgent.id, (r) => r.length >= 20);
    expect(bobRecords).toHaveLength(20);
    expect(
      bobRecords.every((r) => r.after.end_user_id === bob && r.after.decision === 'deny'),
    ).toBe(true);
    const adaRecords = await toolCalls(adaAgent.id, (r) => r.length >= 20);
    expect(adaRecords).toHaveLength(20);
    expect(
      adaRecords.every((r) => r.after.end_user_id === ada && r.after.decision === 'allow'),
    ).toBe(true);
  });
});
