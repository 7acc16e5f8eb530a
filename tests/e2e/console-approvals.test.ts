/**
 * The approvals inbox in a real browser: a two-step approver chain decided by two collaborators,
 * each from their own inbox ("waiting for me"), the first through the link mailed to them, one
 * approving for N minutes and the other for one call; a rejection; each screen checked by axe.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invitationTokenFor, type Roster } from '../helpers/roster.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  SCREENSHOT_DIR,
  axeViolations,
  buildConsole,
  hasChromium,
  launchConsoleBrowser,
  signIn,
  startConsoleRoster,
} from './helpers.js';

const PUBLIC_URL = 'http://roster.test';
const BOB_EMAIL = 'bob@example.com';
const BOB_PASSWORD = 'bob approves things';
const TAKE_SCREENSHOTS = process.env.ROSTER_TEST_DIALECT !== 'postgres';

describe.skipIf(!hasChromium)('the approvals inbox in Chromium', () => {
  let roster: Roster;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;
  let feature: number;
  let requester: number;

  async function signInAs(email: string, password: string): Promise<void> {
    await context?.clearCookies();
    await page.goto(`${roster.url}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }

  async function look(name: string): Promise<void> {
    await page.waitForLoadState('networkidle');
    expect(await axeViolations(page), `axe violations on ${name}`).toEqual([]);
    if (TAKE_SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  }

  const decide = () =>
    roster.post('/api/end_users/decisions', {
      environment_type: 'dev',
      end_user_id: requester,
      feature_id: feature,
      tool: 'drop_table',
    });

  beforeAll(async () => {
    buildConsole();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    roster = await startConsoleRoster({
      env: { ROSTER_PUBLIC_URL: PUBLIC_URL },
      console: { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const admin = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    const adminId = Number(admin.signIn.body.data.member.id);
    await roster.post('/api/member_invitations', {
      name: 'Bob Builder',
      email: BOB_EMAIL,
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, BOB_EMAIL);
    const bob = await roster.post(
      `/api/console/invitations/${token}/accept`,
      { name: 'Bob Builder', password: BOB_PASSWORD },
      null,
    );
    expect(bob.status).toBe(201);
    requester = (
      await roster.post('/api/end_users', {
        name: 'Dana Agent-Owner',
        email: 'dana@example.com',
        environment_types: ['dev'],
      })
    ).body.data.id;
    feature = (
      await roster.post('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Database MCP',
      })
    ).body.data.id;
    const policy = await roster.post('/api/policies', {
      environment_type: 'dev',
      name: 'Two people approve table drops',
      feature_id: feature,
      tools: ['drop_table'],
      scope: { type: 'all' },
      effect: 'require_approval',
      approval_steps: [{ collaborator_ids: [adminId] }, { collaborator_ids: [bob.body.data.id] }],
    });
    expect(policy.status).toBe(201);
    ({ context, page, profile } = await launchConsoleBrowser());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    profile?.remove();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    await roster?.close();
  });

  it('walks a two-step chain: the mailed link, a window approval, then a one-call approval', async () => {
    const asked = await decide();
    expect(asked.body.data.decision).toBe('require_approval');
    const id = asked.body.data.approval_request_id as number;

    // The first approver's mail links to the request in the console.
    let link: string | undefined;
    for (let i = 0; i < 100 && link === undefined; i += 1) {
      const mail = (await roster.outbox()).find(
        (m) => m.to === ADMIN_EMAIL && m.text.includes(`approval request ${id}.`),
      );
      link = /https?:\/\/\S+\/approvals\?request=\d+/.exec(mail?.text ?? '')?.[0];
      if (link === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(link).toBe(`${PUBLIC_URL}/approvals?request=${id}`);

    await signInAs(ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto((link ?? '').replace(PUBLIC_URL, roster.url));
    const details = page.getByRole('dialog', { name: `Approval request ${id}` });
    await details.waitFor();
    const chain = details.getByRole('list', { name: 'Approver chain' });
    expect(await chain.getByRole('listitem').allTextContents()).toEqual([
      expect.stringMatching(/^Step 1 · .* pending$/),
      'Step 2 · Bob Builder pending',
    ]);
    await look('approval-request');
    await details.getByRole('button', { name: 'Approve…' }).click();

    const approve = page.getByRole('dialog', { name: `Approve request ${id}` });
    await approve.getByLabel('Every call for a while').check();
    await approve.getByLabel('Minutes').fill('30');
    await look('approval-approve');
    await approve.getByRole('button', { name: 'Approve', exact: true }).click();
    await approve.waitFor({ state: 'detached' });
    // Nothing waits for the first approver any more; the call is still held back.
    await page.getByText('Nothing waits for you.').waitFor();
    expect((await decide()).body.data.decision).toBe('require_approval');

    await signInAs(BOB_EMAIL, BOB_PASSWORD);
    await page.goto(`${roster.url}/approvals`);
    const row = page.getByRole('row', { name: /Dana Agent-Owner/ });
    await row.getByRole('cell', { name: 'Step 2 of 2: Bob Builder' }).waitFor();
    await look('approvals-inbox');
    await row.getByRole('button', { name: 'Approve…' }).click();
    const second = page.getByRole('dialog', { name: `Approve request ${id}` });
    await second.getByLabel('One call').check();
    await second.getByRole('button', { name: 'Approve', exact: true }).click();
    await second.waitFor({ state: 'detached' });
    await page.getByText('Nothing waits for you.').waitFor();

    // The chain as the console shows it once decided, under the Approved view.
    await page.getByLabel('Status').selectOption('approved');
    await page
      .getByRole('row', { name: /Dana Agent-Owner/ })
      .getByRole('button', { name: 'Details' })
      .click();
    const decided = page.getByRole('dialog', { name: `Approval request ${id}` });
    await decided.getByText('for one call').waitFor();
    const steps = await decided
      .getByRole('list', { name: 'Approver chain' })
      .getByRole('listitem')
      .allTextContents();
    expect(steps[0]).toMatch(/approved by .* \(for 30 minutes\)/);
    expect(steps[1]).toMatch(/^Step 2 · Bob Builder approved by Bob Builder/);
    await decided.getByRole('button', { name: 'Close' }).click();

    // The narrowest approval wins: one call, then the next asks again.
    expect((await decide()).body.data.decision).toBe('allow');
    expect((await decide()).body.data.decision).toBe('require_approval');
  });

  it('shows a policy’s approver chain on its feature', async () => {
    await signInAs(ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto(`${roster.url}/features/${feature}`);
    await page.getByRole('tab', { name: 'Policies' }).click();
    const row = page.getByRole('row', { name: /Two people approve table drops/ });
    await row.getByRole('cell', { name: 'admin → Bob Builder' }).waitFor();
  });

  it('creates a policy with an approver chain from the new-policy dialog', async () => {
    await page.getByRole('button', { name: 'New policy' }).click();
    const dialog = page.getByRole('dialog', { name: 'New policy for Database MCP' });
    await dialog.getByLabel('Policy name').fill('Bob approves truncations');
    await dialog.getByLabel('Effect').selectOption('require_approval');
    await dialog.getByLabel('Tools').fill('truncate_table');
    await dialog.getByRole('button', { name: 'Add approval step' }).click();
    const step = dialog.getByRole('group', { name: 'Step 1' });
    await step.getByRole('checkbox', { name: /Bob Builder/ }).check();
    await look('approval-chain-editor');
    await dialog.getByRole('button', { name: 'Create policy' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByRole('row', { name: /Bob approves truncations/ });
    await row.getByRole('cell', { name: 'Bob Builder', exact: true }).waitFor();
    const policies = await roster.get(`/api/policies?feature_id=${feature}`);
    const created = policies.body.data.find(
      (p: { name: string }) => p.name === 'Bob approves truncations',
    );
    expect(created.approval_steps).toEqual([
      {
        collaborators: [{ id: expect.any(Number), name: 'Bob Builder', email: BOB_EMAIL }],
        end_user_groups: [],
      },
    ]);
  });

  it('rejects from the inbox, and the next call is denied naming the request', async () => {
    const pending = await decide();
    const id = pending.body.data.approval_request_id as number;
    await signInAs(ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.goto(`${roster.url}/approvals`);
    const row = page.getByRole('row', { name: /Dana Agent-Owner/ });
    await row.getByRole('button', { name: 'Reject…' }).click();
    const dialog = page.getByRole('dialog', { name: `Reject request ${id}?` });
    await dialog.getByRole('button', { name: 'Reject', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const denied = await decide();
    expect(denied.body.data.decision).toBe('deny');
    expect(denied.body.data.reasons[0].message).toMatch(`Approval request ${id} was rejected`);
  });
});
