/**
 * Console defects a new user hit, in Chromium against a real server: the access explorer asks a
 * dry run and offers the privilege catalogue; Users follow the environment picker; the invite
 * dialog starts at the API's default (No access), says "already invited" with Resend, and says
 * when mail only reached the outbox; the audit log shows names with links, filters by every kind
 * of actor, and exports every event as formula-safe CSV from the server; the sidebar reaches the
 * bottom of the window on long pages.
 */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_RESOURCES } from '@roster/contracts';
import type { Roster } from '../helpers/roster.js';
import {
  ADMIN_EMAIL,
  CHROMIUM,
  closeBrowserSuite,
  hasChromium,
  launchConsoleBrowser,
  signInAsAdmin,
  startConsoleWithAdmin,
} from './helpers.js';

const EVIL = '=HYPERLINK("http://evil.example/","Click")';

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('console defects a new user hit, in Chromium', () => {
  let roster: Roster;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;
  const ids: Record<string, number> = {};

  async function go(urlPath: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${roster.url}${urlPath}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  beforeAll(async () => {
    roster = await startConsoleWithAdmin();
    for (const [name, email, environment_types] of [
      ['Dev Dora', 'dora@example.com', ['dev']],
      ['Prod Pete', 'pete@example.com', ['prod']],
      ['Both Bea', 'bea@example.com', ['dev', 'prod']],
    ] as const) {
      const created = await roster.post('/api/end_users', { name, email, environment_types });
      expect(created.status).toBe(201);
      ids[email] = created.body.data.id;
    }
    const mcp = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'Payments MCP',
    });
    ids.mcp = mcp.body.data.id;
    const policy = await roster.post('/api/policies', {
      name: 'Payments need approval',
      environment_type: 'dev',
      feature_id: ids.mcp,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    expect(policy.status).toBe(201);
    const project = await roster.post('/api/projects', { name: 'Ledger', environment_type: 'dev' });
    ids.project = project.body.data.id;
    const scim = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
      name: EVIL,
    });
    expect(scim.status).toBe(201);
    const provisioned = await roster.request('POST', `/scim/v2/${scim.body.data.id}/Users`, {
      token: scim.body.data.token,
      headers: { 'content-type': 'application/scim+json' },
      body: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'synced@example.com',
        name: { givenName: 'Synced', familyName: 'Person' },
        emails: [{ value: 'synced@example.com', primary: true }],
        active: true,
      },
    });
    expect(provisioned.status).toBe(201);

    ({ context, page, profile } = await launchConsoleBrowser());
    await signInAsAdmin(page, roster);
  }, 120_000);

  afterAll(() => closeBrowserSuite({ context, profile, roster }));

  it('checks an end user in the access explorer as a dry run: no audit event, no approval request', async () => {
    const decisions = async () =>
      (await roster.get('/api/audit_events?action=end_user.decision')).body.total as number;
    const approvals = async () => (await roster.get('/api/approval_requests')).body.total as number;
    const [decisionsBefore, approvalsBefore] = [await decisions(), await approvals()];

    await go('/access', 'Access explorer');
    const form = page.getByRole('region', { name: 'End user → feature' });
    await form.getByLabel('User', { exact: true }).selectOption('bea@example.com');
    await form.getByLabel('Feature', { exact: true }).selectOption(String(ids.mcp));
    await form.getByRole('button', { name: 'Check access' }).click();
    await form
      .locator('.decision')
      .getByText(/Decision: .*approval/i)
      .waitFor();
    expect(await form.locator('.decision').textContent()).toContain(
      'a real decision would open one',
    );

    expect(await decisions()).toBe(decisionsBefore);
    expect(await approvals()).toBe(approvalsBefore);
  });

  it('offers the privilege catalogue as choices for the collaborator check', async () => {
    await go('/access', 'Access explorer');
    const form = page.getByRole('region', { name: 'Collaborator → project' });
    const resource = form.getByLabel('Resource', { exact: true });
    const privilege = form.getByLabel('Privilege', { exact: true });
    expect(
      await resource.locator('option').evaluateAll((o) => o.map((e) => e.getAttribute('value'))),
    ).toEqual(Object.keys(PROJECT_RESOURCES));
    expect(
      await privilege.locator('option').evaluateAll((o) => o.map((e) => e.getAttribute('value'))),
    ).toEqual(PROJECT_RESOURCES.recipe?.privileges);
    await resource.selectOption('folder');
    expect(
      await privilege.locator('option').evaluateAll((o) => o.map((e) => e.getAttribute('value'))),
    ).toEqual(PROJECT_RESOURCES.folder?.privileges);
    await form.getByLabel('Collaborator', { exact: true }).selectOption(ADMIN_EMAIL);
    await form.getByLabel('Project', { exact: true }).selectOption(String(ids.project));
    await privilege.selectOption('view');
    await form.getByRole('button', { name: 'Explain' }).click();
    await form
      .locator('.decision')
      .getByText(/allowed/i)
      .first()
      .waitFor();
    expect(await form.getByRole('alert').count()).toBe(0);
  });

  it('lists the users of the environment picked in the top bar, with an Environments column', async () => {
    await go('/users', 'Users');
    await page.getByRole('columnheader', { name: 'Environments' }).waitFor();
    await page.getByRole('cell', { name: 'dora@example.com' }).waitFor();
    expect(await page.getByRole('cell', { name: 'pete@example.com' }).count()).toBe(0);
    expect(
      await page
        .getByRole('row', { name: /Both Bea/ })
        .getByRole('cell', { name: 'DEV, PROD' })
        .count(),
    ).toBe(1);

    await page.locator('.env-picker select').selectOption('prod');
    await page.getByRole('cell', { name: 'pete@example.com' }).waitFor();
    expect(await page.getByRole('cell', { name: 'dora@example.com' }).count()).toBe(0);
    await page.getByRole('cell', { name: 'bea@example.com' }).waitFor();
    await page.locator('.env-picker select').selectOption('dev');
  });

  it('invites with No access by default, says the mail only reached the outbox, and offers to resend to an invited email', async () => {
    await go('/invitations', 'Invitations');
    await page.getByRole('button', { name: 'Invite collaborator' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite collaborator' });
    // The role options load with the dialog; then each environment shows No access.
    for (const env of ['DEV', 'TEST', 'PROD'])
      await expect
        .poll(() => dialog.getByLabel(env).inputValue(), { timeout: 10_000 })
        .toBe('privilege_group:No access');
    await dialog.getByLabel('Name').fill('Quinn');
    await dialog.getByLabel('Email address').fill('quinn@example.com');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await dialog.waitFor({ state: 'detached' });
    const notice = await page
      .getByRole('status')
      .filter({ hasText: 'quinn@example.com' })
      .textContent();
    expect(notice).toContain('not mailed');
    expect(notice).toContain('outbox');
    expect(notice).not.toContain('Invitation mailed');
    const invitations = await roster.get('/api/member_invitations?email=quinn');
    expect(invitations.body.data[0].env_roles.map((r: { name: string }) => r.name)).toEqual([
      'No access',
      'No access',
      'No access',
    ]);

    // Again, for the same (pending) email.
    await page.getByRole('button', { name: 'Invite collaborator' }).click();
    await dialog.getByLabel('Name').fill('Quinn');
    await dialog.getByLabel('Email address').fill('QUINN@example.com');
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await dialog.getByRole('button', { name: 'Resend invitation' }).waitFor();
    expect(await dialog.textContent()).toContain('quinn@example.com is already invited');
    expect(await dialog.textContent()).not.toContain('You can invite');
    // Past the cooldown the offered resend goes through.
    roster.clock.advance(21 * 60 * 1000);
    await dialog.getByRole('button', { name: 'Resend invitation' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'New invitation link' }).waitFor();
    expect((await roster.outbox()).filter((m) => m.to === 'quinn@example.com')).toHaveLength(2);
  });

  it('shows audit targets by name with a link, filters by end-user and SCIM actors, and exports every event as formula-safe CSV', async () => {
    await go('/audit', 'Audit log');
    const actorOptions = await page
      .getByLabel('Actor type')
      .locator('option')
      .evaluateAll((o) => o.map((e) => e.getAttribute('value')));
    expect(actorOptions).toEqual(expect.arrayContaining(['end_user', 'scim_connection']));

    await page.getByLabel('Action').fill('end_user.created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const link = page
      .getByRole('row', { name: /Dev Dora/ })
      .getByRole('link', { name: 'Dev Dora' });
    await link.click();
    await page.getByRole('heading', { level: 1, name: 'Dev Dora' }).waitFor();
    expect(page.url()).toBe(`${roster.url}/users/${ids['dora@example.com']}`);

    await go('/audit', 'Audit log');
    await page.getByLabel('Actor type').selectOption('scim_connection');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page
      .getByRole('row', { name: /Synced Person/ })
      .first()
      .waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export CSV' }).click();
    const csv = readFileSync(await (await download).path(), 'utf8');
    const lines = csv.split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toBe(
      'id,created_at,action,actor_type,actor_id,actor_name,target_type,target_id,target_name,before,after',
    );
    const total = Number(
      (await roster.get('/api/audit_events?actor_type=scim_connection')).body.total,
    );
    expect(lines).toHaveLength(total + 1);
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example/"",""Click"")"`);
    expect(csv).not.toMatch(/,"?=HYPERLINK/);

    // Without filters, every event: more than the 100 of a page.
    for (let i = 0; i < 120; i += 1)
      await roster.post('/api/end_users/decisions', {
        end_user_id: ids['dora@example.com'],
        environment_type: 'dev',
        feature_id: ids.mcp,
        tool: `tool_${i}`,
      });
    await go('/audit', 'Audit log');
    const all = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export CSV' }).click();
    const everything = readFileSync(await (await all).path(), 'utf8')
      .split('\r\n')
      .filter((l) => l !== '');
    const count = Number((await roster.get('/api/audit_events')).body.total);
    expect(count).toBeGreaterThan(240);
    expect(everything).toHaveLength(count + 1);
  });

  it('keeps the sidebar to the bottom of the window on a long page, scrolled to its end', async () => {
    await go('/audit', 'Audit log');
    await page.getByRole('row').nth(10).waitFor();
    for (const viewport of [
      { width: 1366, height: 860 },
      { width: 1024, height: 768 },
    ]) {
      await page.setViewportSize(viewport);
      await page.evaluate(() => {
        window.scrollTo(0, document.documentElement.scrollHeight);
      });
      const box = await page.evaluate(() => {
        const rect = document.querySelector('.sidebar')?.getBoundingClientRect();
        const main = document.querySelector('.main-column')?.getBoundingClientRect();
        return {
          top: rect?.top,
          bottom: rect?.bottom,
          right: rect?.right,
          mainLeft: main?.left,
          viewport: window.innerHeight,
          scrolled: window.scrollY,
        };
      });
      expect(box.scrolled).toBeGreaterThan(0);
      expect(box.top).toBe(0);
      expect(box.bottom).toBe(box.viewport);
      // The page's column starts where the sidebar ends: nothing under it.
      expect(box.mainLeft).toBe(box.right);
    }
    await page.setViewportSize({ width: 1366, height: 860 });
  });
});
