/**
 * In Chromium, against a real server serving the built console: the SCIM connections screen
 * (create with the token shown once, provisioning with it, rotate, delete; Read Only users see
 * no write buttons) and console sign-in through the workspace's OpenID Connect connection with a
 * REAL provider (`oidc-provider`), for a collaborator and for an end user with a console role.
 * Axe-core checks every screen; screenshots go to SCREENSHOT_DIR (docs/screenshots/ with
 * UPDATE_SCREENSHOTS=1, else a temporary folder).
 *
 * The browser reaches Roster as http://roster.test (ROSTER_PUBLIC_URL, the provider's registered
 * redirect URI) through a Chromium host-resolver rule, as DNS would send it there.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { invitationTokenFor, type Roster } from '../helpers/roster.js';
import { startOidcProvider, type OidcProvider } from '../api/oidc-provider.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  CHROMIUM,
  SCREENSHOT_DIR,
  axeViolations,
  buildConsole,
  hasChromium,
  launchConsoleBrowser,
  startConsoleRoster,
} from './helpers.js';

const TAKE_SCREENSHOTS = process.env.ROSTER_TEST_DIALECT !== 'postgres';
const PUBLIC_URL = 'http://roster.test';
const CLIENT_ID = 'roster-console-e2e';
const CLIENT_SECRET = 'console-e2e-client-secret-0123456789';
const READER_EMAIL = 'reader@example.com';
const READER_PASSWORD = 'reader password 1';

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('SCIM connections and SSO sign-in in Chromium', () => {
  let roster: Roster;
  let idp: OidcProvider | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;

  async function look(name: string): Promise<void> {
    await page.waitForLoadState('networkidle');
    expect(await axeViolations(page), `axe violations on ${name}`).toEqual([]);
    if (TAKE_SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  }

  async function go(urlPath: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${PUBLIC_URL}${urlPath}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  async function signInAs(email: string, password: string): Promise<void> {
    await page.goto(`${PUBLIC_URL}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }

  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
  }

  /** A SCIM request with a connection's token, to the path of its base URL on this server. */
  async function scim(baseUrl: string, token: string, method = 'GET', body?: unknown) {
    const response = await fetch(`${roster.url}${new URL(baseUrl).pathname}/Users`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/scim+json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response.status;
  }

  beforeAll(async () => {
    buildConsole();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    idp = await startOidcProvider({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: `${PUBLIC_URL}/sso/oidc/callback`,
    });
    roster = await startConsoleRoster({
      console: { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
      env: { ROSTER_PUBLIC_URL: PUBLIC_URL },
    });
    // A Read Only collaborator with a console password.
    await roster.post('/api/member_invitations', {
      name: 'Rita Reader',
      email: READER_EMAIL,
      env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
    });
    const accepted = await roster.post(
      `/api/console/invitations/${await invitationTokenFor(roster, READER_EMAIL)}/accept`,
      { name: 'Rita Reader', password: READER_PASSWORD },
      null,
    );
    expect(accepted.status).toBe(201);

    const port = new URL(roster.url).port;
    ({ context, page, profile } = await launchConsoleBrowser([
      `--host-resolver-rules=MAP roster.test:80 127.0.0.1:${port}`,
    ]));
  }, 120_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail')
      await page.screenshot({
        path: path.join(
          tmpdir(),
          `roster-e2e-failed-${ctx.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`,
        ),
      });
  });

  afterAll(async () => {
    await context?.close();
    profile?.remove();
    // `roster` is typed as set (the tests use it), but beforeAll may have failed before setting it.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    await roster?.close();
    await idp?.close();
  });

  it('creates a SCIM connection and shows its token and base URL once, with copy buttons', async () => {
    await signInAs(ADMIN_EMAIL, ADMIN_PASSWORD);
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'SCIM connections' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'SCIM connections' }).waitFor();
    await page.getByText('No SCIM connections yet.').waitFor();
    await look('scim-connections-empty');

    await page.getByRole('button', { name: 'Create connection' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create SCIM connection' });
    await dialog.getByLabel('Environment').selectOption('dev');
    // Collaborators ask for the role new users get; end users do not.
    await dialog.getByRole('radio', { name: 'Collaborators' }).check();
    await dialog.getByLabel('Default role').waitFor();
    expect(await dialog.getByLabel('Default role').inputValue()).toBe('privilege_group:Analyst');
    await dialog.getByRole('radio', { name: 'End users' }).check();
    await dialog.getByLabel('Default role').waitFor({ state: 'detached' });
    await dialog.getByLabel('Name').fill('Okta');
    await look('scim-connections-create');
    await dialog.getByRole('button', { name: 'Create connection' }).click();

    const shown = page.getByRole('dialog', { name: 'Okta is ready' });
    await shown.getByText('you will not see it again').waitFor();
    const token = await shown.getByLabel('Bearer token').inputValue();
    const baseUrl = await shown.getByLabel('SCIM base URL').inputValue();
    expect(token).toMatch(/^\S{20,}$/);
    expect(baseUrl).toMatch(/^http:\/\/roster\.test\/scim\/v2\/\S+$/);
    await shown.getByRole('button', { name: 'Copy token' }).waitFor();
    await shown.getByRole('button', { name: 'Copy base URL' }).waitFor();
    await look('scim-connections-token');
    await shown.getByRole('button', { name: 'I have stored the token' }).click();
    await shown.waitFor({ state: 'detached' });
    // Once closed, the token is nowhere on the page.
    expect(await page.content()).not.toContain(token);

    // The token provisions: one end user through SCIM.
    expect(
      await scim(baseUrl, token, 'POST', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'sam@example.com',
        name: { givenName: 'Sam', familyName: 'Scim' },
        emails: [{ value: 'sam@example.com', primary: true }],
        active: true,
      }),
    ).toBe(201);
    const listed = await roster.get('/api/scim_connections');
    expect(listed.body.data).toMatchObject([
      { name: 'Okta', environment_type: 'dev', target: 'end_users', users_count: 1 },
    ]);
  });

  it('creates a collaborators connection with its default role, lists connections with counts and last sync, and searches them', async () => {
    const second = await roster.post('/api/scim_connections', {
      environment_type: 'test',
      target: 'end_users',
      name: 'Microsoft Entra ID',
    });
    expect(second.status).toBe(201);
    await go('/scim-connections', 'SCIM connections');
    // A collaborators connection, with the role its new collaborators get.
    await page.getByRole('button', { name: 'Create connection' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create SCIM connection' });
    await dialog.getByLabel('Environment').selectOption('prod');
    await dialog.getByRole('radio', { name: 'Collaborators' }).check();
    await dialog.getByLabel('Name').fill('Google Workspace');
    await dialog.getByLabel('Default role').selectOption({ label: 'Operator' });
    await dialog.getByRole('button', { name: 'Create connection' }).click();
    const shown = page.getByRole('dialog', { name: 'Google Workspace is ready' });
    await shown.getByRole('button', { name: 'I have stored the token' }).click();
    await page
      .getByRole('row', { name: /Google Workspace/ })
      .getByText('as Operator')
      .waitFor();
    const google = (await roster.get('/api/scim_connections')).body.data.find(
      (c: { name: string }) => c.name === 'Google Workspace',
    );
    expect(google).toMatchObject({
      environment_type: 'prod',
      target: 'collaborators',
      default_role: 'Operator',
    });
    const okta = page.getByRole('row', { name: /Okta/ });
    await okta.getByRole('cell', { name: '1', exact: true }).first().waitFor();
    expect(await okta.textContent()).toMatch(/now|seconds? ago/);
    const entra = page.getByRole('row', { name: /Microsoft Entra ID/ });
    expect(await entra.textContent()).toContain('Never');
    await look('scim-connections');
    await page.getByLabel('Search connections').fill('entra');
    await okta.waitFor({ state: 'detached' });
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Search connections').fill('');
    await okta.waitFor();
  });

  it('rotates a token after a confirmation: the new one is shown once and the old one stops working', async () => {
    const before = (await roster.get('/api/scim_connections')).body.data.find(
      (c: { name: string }) => c.name === 'Okta',
    );
    await go('/scim-connections', 'SCIM connections');
    await page.getByRole('button', { name: 'Actions for Okta' }).click();
    await page.getByRole('menuitem', { name: 'Rotate token' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the token of Okta?' });
    expect(await confirm.textContent()).toContain('stops working at once');
    await look('scim-connections-rotate');
    await confirm.getByRole('button', { name: 'Rotate token' }).click();
    const shown = page.getByRole('dialog', { name: 'New token for Okta' });
    await shown.getByText('The previous token has stopped working.').waitFor();
    const token = await shown.getByLabel('Bearer token').inputValue();
    const baseUrl = await shown.getByLabel('SCIM base URL').inputValue();
    expect(token.startsWith(before.token_prefix)).toBe(false);
    await shown.getByRole('button', { name: 'I have stored the token' }).click();
    expect(await scim(baseUrl, token)).toBe(200);
    const after = (await roster.get('/api/scim_connections')).body.data.find(
      (c: { name: string }) => c.name === 'Okta',
    );
    expect(after.rotated_at).not.toBeNull();
    expect(after.token_prefix).not.toBe(before.token_prefix);
  });

  it('deletes a connection after explaining that provisioning stops and its groups become manually managed', async () => {
    await go('/scim-connections', 'SCIM connections');
    await page.getByRole('button', { name: 'Actions for Okta' }).click();
    await page.getByRole('menuitem', { name: 'Delete connection' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Okta?' });
    const text = await confirm.textContent();
    expect(text).toContain('Provisioning stops');
    expect(text).toContain('The 1 user and 0 groups it manages stay in Roster');
    expect(text).toContain('Its groups become manually managed');
    await look('scim-connections-delete');
    await confirm.getByRole('button', { name: 'Delete connection' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: /Okta/ }).waitFor({ state: 'detached' });
    const names = (await roster.get('/api/scim_connections')).body.data.map(
      (c: { name: string }) => c.name,
    );
    expect(names.sort()).toEqual(['Google Workspace', 'Microsoft Entra ID']);
    // The provisioned user stays.
    const users = await roster.get('/api/end_users?email=sam%40example.com');
    expect(users.body.data).toHaveLength(1);
  });

  it('shows a Read Only collaborator the connections without any write button', async () => {
    await signOut();
    await signInAs(READER_EMAIL, READER_PASSWORD);
    await go('/scim-connections', 'SCIM connections');
    await page.getByRole('row', { name: /Microsoft Entra ID/ }).waitFor();
    expect(await page.getByRole('button', { name: 'Create connection' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Actions for/ }).count()).toBe(0);
    await look('scim-connections-read-only');
    await signOut();
  });

  it('signs a collaborator in with SSO from the sign-in page, through the provider’s login screen', async () => {
    const configured = await roster.put('/api/sso/oidc', {
      issuer_url: idp?.issuer,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      allowed_domains: ['example.com'],
      groups_claim: null,
      environment_types: ['dev'],
      // Console sign-in through the connection is opt-in (docs/sso.md).
      console_sign_in: true,
    });
    expect(configured.status).toBe(200);
    idp?.accounts.set('first-admin', { email: ADMIN_EMAIL, name: 'Admin' });
    await page.goto(`${PUBLIC_URL}/sign-in`);
    const sso = page.getByRole('link', { name: 'Sign in with SSO' });
    await sso.waitFor();
    await look('sign-in-sso');
    await sso.click();
    await page.getByRole('heading', { name: 'Test identity provider' }).waitFor();
    await page.getByLabel('Username').fill('first-admin');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    expect(new URL(page.url()).href).toBe(`${PUBLIC_URL}/`);
    await page.getByText(ADMIN_EMAIL).waitFor();
    expect(await page.getByText('Read Only', { exact: true }).count()).toBe(0);
    await signOut();
  });

  it('signs an end user in a Read Only group in with SSO: read-only, and only that group’s environment', async () => {
    const user = await roster.post('/api/end_users', {
      name: 'Erin Enduser',
      email: 'erin@example.com',
      environment_types: ['test'],
    });
    expect(user.status).toBe(201);
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'test',
      name: 'Auditors',
      roles: ['Read Only'],
      end_user_ids: [user.body.data.id],
    });
    expect(group.status).toBe(201);
    idp?.accounts.set('erin', { email: 'erin@example.com', name: 'Erin' });
    // Signing out of Roster leaves the provider's session: another person needs a fresh browser.
    await context?.clearCookies();
    await page.goto(`${PUBLIC_URL}/sign-in`);
    await page.getByRole('link', { name: 'Sign in with SSO' }).click();
    await page.getByLabel('Username').fill('erin');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByText('Read Only', { exact: true }).waitFor();
    expect(await page.getByLabel('Environment').locator('option').allTextContents()).toEqual([
      'TEST',
    ]);
    // End users manage end users: no collaborator or workspace sections, and no error cards for
    // what the API refuses them (collaborators, projects, the audit log).
    await page.getByRole('link', { name: 'Groups', exact: true }).waitFor();
    for (const name of [
      'Collaborators',
      'Projects',
      'API clients',
      'SCIM connections',
      'Audit log',
    ])
      expect(await page.getByRole('link', { name, exact: true }).count()).toBe(0);
    expect(await page.getByText('Recent changes').count()).toBe(0);
    expect(await page.getByRole('alert').count()).toBe(0);
    await signOut();
  });

  it('shows an unknown email a clear refusal with a way back to the sign-in page', async () => {
    idp?.accounts.set('stranger', { email: 'stranger@example.com', name: 'Stranger' });
    await context?.clearCookies();
    await page.goto(`${PUBLIC_URL}/sign-in`);
    await page.getByRole('link', { name: 'Sign in with SSO' }).click();
    await page.getByLabel('Username').fill('stranger');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Sign-in not allowed' }).waitFor();
    expect(await page.textContent('main')).toContain(
      'stranger@example.com is not a collaborator of this workspace',
    );
    await look('sign-in-sso-refused');
    await page.getByRole('link', { name: 'Back to the sign-in page' }).click();
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    const users = await roster.get('/api/end_users?email=stranger%40example.com');
    expect(users.body.data).toEqual([]);
  });
});
