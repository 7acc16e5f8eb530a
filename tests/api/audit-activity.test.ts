/**
 * GET /api/audit_events/activity: events per action and per UTC day or hour, counted by the
 * database, so the dashboard's chart is exact past any page size (the chart used to count at most
 * 1,000 events per series in the browser). More than 1,000 tool calls go through the real MCP
 * gateway; the counts are exact, scoped like the audit log (a credential limited to PROD counts
 * PROD's calls only), and bad queries are 400s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';
import { callToolMany } from '../helpers/tool-calls.js';

const DEV_CALLS = 1_150;
const PROD_CALLS = 7;

let roster: Roster;
let upstream: Upstream;
let prodOnlyToken: string;
let since: string;

interface Bucket {
  start: string;
  action: string;
  count: number;
}

async function mcpServerWithAgent(environment: 'dev' | 'prod') {
  const user = await roster.post('/api/end_users', {
    name: `Activity ${environment}`,
    email: `activity-${environment}@example.com`,
    environment_types: [environment],
  });
  expect(user.status).toBe(201);
  const feature = await roster.post('/api/features', {
    environment_type: environment,
    kind: 'mcp_server',
    name: `Activity MCP ${environment}`,
    upstream: { url: upstream.url },
  });
  expect(feature.status).toBe(201);
  const featureId = feature.body.data.id as number;
  await roster.post(`/api/features/${featureId}/access`, { end_user_ids: [user.body.data.id] });
  const agent = await roster.post('/api/agents', {
    name: `Activity agent ${environment}`,
    environment_type: environment,
    end_user_id: user.body.data.id,
    feature_ids: [featureId],
  });
  expect(agent.status).toBe(201);
  return { featureId, token: agent.body.data.token as string };
}

function activity(query: string, token?: string) {
  return roster.get<{ data: Bucket[] }>(`/api/audit_events/activity?${query}`, token);
}

const toolCallsIn = (buckets: Bucket[]) =>
  buckets.filter((b) => b.action === 'agent.tool_call').reduce((sum, b) => sum + b.count, 0);

beforeAll(async () => {
  upstream = await startUpstream();
  roster = await startRoster();
  since = new Date(Date.now() - 60_000).toISOString();
  const dev = await mcpServerWithAgent('dev');
  const prod = await mcpServerWithAgent('prod');
  expect(await callToolMany(roster.url, dev.featureId, dev.token, DEV_CALLS)).toEqual({
    forwarded: DEV_CALLS,
    refused: 0,
  });
  expect(await callToolMany(roster.url, prod.featureId, prod.token, PROD_CALLS)).toEqual({
    forwarded: PROD_CALLS,
    refused: 0,
  });
  const client = await roster.post('/api/api_clients', {
    name: 'PROD only',
    environment_types: ['prod'],
  });
  expect(client.status).toBe(201);
  prodOnlyToken = client.body.data.token as string;
  // The recorder writes its batches every 200 ms, off the call path: wait for the last one.
  for (let i = 0; i < 100; i++) {
    const res = await activity(`action=agent.tool_call&since=${since}`);
    if (toolCallsIn(res.body.data) >= DEV_CALLS + PROD_CALLS) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 120_000);

afterAll(async () => {
  await roster.close();
  await upstream.close();
});

describe('GET /api/audit_events/activity', () => {
  it('counts every recorded tool call per day, past 1,000, exactly', async () => {
    const res = await activity(
      `action=agent.tool_call&action=end_user.decision&since=${since}&bucket=day`,
    );
    expect(res.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    const calls = res.body.data.filter((b) => b.action === 'agent.tool_call');
    // The test runs in at most two UTC days (one if not across midnight).
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.every((b) => /^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/.test(b.start))).toBe(true);
    expect(toolCallsIn(res.body.data)).toBe(DEV_CALLS + PROD_CALLS);
    if (calls.length === 1) expect(calls[0]?.start.slice(0, 10)).toBe(today);
    // No decision was asked of the decision endpoint: an action with no event has no bucket.
    expect(res.body.data.filter((b) => b.action === 'end_user.decision')).toEqual([]);
    // The audit log's own count agrees (its total is exact up to 10,000).
    const listed = await roster.get(
      `/api/audit_events?action=agent.tool_call&since=${since}&page[size]=1`,
    );
    expect(listed.body.total).toBe(DEV_CALLS + PROD_CALLS);
  });

  it('counts per hour with the same total', async () => {
    const res = await activity(`action=agent.tool_call&since=${since}&bucket=hour`);
    expect(res.status).toBe(200);
    expect(res.body.data.every((b) => /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/.test(b.start))).toBe(
      true,
    );
    expect(toolCallsIn(res.body.data)).toBe(DEV_CALLS + PROD_CALLS);
  });

  it('counts only the environments a limited credential may see', async () => {
    const res = await activity(`action=agent.tool_call&since=${since}`, prodOnlyToken);
    expect(res.status).toBe(200);
    expect(toolCallsIn(res.body.data)).toBe(PROD_CALLS);
  });

  it('counts nothing before `since` or from `until` on', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const muchLater = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const future = await activity(`action=agent.tool_call&since=${later}&until=${muchLater}`);
    expect(future.status).toBe(200);
    expect(future.body.data).toEqual([]);
    const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const past = await activity(`action=agent.tool_call&since=${monthAgo}&until=${since}`);
    expect(past.status).toBe(200);
    expect(past.body.data).toEqual([]);
  });

  it.each([
    ['no action', 'since=2026-01-01T00:00:00Z', /action/],
    ['no since', 'action=agent.tool_call', /since/],
    ['a date that is not one', 'action=agent.tool_call&since=yesterday', /since/],
    [
      'an unknown bucket',
      'action=agent.tool_call&since=2026-01-01T00:00:00Z&bucket=week',
      /bucket/,
    ],
    [
      'until before since',
      'action=agent.tool_call&since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      /after/,
    ],
    [
      'more than 1,000 buckets',
      'action=agent.tool_call&since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z&bucket=hour',
      /1000 hours/,
    ],
    ['eleven actions', `${'action=a&'.repeat(11)}since=2026-01-01T00:00:00Z`, /action/],
  ])('answers 400 to %s', async (_, query, message) => {
    const res = await roster.get(`/api/audit_events/activity?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].title).toMatch(message);
  });
});
