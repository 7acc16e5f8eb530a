/**
 * Issue 12 bullets the main gateway walk (gateway.test.ts) leaves thin, through the SDK's client:
 * an agent's update (`PATCH /api/agents/:id` with `tools` or `feature_ids`) governs its very next
 * call and its tools/list; the agents list and get never show a token; and resources and prompts
 * follow the feature's access as a whole — refused when the end user's access is revoked (not
 * only when they are locked), allowed again when it is granted back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

let roster: Roster;
let upstream: Upstream;
let ada: number;
let tickets: number;
let docs: number;
let agent: { id: number; token: string };
const clients: Client[] = [];

async function connect(feature: number): Promise<Client> {
  const client = new Client({ name: 'agent-updates', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${roster.url}/mcp/${String(feature)}`), {
      requestInit: { headers: { authorization: `Bearer ${agent.token}` } },
    }),
  );
  clients.push(client);
  return client;
}

/** The text of a tool result (the SDK types callTool's answer as a union with its legacy shape). */
const text = (result: unknown) =>
  (result as { content: { text: string }[] }).content.map((c) => c.text).join('\n');

async function mcpServer(name: string): Promise<number> {
  const res = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name,
    upstream: { url: upstream.url },
  });
  expect(res.status).toBe(201);
  const id = res.body.data.id as number;
  await roster.post(`/api/features/${String(id)}/access`, { end_user_ids: [ada] });
  return id;
}

beforeAll(async () => {
  upstream = await startUpstream();
  roster = await startRoster();
  const user = await roster.post('/api/end_users', {
    name: 'Ada',
    email: 'ada@agent-updates.example.com',
    environment_types: ['dev'],
  });
  ada = user.body.data.id as number;
  tickets = await mcpServer('Tickets MCP');
  docs = await mcpServer('Docs MCP');
  const created = await roster.post('/api/agents', {
    name: 'Ada’s assistant',
    environment_type: 'dev',
    end_user_id: ada,
    feature_ids: [tickets, docs],
  });
  expect(created.status).toBe(201);
  agent = { id: created.body.data.id as number, token: created.body.data.token as string };
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await roster.close();
  await upstream.close();
});

describe('an agent’s update governs its next call', () => {
  it('narrows its tools (the list and the next call) and widens them back', async () => {
    const client = await connect(tickets);
    const names = async () => (await client.listTools()).tools.map((t) => t.name).sort();
    expect(await names()).toEqual(['create_ticket', 'delete_repo', 'search']);
    const narrowed = await roster.request('PATCH', `/api/agents/${String(agent.id)}`, {
      body: { tools: { [String(tickets)]: ['search'] } },
    });
    expect(narrowed.status).toBe(200);
    expect(await names()).toEqual(['search']);
    const refused = await client.callTool({ name: 'create_ticket', arguments: { title: 'x' } });
    expect(refused.isError).toBe(true);
    expect(upstream.calls).not.toContain('create_ticket:x');
    expect((await client.callTool({ name: 'search', arguments: { q: 'ok' } })).isError).not.toBe(
      true,
    );
    // Without `tools` (null: every tool of its features) it may call them all again.
    const widened = await roster.request('PATCH', `/api/agents/${String(agent.id)}`, {
      body: { tools: {} },
    });
    expect(widened.status).toBe(200);
    expect(await names()).toEqual(['create_ticket', 'delete_repo', 'search']);
    const created = await client.callTool({ name: 'create_ticket', arguments: { title: 'y' } });
    expect(text(created)).toBe('created ticket "y"');
  });

  it('stops calls to a feature taken off the agent at the next call, and restores them', async () => {
    const client = await connect(docs);
    expect(
      (await client.callTool({ name: 'search', arguments: { q: 'before' } })).isError,
    ).not.toBe(true);
    const removed = await roster.request('PATCH', `/api/agents/${String(agent.id)}`, {
      body: { feature_ids: [tickets] },
    });
    expect(removed.status).toBe(200);
    const before = upstream.calls.length;
    const refused = await client
      .callTool({ name: 'search', arguments: { q: 'after' } })
      .then((result) => (result.isError === true ? text(result) : 'forwarded'))
      .catch((error: unknown) => (error as Error).message);
    expect(refused).not.toBe('forwarded');
    expect(upstream.calls.length).toBe(before);
    const restored = await roster.request('PATCH', `/api/agents/${String(agent.id)}`, {
      body: { feature_ids: [tickets, docs] },
    });
    expect(restored.status).toBe(200);
    const again = await connect(docs);
    expect((await again.callTool({ name: 'search', arguments: { q: 'again' } })).isError).not.toBe(
      true,
    );
  });

  it('lists and gets agents without their token', async () => {
    const listed = await roster.get('/api/agents?environment_type=dev');
    expect(listed.status).toBe(200);
    const mine = (listed.body.data as Record<string, unknown>[]).find((a) => a.id === agent.id);
    expect(mine).toBeDefined();
    expect(mine).not.toHaveProperty('token');
    const got = await roster.get(`/api/agents/${String(agent.id)}`);
    expect(got.status).toBe(200);
    expect(got.body.data).not.toHaveProperty('token');
    expect(JSON.stringify([listed.body, got.body])).not.toContain(agent.token);
  });
});

describe('resources and prompts follow the feature’s access as a whole', () => {
  it('refuses them once the end user’s access is revoked, and serves them when it is back', async () => {
    const client = await connect(tickets);
    expect((await client.readResource({ uri: 'docs://readme' })).contents).toHaveLength(1);
    expect((await client.getPrompt({ name: 'triage' })).messages).toHaveLength(1);
    const revoked = await roster.request('DELETE', `/api/features/${String(tickets)}/access`, {
      body: { end_user_ids: [ada] },
    });
    expect(revoked.status).toBe(200);
    await expect(client.readResource({ uri: 'docs://readme' })).rejects.toThrow();
    await expect(client.getPrompt({ name: 'triage' })).rejects.toThrow();
    const tool = await client.callTool({ name: 'search', arguments: { q: 'revoked' } });
    expect(tool.isError).toBe(true);
    await roster.post(`/api/features/${String(tickets)}/access`, { end_user_ids: [ada] });
    expect((await client.readResource({ uri: 'docs://readme' })).contents).toHaveLength(1);
    expect((await client.getPrompt({ name: 'triage' })).messages).toHaveLength(1);
  });

  it('refuses prompts, like resources, while the end user is locked', async () => {
    const client = await connect(tickets);
    await roster.post(`/api/end_users/${String(ada)}/lock`);
    try {
      await expect(client.getPrompt({ name: 'triage' })).rejects.toThrow(/is locked/);
    } finally {
      await roster.post(`/api/end_users/${String(ada)}/unlock`);
    }
    expect((await client.getPrompt({ name: 'triage' })).messages).toHaveLength(1);
  });
});
