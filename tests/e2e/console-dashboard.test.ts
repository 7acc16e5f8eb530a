/**
 * The dashboard's activity chart in Chromium with more tool calls than a page of the audit log
 * holds: 1,050 calls through the real MCP gateway, and the chart shows all 1,050 for today (it
 * used to page at most 1,000 events per series in the browser; it now reads the counts the
 * server computes, GET /api/audit_events/activity).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Roster } from '../helpers/roster.js';
import type { Upstream } from '../helpers/mcp-upstream.js';
import { callToolMany } from '../helpers/tool-calls.js';
import {
  CHROMIUM,
  closeBrowserSuite,
  hasChromium,
  launchConsoleBrowser,
  mcpFeatureWithUser,
  signInAsAdmin,
  startConsoleWithAdmin,
} from './helpers.js';

const CALLS = 1_050;

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('the dashboard’s activity chart, in Chromium', () => {
  let roster: Roster;
  let upstream: Upstream;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;

  beforeAll(async () => {
    roster = await startConsoleWithAdmin();
    let feature: number;
    let endUserId: number;
    ({
      upstream,
      featureId: feature,
      endUserId,
    } = await mcpFeatureWithUser(roster, {
      feature: 'Busy MCP',
      user: 'Busy Bea',
      email: 'bea@example.com',
    }));
    const agent = await roster.post('/api/agents', {
      name: 'Busy agent',
      environment_type: 'dev',
      end_user_id: endUserId,
      feature_ids: [feature],
    });
    expect(agent.status).toBe(201);
    expect(await callToolMany(roster.url, feature, agent.body.data.token as string, CALLS)).toEqual(
      { forwarded: CALLS, refused: 0 },
    );
    // The recorder writes its batches every 200 ms, off the call path: wait for the last one.
    for (let i = 0; i < 100; i++) {
      const listed = await roster.get('/api/audit_events?action=agent.tool_call&page[size]=1');
      if (listed.body.total >= CALLS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    ({ context, page, profile } = await launchConsoleBrowser());
  }, 180_000);

  afterAll(() => closeBrowserSuite({ context, profile, roster, upstream }));

  it('shows every one of 1,050 tool calls, as the API counts them', async () => {
    await signInAsAdmin(page, roster);
    const today = new Date().toISOString().slice(0, 10);
    const counted = await roster.get(
      `/api/audit_events/activity?action=agent.tool_call&since=${today}T00:00:00.000Z`,
    );
    expect(counted.status).toBe(200);
    expect(counted.body.data).toEqual([
      { start: `${today}T00:00:00.000Z`, action: 'agent.tool_call', count: CALLS },
    ]);
    await page.getByRole('img', { name: /with agents’ tool calls/ }).waitFor();
    await expect
      .poll(() => page.locator('#chart-desc').textContent(), { timeout: 10_000 })
      .toMatch(new RegExp(`${today}: 1 sign-ins, 0 decisions, ${String(CALLS)} tool calls`));
    // The caption's total: the one sign-in and every tool call.
    await page.getByText(`${String(CALLS + 1)} events, busiest day ${String(CALLS)}`).waitFor();
  });
});
