/**
 * The console's Agents screen in Chromium against a real server: create an agent for an end user
 * and an MCP server (its token shown once, and working at the gateway), disable and enable it,
 * rotate its token (a new one shown once, the old refused), and the live view of recent tool calls
 * with their decisions.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Roster } from '../helpers/roster.js';
import type { Upstream } from '../helpers/mcp-upstream.js';
import {
  CHROMIUM,
  closeBrowserSuite,
  hasChromium,
  launchConsoleBrowser,
  mcpFeatureWithUser,
  signInAsAdmin,
  startConsoleWithAdmin,
} from './helpers.js';

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('the Agents screen, in Chromium', () => {
  let roster: Roster;
  let upstream: Upstream;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;
  let feature: number;

  /** One tools/call through the gateway with a token: forwarded, refused (isError) or rejected. */
  async function callWith(token: string): Promise<string> {
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${roster.url}/mcp/${feature}`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      const result = await client.callTool({ name: 'search', arguments: { q: 'e2e' } });
      return result.isError === true ? 'refused' : 'forwarded';
    } catch {
      return 'rejected';
    } finally {
      await client.close();
    }
  }

  async function tokenInDialog(): Promise<string> {
    const dialog = page.getByRole('dialog');
    await dialog.getByText('This is the only time the token is shown').waitFor();
    const token = await dialog.getByLabel('Agent token').inputValue();
    expect(token).toMatch(/^rag_/);
    await dialog.getByRole('button', { name: 'I have stored the token' }).click();
    return token;
  }

  beforeAll(async () => {
    roster = await startConsoleWithAdmin();
    ({ upstream, featureId: feature } = await mcpFeatureWithUser(roster, {
      feature: 'Tickets MCP',
      user: 'Dev Dora',
      email: 'dora@example.com',
    }));
    ({ context, page, profile } = await launchConsoleBrowser());
    await signInAsAdmin(page, roster);
  }, 120_000);

  afterAll(() => closeBrowserSuite({ context, profile, roster, upstream }));

  it('creates, disables, enables and rotates an agent, and shows its tool calls', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { level: 1, name: 'Agents' }).waitFor();
    await page.getByRole('button', { name: 'Create agent' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('Dora’s assistant');
    await dialog
      .getByLabel('Acts for end user')
      .selectOption({ label: 'Dev Dora (dora@example.com)' });
    await dialog.getByLabel('MCP server', { exact: true }).selectOption({ label: 'Tickets MCP' });
    await dialog.getByRole('button', { name: 'Create' }).click();
    const token = await tokenInDialog();
    expect(await callWith(token)).toBe('forwarded');

    const row = page.getByRole('row', { name: /Dora’s assistant/ });
    await row.getByText('Active').waitFor();
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('Disabled').waitFor();
    expect(await callWith(token)).toBe('rejected');
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByText('Active').waitFor();
    expect(await callWith(token)).toBe('forwarded');

    await row.getByRole('button', { name: 'Rotate' }).click();
    const rotated = await tokenInDialog();
    expect(rotated).not.toBe(token);
    expect(await callWith(token)).toBe('rejected');
    expect(await callWith(rotated)).toBe('forwarded');

    // The live view refreshes every 5 s; the calls above are written within 200 ms.
    await page.reload();
    const calls = page.getByRole('table', { name: 'Recent tool calls' });
    await calls
      .getByRole('row', { name: /Dora’s assistant.*dora@example\.com.*search.*allow/ })
      .first()
      .waitFor();

    // The dashboard's activity chart counts the gateway's tool calls (they are not
    // end_user.decision events, so it showed none of them before).
    // The recorder writes in batches (every 200 ms): wait until the recorded count stops moving,
    // so the chart and the count below read the same log.
    const toolCalls = async () =>
      (await roster.get('/api/audit_events?action=agent.tool_call')).body.total as number;
    let recorded = await toolCalls();
    for (let settled = 0; settled < 3;) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const total = await toolCalls();
      settled = total === recorded ? settled + 1 : 0;
      recorded = total;
    }
    const today = new Date().toISOString().slice(0, 10);
    expect(recorded).toBeGreaterThan(0);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    const chart = page.getByRole('img', { name: /with agents’ tool calls/ });
    await chart.waitFor();
    await expect
      .poll(() => page.locator('#chart-desc').textContent(), { timeout: 10_000 })
      .toMatch(
        new RegExp(`${today}: \\d+ sign-ins, \\d+ decisions, ${String(recorded)} tool calls`),
      );
    await page.getByText('Tool calls', { exact: true }).waitFor();
  });

  it('sets the upstream of an MCP server feature, showing header names and never their values', async () => {
    const plain = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'Docs MCP',
    });
    await page.goto(`${roster.url}/features/${plain.body.data.id}`);
    await page.getByRole('heading', { level: 1, name: 'Docs MCP' }).waitFor();
    await page.getByRole('tab', { name: 'Upstream' }).click();
    await page.getByText('No upstream yet').waitFor();
    await page.getByRole('button', { name: 'Set upstream' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('URL').fill(upstream.url);
    await dialog.getByLabel('Header name').fill('Authorization');
    await dialog.getByLabel('Header value').fill('Bearer console-secret-77');
    await dialog.getByRole('button', { name: 'Save' }).click();
    const section = page.getByRole('region', { name: 'Upstream MCP server' });
    await section.getByText('Authorization (values stored encrypted, never shown)').waitFor();
    expect(await section.textContent()).toContain(upstream.url);
    expect(await page.content()).not.toContain('console-secret-77');
    const got = await roster.get(`/api/features/${plain.body.data.id}`);
    expect(got.body.data.upstream).toEqual({ url: upstream.url, header_names: ['Authorization'] });
  });
});
