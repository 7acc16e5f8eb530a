/**
 * An outsider's pass over the surfaces issues 12 and 13 added (agents, the MCP gateway, OAuth for
 * MCP clients, approvals, webhooks, the events stream, the access snapshot, export/apply): what a
 * fuzzer, a security probe or a real client would try. Every answer to garbage is the protocol's
 * error or a 4xx (never a 500) and the server stays up; workspace B's token and agents never see
 * or use workspace A's resources (404); secrets never come back after creation; a limited API
 * client stays within its scope.
 */
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { migrateToLatest, openStore } from '../../packages/server/src/storage/connect.js';
import { ADMIN_TOKEN, PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';
import { createTestDatabase, testDialect } from '../helpers/database.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

const UPSTREAM_SECRET = 'Bearer upstream-secret-outsider-7c1e';

let roster: Roster;
let upstream: Upstream;
let tokenB: string;
const a = {} as {
  endUser: number;
  feature: number;
  agent: { id: number; token: string };
  webhook: { id: number; secret: string };
  approval: number;
  policy: number;
};
const b = {} as { endUser: number; feature: number; agent: { id: number; token: string } };

const MCP_HEADERS = {
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
};

function mcp(
  featureId: number,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(`${roster.url}/mcp/${featureId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...MCP_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function alive() {
  const res = await fetch(`${roster.url}/healthz`);
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  upstream = await startUpstream();
  roster = await startRoster({ env: { ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  const created = await roster.post('/platform/workspaces', { name: 'Tenant B' }, PLATFORM_TOKEN);
  tokenB = created.body.data.admin_token;

  for (const [token, into] of [
    [roster.adminToken, a],
    [tokenB, b],
  ] as const) {
    const user = await roster.post(
      '/api/end_users',
      { name: 'Eve', email: 'eve@outsider.example.com', environment_types: ['dev'] },
      token,
    );
    expect(user.status).toBe(201);
    into.endUser = user.body.data.id;
    const feature = await roster.post(
      '/api/features',
      {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Outsider MCP',
        upstream: { url: upstream.url, headers: { Authorization: UPSTREAM_SECRET } },
      },
      token,
    );
    expect(feature.status).toBe(201);
    into.feature = feature.body.data.id;
    await roster.post(
      `/api/features/${into.feature}/access`,
      { end_user_ids: [into.endUser] },
      token,
    );
    const agent = await roster.post(
      '/api/agents',
      {
        name: 'Bot',
        environment_type: 'dev',
        end_user_id: into.endUser,
        feature_ids: [into.feature],
      },
      token,
    );
    expect(agent.status).toBe(201);
    into.agent = { id: agent.body.data.id, token: agent.body.data.token };
  }

  const hook = await roster.post('/api/webhooks', {
    url: 'http://127.0.0.1:9/hook',
    events: ['*'],
    description: 'A hook',
  });
  expect(hook.status).toBe(201);
  a.webhook = { id: hook.body.data.id, secret: hook.body.data.secret };
  const policy = await roster.post('/api/policies', {
    environment_type: 'dev',
    name: 'Ask first',
    feature_id: a.feature,
    tools: ['create_ticket'],
    scope: { type: 'all' },
    effect: 'require_approval',
  });
  expect(policy.status).toBe(201);
  a.policy = policy.body.data.id;
  const asked = await roster.post('/api/end_users/decisions', {
    environment_type: 'dev',
    end_user_id: a.endUser,
    feature_id: a.feature,
    tool: 'create_ticket',
  });
  a.approval = asked.body.data.approval_request_id;
  expect(a.approval).toEqual(expect.any(Number));
});

afterAll(async () => {
  await roster.close();
  await upstream.close();
});

describe('the gateway answers malformed MCP traffic with the protocol error or a 4xx', () => {
  const initialize = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'probe', version: '1' },
    },
  };
  const bodies: [string, unknown][] = [
    ['not JSON', '{"jsonrpc":'],
    ['an empty body', ''],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['a string', '"hello"'],
    ['an empty object', {}],
    ['an empty batch', []],
    ['a batch of garbage', [1, 'x', null, {}, [[]]]],
    ['jsonrpc 1.0', { ...initialize, jsonrpc: '1.0' }],
    ['no jsonrpc', { id: 1, method: 'tools/list' }],
    ['no id', { jsonrpc: '2.0', method: 'tools/list' }],
    ['a huge id', { jsonrpc: '2.0', id: 1e308, method: 'tools/list' }],
    ['an id of 10000 digits', `{"jsonrpc":"2.0","id":${'9'.repeat(10000)},"method":"tools/list"}`],
    ['an object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'tools/list' }],
    ['a long string id', { jsonrpc: '2.0', id: 'x'.repeat(100000), method: 'tools/list' }],
    ['params a string', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: 'search' }],
    ['params an array', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: [1, 2] }],
    ['params null', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: null }],
    ['tools/call without a name', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} }],
    [
      'tools/call with a numeric name',
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 7 } },
    ],
    [
      'tools/call with arguments a string',
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'search', arguments: 'q' } },
    ],
    [
      'tools/call of an unknown tool',
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: '\u0000'.repeat(5) } },
    ],
    [
      'resources/read without a uri',
      { jsonrpc: '2.0', id: 3, method: 'resources/read', params: {} },
    ],
    [
      'prompts/get with params a number',
      { jsonrpc: '2.0', id: 3, method: 'prompts/get', params: 5 },
    ],
    ['an unknown method', { jsonrpc: '2.0', id: 4, method: 'no/such/method' }],
    ['a method that is not a string', { jsonrpc: '2.0', id: 4, method: 12 }],
    ['a response instead of a request', { jsonrpc: '2.0', id: 5, result: {} }],
    ['an error response', { jsonrpc: '2.0', id: 5, error: { code: 1, message: 'x' } }],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }],
    [
      'a batch of a valid call and garbage',
      [{ jsonrpc: '2.0', id: 6, method: 'tools/list' }, { nonsense: true }],
    ],
    ['initialize with params a string', { ...initialize, params: 'x' }],
    [
      'initialize with an unknown protocol version',
      { ...initialize, params: { ...initialize.params, protocolVersion: 'x'.repeat(5000) } },
    ],
    ['JSON nested 100000 levels', '['.repeat(100000) + ']'.repeat(100000)],
    [
      'a prototype key',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"__proto__":{"name":"search"}}}',
    ],
  ];

  it.each(bodies)('%s', async (_name, body) => {
    const res = await mcp(a.feature, a.agent.token, body);
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    await alive();
  });

  const headerCases: [string, Record<string, string>][] = [
    ['no Accept', { accept: '' }],
    ['Accept text/html', { accept: 'text/html' }],
    ['Accept only JSON', { accept: 'application/json' }],
    ['Content-Type text/plain', { 'content-type': 'text/plain' }],
    ['Content-Type form', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['a bad MCP-Protocol-Version', { 'mcp-protocol-version': 'not-a-version' }],
    ['a huge MCP-Protocol-Version', { 'mcp-protocol-version': 'x'.repeat(8000) }],
    ['an Mcp-Session-Id', { 'mcp-session-id': 'nope' }],
    ['Content-Encoding gzip on plain JSON', { 'content-encoding': 'gzip' }],
    ['a wrong charset', { 'content-type': 'application/json; charset=nonsense' }],
  ];

  it.each(headerCases)('%s', async (_name, headers) => {
    const res = await mcp(
      a.feature,
      a.agent.token,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      headers,
    );
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    await alive();
  });

  it('refuses odd gateway paths and credentials with a 4xx', async () => {
    for (const path of ['abc', '0', '-1', '1e3', '99999999999999999999', '%00', 'x'.repeat(64)]) {
      const res = await fetch(`${roster.url}/mcp/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.agent.token}`, ...MCP_HEADERS },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status, `${path}: ${await res.text()}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    for (const authorization of [
      '',
      'Bearer',
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      `Bearer ${'x'.repeat(10000)}`,
    ]) {
      const res = await fetch(`${roster.url}/mcp/${a.feature}`, {
        method: 'POST',
        headers: { authorization, ...MCP_HEADERS },
        body: '{}',
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    await alive();
  });
});

describe('the events stream, audit export and probes answer odd requests with a 4xx', () => {
  it('refuses bad resume positions and odd headers without a 5xx', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/api/events/stream', { 'last-event-id': 'abc' }],
      ['/api/events/stream', { 'last-event-id': '-1' }],
      ['/api/events/stream', { 'last-event-id': '9'.repeat(400) }],
      ['/api/events/stream', { 'last-event-id': '1e3' }],
      ['/api/events/stream?after=1&heartbeat_seconds=0', {}],
      ['/api/events/stream?after=99999999999', {}],
      ['/api/audit_events?format=xml', {}],
      ['/api/audit_events?format=csv&page[size]=0', {}],
    ];
    for (const [path, headers] of cases) {
      const res = await fetch(`${roster.url}${path}`, {
        headers: { authorization: `Bearer ${roster.adminToken}`, ...headers },
      });
      const text = await res.text();
      expect(
        res.status,
        `${path} ${JSON.stringify(headers).slice(0, 80)}: ${text.slice(0, 200)}`,
      ).toBe(400);
    }
    for (const [path, headers] of [
      ['/metrics', { accept: 'application/openmetrics-text; version=1.0.0' }],
      ['/metrics', { accept: 'x/y' }],
      ['/metrics', { authorization: 'Bearer nope' }],
      ['/readyz', { accept: 'text/html' }],
      ['/readyz?verbose=%ff', {}],
    ] as [string, Record<string, string>][]) {
      const res = await fetch(`${roster.url}${path}`, { headers });
      // Read to the end: an unread answer keeps its connection busy (and the server's close waiting).
      await res.text();
      expect(res.status, path).toBeLessThan(500);
    }
    await alive();
  });

  it('shuts down promptly after refusing an oversized MCP body', async () => {
    // The refused body was left unread mid-request: the connection never turned idle and the
    // server's close waited for it forever.
    const own = await startRoster();
    try {
      const user = await own.post('/api/end_users', {
        name: 'Big',
        email: 'big@outsider.example.com',
        environment_types: ['dev'],
      });
      const feature = await own.post('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Big MCP',
        upstream: { url: upstream.url },
      });
      await own.post(`/api/features/${feature.body.data.id}/access`, {
        end_user_ids: [user.body.data.id],
      });
      const agent = await own.post('/api/agents', {
        name: 'Big bot',
        environment_type: 'dev',
        end_user_id: user.body.data.id,
        feature_ids: [feature.body.data.id],
      });
      const res = await fetch(`${own.url}/mcp/${feature.body.data.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.body.data.token}`, ...MCP_HEADERS },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'x',
          params: { q: 'x'.repeat(3 << 20) },
        }),
      });
      await res.text();
      expect(res.status).toBe(413);
    } finally {
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        own.close().then(() => 'closed'),
        new Promise((resolve) => {
          timer = setTimeout(() => {
            resolve('still open after 10 s');
          }, 10_000);
        }),
      ]);
      clearTimeout(timer);
      expect(closed).toBe('closed');
    }
  });
});

describe('the OAuth endpoints and metadata answer garbage with a 4xx', () => {
  const probes: [string, string, string | undefined, Record<string, string>?][] = [
    ['GET', '/.well-known/oauth-protected-resource/mcp/abc', undefined],
    ['GET', '/.well-known/oauth-protected-resource/mcp/99999999999999999999', undefined],
    ['GET', '/.well-known/oauth-protected-resource/mcp/%00', undefined],
    ['GET', '/.well-known/oauth-authorization-server?x=%ff', undefined],
    [
      'POST',
      '/oauth/register',
      '{"redirect_uris":"not-an-array"}',
      { 'content-type': 'application/json' },
    ],
    ['POST', '/oauth/register', '{', { 'content-type': 'application/json' }],
    ['POST', '/oauth/register', '[]', { 'content-type': 'application/json' }],
    [
      'POST',
      '/oauth/register',
      '{"redirect_uris":["javascript:alert(1)"]}',
      { 'content-type': 'application/json' },
    ],
    [
      'POST',
      '/oauth/register',
      `{"client_name":"${'x'.repeat(200000)}","redirect_uris":["http://localhost/cb"]}`,
      { 'content-type': 'application/json' },
    ],
    [
      'POST',
      '/oauth/token',
      'grant_type=authorization_code&code=nope',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    [
      'POST',
      '/oauth/token',
      'grant_type=refresh_token&refresh_token=%ff%fe',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    ['POST', '/oauth/token', '{"grant_type":1}', { 'content-type': 'application/json' }],
    ['POST', '/oauth/token', 'x'.repeat(10), { 'content-type': 'text/plain' }],
    ['GET', '/oauth/authorize?response_type=code&client_id=nope', undefined],
    ['GET', '/oauth/authorize?client_id[]=a&client_id[]=b', undefined],
    ['GET', '/oauth/interaction/nope', undefined],
    ['GET', `/oauth/interaction/${'x'.repeat(5000)}`.slice(0, 5020), undefined],
    [
      'POST',
      '/oauth/token/introspection',
      'token=abc',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    [
      'POST',
      '/oauth/token/revocation',
      'token=abc',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    ['GET', '/oauth/jwks', undefined],
    ['DELETE', '/oauth/reg/nope', undefined, { authorization: 'Bearer nope' }],
    ['GET', '/oauth/reg/nope', undefined, { authorization: 'Bearer nope' }],
    ['OPTIONS', '/oauth/token', undefined],
    ['GET', '/oauth/%ff', undefined],
  ];
  it.each(probes)('%s %s', async (method, path, body, headers) => {
    const res = await fetch(`${roster.url}${path}`, { method, body, headers, redirect: 'manual' });
    const text = await res.text();
    expect(res.status, text.slice(0, 500)).toBeLessThan(500);
    await alive();
  });
});

describe('workspace isolation of the newer resources', () => {
  it("hides A's agents, webhooks, approval requests and features from B (404)", async () => {
    const paths = [
      `/api/agents/${a.agent.id}`,
      `/api/webhooks/${a.webhook.id}`,
      `/api/webhooks/${a.webhook.id}/deliveries`,
      `/api/approval_requests/${a.approval}`,
      `/api/features/${a.feature}`,
      `/api/features/${a.feature}/access`,
      `/api/policies/${a.policy}`,
    ];
    for (const path of paths) {
      const res = await roster.get(path, tokenB);
      expect(res.status, path).toBe(404);
    }
    const writes: [string, string, unknown][] = [
      ['PATCH', `/api/agents/${a.agent.id}`, { disabled: true }],
      ['POST', `/api/agents/${a.agent.id}/rotate`, undefined],
      ['DELETE', `/api/agents/${a.agent.id}`, undefined],
      ['PATCH', `/api/webhooks/${a.webhook.id}`, { description: 'mine' }],
      ['POST', `/api/webhooks/${a.webhook.id}/rotate_secret`, undefined],
      ['DELETE', `/api/webhooks/${a.webhook.id}`, undefined],
      ['POST', `/api/approval_requests/${a.approval}/approve`, undefined],
      ['POST', `/api/approval_requests/${a.approval}/reject`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const res = await roster.request(method, path, { body, token: tokenB });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await roster.get(`/api/approval_requests/${a.approval}`)).body.data.status).toBe(
      'pending',
    );
    expect((await roster.get(`/api/agents/${a.agent.id}`)).body.data.disabled).toBe(false);

    for (const path of ['/api/agents', '/api/webhooks', '/api/approval_requests']) {
      const res = await roster.get(path, tokenB);
      expect(res.status, path).toBe(200);
      const ids = (res.body.data as { id: number }[]).map((r) => r.id);
      if (path === '/api/agents') expect(ids).toEqual([b.agent.id]);
      else expect(ids).toEqual([]);
    }
  });

  it("refuses to reference A's end users and features in B's agents and policies", async () => {
    const agent = await roster.post(
      '/api/agents',
      { name: 'Thief', environment_type: 'dev', end_user_id: a.endUser, feature_ids: [b.feature] },
      tokenB,
    );
    expect(agent.status).toBeGreaterThanOrEqual(400);
    expect(agent.status).toBeLessThan(500);
    const agent2 = await roster.post(
      '/api/agents',
      { name: 'Thief', environment_type: 'dev', end_user_id: b.endUser, feature_ids: [a.feature] },
      tokenB,
    );
    expect(agent2.status).toBeGreaterThanOrEqual(400);
    expect(agent2.status).toBeLessThan(500);
    const patched = await roster.request('PATCH', `/api/agents/${b.agent.id}`, {
      body: { feature_ids: [a.feature] },
      token: tokenB,
    });
    expect(patched.status).toBeGreaterThanOrEqual(400);
    expect(patched.status).toBeLessThan(500);
  });

  it("does not let B's agent reach A's MCP server through the gateway (404)", async () => {
    const res = await mcp(a.feature, b.agent.token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
    });
    expect(res.status).toBe(404);
    const mine = await mcp(b.feature, a.agent.token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
    });
    expect(mine.status).toBe(404);
  });

  it("keeps A's audit, tool calls and events out of B's audit log, stream and snapshot", async () => {
    const audit = await roster.get('/api/audit_events?page[size]=100', tokenB);
    expect(audit.status).toBe(200);
    const targets = (audit.body.data as { target_id: string | null }[]).map((e) => e.target_id);
    expect(targets).not.toContain(
      String(a.agent.id) === String(b.agent.id) ? 'none' : String(a.webhook.id),
    );
    const ndjson = await fetch(`${roster.url}/api/audit_events?format=ndjson`, {
      headers: { authorization: `Bearer ${tokenB}` },
    });
    const text = await ndjson.text();
    expect(text).not.toContain('A hook');
    expect(text).not.toContain('Ask first');
    const snapshot = await roster.get('/api/access/snapshot', tokenB);
    expect(snapshot.status).toBe(200);
    expect(JSON.stringify(snapshot.body)).not.toContain('Ask first');
    const exported = await roster.get('/api/workspace/export', tokenB);
    expect(exported.status).toBe(200);
    expect(JSON.stringify(exported.body)).not.toContain('Ask first');
  });
});

describe('secrets never come back after creation', () => {
  it('keeps agent tokens, webhook secrets and upstream header values out of every read', async () => {
    await roster.put(`/api/features/${a.feature}`, {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'Outsider MCP',
      upstream: {
        url: upstream.url,
        headers: { Authorization: UPSTREAM_SECRET, 'X-Other': 'other-secret-41' },
      },
    });
    const rotated = await roster.post(`/api/webhooks/${a.webhook.id}/rotate_secret`);
    const newSecret = rotated.body.data.secret as string;
    const agentRotated = await roster.post(`/api/agents/${a.agent.id}/rotate`);
    const newAgentToken = agentRotated.body.data.token as string;
    a.agent.token = newAgentToken;
    const secrets = [
      UPSTREAM_SECRET,
      'upstream-secret-outsider',
      'other-secret-41',
      a.webhook.secret,
      newSecret,
      b.agent.token,
      newAgentToken,
    ];
    const reads = [
      '/api/features',
      `/api/features/${a.feature}`,
      '/api/agents',
      `/api/agents/${a.agent.id}`,
      '/api/webhooks',
      `/api/webhooks/${a.webhook.id}`,
      `/api/webhooks/${a.webhook.id}/deliveries`,
      '/api/audit_events?page[size]=100',
      '/api/audit_events?format=ndjson',
      '/api/audit_events?format=csv',
      '/api/workspace/export',
      '/api/access/snapshot',
      '/api/approval_requests',
      '/api/events/stream?after=0&heartbeat_seconds=1',
    ];
    for (const path of reads) {
      const controller = new AbortController();
      const res = await fetch(`${roster.url}${path}`, {
        headers: { authorization: `Bearer ${roster.adminToken}` },
        signal: controller.signal,
      });
      expect(res.status, path).toBe(200);
      let text: string;
      if (path.startsWith('/api/events/stream')) {
        const reader = res.body!.getReader();
        text = '';
        const deadline = Date.now() + 1500;
        while (Date.now() < deadline && !text.includes('heartbeat')) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        controller.abort();
        expect(text).toContain('feature.');
      } else text = await res.text();
      for (const secret of secrets)
        expect(text, `${path} shows a secret`).not.toContain(secret.slice(-16));
    }
  });
});

describe('a limited API client stays within its scope', () => {
  let prodOnly: string;
  let devProject: string;
  beforeAll(async () => {
    const prod = await roster.post('/api/api_clients', {
      name: 'Prod only',
      environment_types: ['prod'],
    });
    expect(prod.status).toBe(201);
    prodOnly = prod.body.data.token;
    const project = await roster.post('/api/projects', { name: 'P', environment_type: 'dev' });
    const limited = await roster.post('/api/api_clients', {
      name: 'One project',
      environment_types: ['dev'],
      project_ids: [project.body.data.id],
    });
    expect(limited.status).toBe(201);
    devProject = limited.body.data.token;
  });

  it('cannot create, read or change agents of an environment it lacks', async () => {
    const created = await roster.post(
      '/api/agents',
      { name: 'Sneaky', environment_type: 'dev', end_user_id: a.endUser, feature_ids: [a.feature] },
      prodOnly,
    );
    expect(created.status).toBe(403);
    // Inside its own workspace an out-of-scope resource is a 403 (docs/api.md), not a 404.
    expect((await roster.get(`/api/agents/${a.agent.id}`, prodOnly)).status).toBe(403);
    expect(
      (await roster.post(`/api/agents/${a.agent.id}/rotate`, undefined, prodOnly)).status,
    ).toBe(403);
    expect(
      (
        await roster.request('PATCH', `/api/agents/${a.agent.id}`, {
          body: { disabled: true },
          token: prodOnly,
        })
      ).status,
    ).toBe(403);
    expect((await roster.delete(`/api/agents/${a.agent.id}`, prodOnly)).status).toBe(403);
    const list = await roster.get('/api/agents', prodOnly);
    expect(list.body.data).toEqual([]);
    expect((await roster.get(`/api/approval_requests/${a.approval}`, prodOnly)).status).toBe(403);
    expect(
      (await roster.post(`/api/approval_requests/${a.approval}/approve`, undefined, prodOnly))
        .status,
    ).toBe(403);
    expect((await roster.get(`/api/approval_requests/${a.approval}`)).body.data.status).toBe(
      'pending',
    );
    expect((await roster.get(`/api/agents/${a.agent.id}`)).body.data.disabled).toBe(false);
  });

  it('cannot manage webhooks, read the snapshot or export/apply the workspace', async () => {
    for (const token of [prodOnly, devProject]) {
      expect(
        (await roster.post('/api/webhooks', { url: 'http://127.0.0.1:9/x', events: ['*'] }, token))
          .status,
      ).toBe(403);
      expect((await roster.get('/api/webhooks', token)).status).toBe(403);
      expect((await roster.get(`/api/webhooks/${a.webhook.id}`, token)).status).toBe(403);
      expect((await roster.get('/api/access/snapshot', token)).status).toBe(403);
      expect((await roster.get('/api/access/snapshot/changes?events=1', token)).status).toBe(403);
      expect((await roster.get('/api/workspace/export', token)).status).toBe(403);
      expect((await roster.post('/api/workspace/apply', {}, token)).status).toBeGreaterThanOrEqual(
        400,
      );
    }
  });

  it('agent tokens and limited clients are not management credentials and vice versa', async () => {
    expect((await roster.get('/api/agents', a.agent.token)).status).toBe(401);
    const res = await mcp(a.feature, roster.adminToken, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('secrets at rest and in the logs', () => {
  it('stores no agent token, webhook secret, OAuth client secret or upstream header value in any table or log line', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-outsider-'));
    // A file, not :memory:, so that every table can be read back after the writes.
    const url = testDialect === 'sqlite' ? path.join(dataDir, 'roster.db') : database.url;
    const config = loadConfig({
      PORT: '0',
      ROSTER_DATABASE_URL: url,
      ROSTER_DATA_DIR: dataDir,
      ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
      ROSTER_PUBLIC_URL: 'http://roster.test',
      ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
      ROSTER_SECRET_KEY: 'outsider-secret-key-0123456789abcdef',
    });
    const store = openStore({ url, poolSize: 2 });
    await migrateToLatest(store);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const { app, services } = await buildApp({ store, config, logger: { level: 'debug', stream } });
    await services.workspaces.ensureDefaultWorkspace(config.adminToken);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const base = `http://127.0.0.1:${address.port}`;
    const call = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(`${base}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      // The answers' shapes vary by operation; the test reads a few fields of each.
      return { status: res.status, body: (await res.json().catch(() => null)) as any };
    };
    try {
      const secrets: string[] = ['Bearer header-secret-at-rest-5d2a', 'second-header-secret-8e1f'];
      const user = await call('POST', '/api/end_users', {
        name: 'Rest',
        email: 'rest@outsider.example.com',
        environment_types: ['dev'],
      });
      const feature = await call('POST', '/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'At rest MCP',
        upstream: { url: upstream.url, headers: { Authorization: secrets[0] } },
      });
      expect(feature.status).toBe(201);
      const updated = await call('PUT', `/api/features/${feature.body.data.id}`, {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'At rest MCP',
        upstream: {
          url: upstream.url,
          headers: { Authorization: secrets[0], 'X-Key': secrets[1] },
        },
      });
      expect(updated.status).toBe(200);
      await call('POST', `/api/features/${feature.body.data.id}/access`, {
        end_user_ids: [user.body.data.id],
      });
      const agent = await call('POST', '/api/agents', {
        name: 'Rest bot',
        environment_type: 'dev',
        end_user_id: user.body.data.id,
        feature_ids: [feature.body.data.id],
      });
      expect(agent.status).toBe(201);
      secrets.push(agent.body.data.token);
      const rotated = await call('POST', `/api/agents/${agent.body.data.id}/rotate`);
      secrets.push(rotated.body.data.token);
      const hook = await call('POST', '/api/webhooks', {
        url: 'http://127.0.0.1:9/hook',
        events: ['*'],
      });
      expect(hook.status).toBe(201);
      secrets.push(hook.body.data.secret);
      const rotatedHook = await call('POST', `/api/webhooks/${hook.body.data.id}/rotate_secret`);
      secrets.push(rotatedHook.body.data.secret);
      // A tool call through the gateway with the agent token: it must not be logged or stored.
      const listed = await fetch(`${base}/mcp/${feature.body.data.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rotated.body.data.token}`, ...MCP_HEADERS },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(listed.status).toBe(200);
      await listed.text();
      const registered = await fetch(`${base}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'Confidential client',
          redirect_uris: ['http://127.0.0.1:7777/callback'],
          token_endpoint_auth_method: 'client_secret_basic',
        }),
      });
      const client = (await registered.json()) as Record<string, string>;
      expect(registered.status, JSON.stringify(client)).toBe(201);
      secrets.push(client.client_secret as string, client.registration_access_token as string);
      // The webhook dispatcher and the tool-call recorder write in the background.
      await new Promise((resolve) => setTimeout(resolve, 1000));

      const everything: string[] = [];
      for (const table of await store.db.introspection.getTables()) {
        const rows = await store.db
          .selectFrom(table.name as 'workspaces')
          .selectAll()
          .execute();
        everything.push(`${table.name}: ${JSON.stringify(rows)}`);
      }
      const dump = everything.join('\n');
      const logs = lines.join('');
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(16);
        expect(dump.includes(secret), `a table holds ${secret.slice(0, 12)}…`).toBe(false);
        expect(
          dump.includes(secret.slice(-16)),
          `a table holds the end of ${secret.slice(0, 12)}…`,
        ).toBe(false);
        expect(logs.includes(secret.slice(-16)), `a log line holds ${secret.slice(0, 12)}…`).toBe(
          false,
        );
      }
    } finally {
      await app.close();
      await store.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('an upstream that is not an MCP server', () => {
  it('does not hand its answers to the agent (the gateway is no window on internal HTTP services)', async () => {
    const internal = createServer((request, response) => {
      request.resume();
      const status = request.url === '/ok' ? 200 : 500;
      response.writeHead(status, {
        'content-type': status === 200 ? 'text/plain' : 'application/json',
      });
      response.end('{"AccessKeyId":"ASIAINTERNAL0001","SecretAccessKey":"internal-secret-9f3b"}');
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const port = (internal.address() as { port: number }).port;
    try {
      for (const route of ['/latest/meta-data', '/ok']) {
        const feature = await roster.post('/api/features', {
          environment_type: 'dev',
          kind: 'mcp_server',
          name: `Internal ${route}`,
          upstream: { url: `http://127.0.0.1:${port}${route}` },
        });
        expect(feature.status).toBe(201);
        const id = feature.body.data.id as number;
        await roster.post(`/api/features/${id}/access`, { end_user_ids: [a.endUser] });
        const agent = await roster.post('/api/agents', {
          name: `Prober ${route}`,
          environment_type: 'dev',
          end_user_id: a.endUser,
          feature_ids: [id],
        });
        for (const message of [
          { jsonrpc: '2.0', id: 1, method: 'tools/list' },
          { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'x', arguments: {} } },
          { jsonrpc: '2.0', id: 3, method: 'resources/list' },
        ]) {
          const res = await mcp(id, agent.body.data.token, message);
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          expect(text, `${route} ${message.method}`).toMatch(/upstream/i);
          expect(text).not.toContain('internal-secret');
          expect(text).not.toContain('ASIAINTERNAL');
          // What the caller learns instead: the status, the content type.
          expect(text).toMatch(
            route === '/ok' ? /Unexpected content type: text\/plain/ : /answered HTTP 500/,
          );
        }
      }
      // A port that was just free (fetch refuses well-known ports such as 9 by itself).
      const gone = createServer();
      await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
      const gonePort = (gone.address() as { port: number }).port;
      await new Promise((resolve) => gone.close(resolve));
      const closed = await roster.post('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Nobody home',
        upstream: { url: `http://127.0.0.1:${gonePort}/mcp` },
      });
      const id = closed.body.data.id as number;
      await roster.post(`/api/features/${id}/access`, { end_user_ids: [a.endUser] });
      const agent = await roster.post('/api/agents', {
        name: 'Prober closed',
        environment_type: 'dev',
        end_user_id: a.endUser,
        feature_ids: [id],
      });
      const res = await mcp(id, agent.body.data.token, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
      });
      expect(await res.text()).toContain('connection failed (ECONNREFUSED)');
    } finally {
      internal.closeAllConnections();
      internal.close();
    }
  });
});
