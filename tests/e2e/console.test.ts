/**
 * The admin console in a real browser (playwright-core driving Debian's Chromium) against a real
 * server serving the built console: the reference documents' procedures, step by step, with an
 * accessibility check (axe-core: no serious or critical violation) and a screenshot of every
 * screen (docs/screenshots/ with UPDATE_SCREENSHOTS=1, else a temporary folder).
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMember, invitationTokenFor, type Roster } from '../helpers/roster.js';
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

// Both dialect runs walk the same screens; one set of screenshots is enough.
const TAKE_SCREENSHOTS = process.env.ROSTER_TEST_DIALECT !== 'postgres';

it.skipIf(hasChromium)(
  `skips the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`,
  () => undefined,
);

describe.skipIf(!hasChromium)('the admin console in Chromium', () => {
  let roster: Roster;
  // Undefined until beforeAll gets that far: afterAll must clean up after a failed start too.
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: { dir: string; remove(): void } | undefined;
  const ids: Record<string, number> = {};

  async function look(name: string): Promise<void> {
    await page.waitForLoadState('networkidle');
    const violations = await axeViolations(page);
    expect(violations, `axe violations on ${name}`).toEqual([]);
    if (TAKE_SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  }

  async function go(urlPath: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${roster.url}${urlPath}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  async function signInAs(email: string, password: string): Promise<void> {
    await page.goto(`${roster.url}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
  }

  beforeAll(async () => {
    buildConsole();
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    roster = await startConsoleRoster({
      console: { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    // A small directory to work with, through the public API.
    const people = [
      ['Ada Lovelace', 'ada@example.com'],
      ['Grace Hopper', 'grace@example.com'],
      ['Alan Turing', 'alan@example.com'],
      ['Katherine Johnson', 'katherine@example.com'],
      ['Linus Torvalds', 'linus@example.com'],
    ] as const;
    for (const [name, email] of people) {
      const created = await roster.post('/api/end_users', {
        name,
        email,
        environment_types: ['dev', 'test'],
        mfa_enabled: email.startsWith('g'),
      });
      expect(created.status).toBe(201);
      ids[email] = created.body.data.id;
    }
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Support Genie',
    });
    expect(feature.status).toBe(201);
    ids.feature = feature.body.data.id;
    const mcp = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'GitHub MCP',
    });
    ids.mcp = mcp.body.data.id;
    const policy = await roster.post('/api/policies', {
      name: 'Approve repository deletes',
      environment_type: 'dev',
      feature_id: ids.mcp,
      tools: ['delete_repository'],
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    expect(policy.status).toBe(201);
    await roster.post(`/api/features/${ids.mcp}/access`, {
      end_user_ids: [ids['linus@example.com']],
    });
    const approval = await roster.post('/api/end_users/decisions', {
      email: 'linus@example.com',
      environment_type: 'dev',
      feature_id: ids.mcp,
      tool: 'delete_repository',
    });
    expect(approval.body.data.decision).toBe('require_approval');
    const project = await roster.post('/api/projects', {
      name: 'Billing automations',
      environment_type: 'dev',
    });
    ids.project = project.body.data.id;
    const role = await roster.post('/api/project_roles', {
      project_role: {
        name: 'Recipe builder',
        config: { recipe: { privileges: 'all' }, connection: { privileges: ['read'] } },
      },
    });
    expect(role.status).toBe(200);
    const builders = await roster.post('/api/user_groups', {
      user_group: { name: 'Builders', description: 'People who build recipes' },
    });
    expect(builders.status).toBe(200);
    await roster.post('/api/member_invitations', {
      name: 'Pending Person',
      email: 'pending@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Operator' }],
    });

    ({ context, page, profile } = await launchConsoleBrowser());
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
  });

  it('signs the first admin in with email and password and shows the dashboard with counts and activity', async () => {
    await page.goto(`${roster.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    await look('sign-in');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe(
      'Email or password is incorrect',
    );
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await page.getByRole('img', { name: /Sign-ins and access decisions per day/ }).waitFor();
    await expect
      .poll(
        () => page.locator('.stat', { hasText: 'End users' }).locator('.stat-value').textContent(),
        { timeout: 10_000 },
      )
      .toBe('5');
    await look('dashboard');
  });

  it('lists users with initials, status, MFA and relative created time; searches by email and sorts by email', async () => {
    await go('/users', 'Users');
    await page.getByRole('cell', { name: 'ada@example.com' }).waitFor();
    await look('users');
    await page.getByLabel('Search by email').fill('gra');
    await page.getByRole('cell', { name: 'ada@example.com' }).waitFor({ state: 'detached' });
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByRole('cell', { name: 'grace@example.com' }).waitFor();
    await page.getByLabel('Search by email').fill('');
    await page.getByRole('button', { name: /^Email/ }).click();
    await page.locator('tbody tr').first().getByText('ada@example.com').waitFor();
    const first = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(first).toEqual([...first].sort());
  });

  it('creates an end-user group with a member (000: Create an end-user group)', async () => {
    await go('/groups', 'Groups');
    await page.getByRole('button', { name: '+ Create Group' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create end-user group in DEV' });
    await dialog.getByLabel('Group name').fill('Support team');
    await dialog.getByLabel('Search users').fill('ada');
    await dialog.getByRole('checkbox', { name: /Ada Lovelace/ }).check();
    await look('group-create');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'Support team' }).waitFor();
    await page.getByRole('cell', { name: 'Ada Lovelace ada@example.com' }).waitFor();
    ids.group = Number(new URL(page.url()).pathname.split('/').pop());
    const members = await roster.get(`/api/end_user_groups/${ids.group}/members`);
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual(['ada@example.com']);
    // Assign Users: search and multi-select.
    await page.getByRole('button', { name: 'Assign Users' }).click();
    const assign = page.getByRole('dialog', { name: 'Assign Users' });
    await assign.getByRole('checkbox', { name: /Grace Hopper/ }).check();
    await assign.getByRole('checkbox', { name: /Alan Turing/ }).check();
    await look('group-assign-users');
    await assign.getByRole('button', { name: 'Assign 2 users' }).click();
    await page.getByRole('cell', { name: 'Alan Turing alan@example.com' }).waitFor();
    await look('group-detail');
    await page.getByRole('button', { name: 'Remove Alan Turing from the group' }).click();
    await page
      .getByRole('cell', { name: 'Alan Turing alan@example.com' })
      .waitFor({ state: 'detached' });
    await go('/groups', 'Groups');
    await page.getByRole('link', { name: 'Support team' }).waitFor();
    await look('groups');
  });

  it('grants a feature to a group (000: Grant access to users and groups)', async () => {
    await go(`/features/${ids.feature}`, 'Support Genie');
    await page.getByRole('button', { name: 'Add end users' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add end users' });
    await dialog.getByRole('checkbox', { name: /Support team/ }).check();
    await look('feature-add-end-users');
    await dialog.getByRole('button', { name: 'Add' }).click();
    await page.getByRole('link', { name: 'Support team' }).waitFor();
    await look('feature-access');
    const grants = await roster.get(`/api/features/${ids.feature}/access`);
    expect(
      grants.body.data.map(
        (g: { end_user_group: { name: string } | null }) => g.end_user_group?.name,
      ),
    ).toEqual(['Support team']);
    await go('/features', 'Features & policies');
    await look('features');
    await go(`/features/${ids.mcp}`, 'GitHub MCP');
    await page.getByRole('tab', { name: 'Policies' }).click();
    await page.getByRole('cell', { name: 'Approve repository deletes' }).waitFor();
    await look('feature-policies');
  });

  it('pages a feature’s grants: every grant reachable, 25 a page', async () => {
    const feature = await roster.post('/api/features', {
      environment_type: 'prod',
      kind: 'assistant',
      name: 'Widely granted',
    });
    const id = feature.body.data.id as number;
    const users: number[] = [];
    for (let i = 1; i <= 30; i++)
      users.push(
        (
          await roster.post('/api/end_users', {
            name: `Grantee ${String(i).padStart(2, '0')}`,
            email: `grantee${i}@paged.example.com`,
            environment_types: ['prod'],
          })
        ).body.data.id as number,
      );
    expect((await roster.post(`/api/features/${id}/access`, { end_user_ids: users })).status).toBe(
      200,
    );
    await go(`/features/${id}`, 'Widely granted');
    const pages = page.getByRole('navigation', { name: 'Grants pages' });
    await pages.getByText('1–25 of 30').waitFor();
    await page.getByText('Grantee 01').waitFor();
    expect(await page.getByText('Grantee 30').count()).toBe(0);
    await pages.getByRole('button', { name: 'Next' }).click();
    await pages.getByText('26–30 of 30').waitFor();
    await page.getByText('Grantee 30').waitFor();
    expect(await page.getByText('Grantee 01').count()).toBe(0);
  });

  it('finds a feature past the first page by name, and counts its policies past the environment’s 100th', async () => {
    const made: number[] = [];
    for (let i = 1; i <= 30; i++)
      made.push(
        (
          await roster.post('/api/features', {
            environment_type: 'dev',
            kind: 'chat_app',
            name: `Paged feature ${String(i).padStart(2, '0')}`,
          })
        ).body.data.id as number,
      );
    // 101 policies on the first, then 3 on the last: a count from the environment's first 100
    // policies would say 0 for the last.
    const policy = async (featureId: number, n: number) => {
      const created = await roster.post('/api/policies', {
        name: `Paged policy ${String(n)}`,
        environment_type: 'dev',
        feature_id: featureId,
        scope: { type: 'all' },
        effect: 'allow',
      });
      expect(created.status).toBeLessThan(300);
    };
    for (let n = 1; n <= 101; n++) await policy(made[0] as number, n);
    for (let n = 102; n <= 104; n++) await policy(made[29] as number, n);
    await go('/features', 'Features & policies');
    await page.getByLabel('Search features by name').fill('paged feature 30');
    const row = page.getByRole('row', { name: /Paged feature 30/ });
    await row.waitFor();
    expect(await row.getByRole('cell').nth(2).textContent()).toBe('3');
    await page.getByLabel('Search features by name').fill('paged feature 01');
    const first = page.getByRole('row', { name: /Paged feature 01/ });
    await first.waitFor();
    expect(await first.getByRole('cell').nth(2).textContent()).toBe('101');
    expect(await page.getByRole('row', { name: /Paged feature 30/ }).count()).toBe(0);
  });

  it('revokes a user’s environment after the confirmation checkbox (000: Revoke user access to an environment)', async () => {
    await go(`/users/${ids['katherine@example.com']}`, 'Katherine Johnson');
    await look('user-detail');
    // The checkbox stays checked until the revocation is confirmed and saved.
    await page.getByRole('checkbox', { name: 'TEST' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke access to TEST?' });
    const save = dialog.getByRole('button', { name: 'Save' });
    expect(await save.isDisabled()).toBe(true);
    await dialog.getByRole('checkbox', { name: /I understand/ }).check();
    await look('user-revoke-environment');
    await save.click();
    await dialog.waitFor({ state: 'detached' });
    await expect
      .poll(() => page.getByRole('checkbox', { name: 'TEST' }).isChecked(), { timeout: 10_000 })
      .toBe(false);
    const user = await roster.get(`/api/end_users/${ids['katherine@example.com']}`);
    expect(user.body.data.environment_types).toEqual(['dev']);
  });

  it('locks a user after a confirmation that explains the effect, and the decision turns to deny', async () => {
    const decide = async () => {
      await go('/access', 'Access explorer');
      const form = page.locator('section', {
        has: page.getByRole('heading', { name: 'End user → feature' }),
      });
      await form.getByLabel('User', { exact: true }).selectOption('ada@example.com');
      await form.getByLabel('Feature', { exact: true }).selectOption(String(ids.feature));
      await form.getByRole('button', { name: 'Check access' }).click();
      return form.locator('.decision');
    };
    const before = await decide();
    await before.getByText('Decision: Allow').waitFor();
    await look('access-explorer');

    await go('/users', 'Users');
    await page.getByRole('button', { name: 'Actions for Ada Lovelace' }).click();
    await page.getByRole('menuitem', { name: 'Lock user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Lock Ada Lovelace?' });
    expect(await dialog.textContent()).toContain('every feature and tool is denied');
    await look('user-lock-confirmation');
    await dialog.getByRole('button', { name: 'Lock user' }).click();
    await page
      .getByRole('row', { name: /Ada Lovelace/ })
      .getByText('Locked')
      .waitFor();

    const after = await decide();
    await after.getByText('Decision: Deny').waitFor();
    expect(await after.textContent()).toMatch(/locked/i);
  });

  it('shows approvals, collaborators, roles with the privileges editor, API clients and the audit log', async () => {
    await go('/approvals', 'Approvals');
    await page.getByRole('cell', { name: 'Linus Torvalds linus@example.com' }).waitFor();
    await look('approvals');
    await go('/collaborators', 'Collaborators');
    await page.getByRole('cell', { name: new RegExp(ADMIN_EMAIL) }).waitFor();
    await look('collaborators');
    await go('/collaborator-groups', 'Collaborator groups');
    await page.getByRole('button', { name: 'Builders', exact: true }).waitFor();
    await look('collaborator-groups');
    await go('/roles', 'Roles');
    await page.getByRole('tab', { name: 'Legacy roles' }).click();
    await page.getByRole('button', { name: 'Operator' }).click();
    await page
      .getByRole('dialog', { name: 'Operator' })
      .getByRole('checkbox', { name: 'run' })
      .first()
      .waitFor();
    await look('roles-privileges-editor');
    await page.getByRole('button', { name: 'Close' }).first().click();
    await go('/api-clients', 'API clients');
    await page.getByRole('button', { name: 'Create API client' }).click();
    await page.getByRole('dialog').getByLabel('Name').fill('CI pipeline');
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).click();
    const token = await page.getByLabel('API token').inputValue();
    expect(token).toMatch(/^rst_/);
    expect((await roster.get('/api/projects', token)).status).toBe(200);
    await page.getByRole('button', { name: 'I have stored the token' }).click();
    await page.getByRole('cell', { name: 'CI pipeline' }).waitFor();
    await look('api-clients');
    await go('/audit', 'Audit log');
    await page.getByLabel('Action').fill('end_user.locked');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('button', { name: 'end_user.locked' }).waitFor();
    // The unfiltered page may still be shown (it lists that event too) until the filtered one loads.
    await expect.poll(() => page.locator('tbody tr').count(), { timeout: 10_000 }).toBe(1);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export CSV' }).click();
    const csv = readFileSync(await (await download).path(), 'utf8');
    expect(csv.split('\r\n')[0]).toBe(
      'id,created_at,action,actor_type,actor_id,actor_name,target_type,target_id,target_name,before,after',
    );
    expect(csv).toContain(',end_user.locked,member,');
    await look('audit-log');
  });

  it('gives a collaborator group a project grant', async () => {
    await go(`/projects/${ids.project}`, 'Billing automations');
    await page.getByRole('button', { name: 'Add grant' }).click();
    const dialog = page.getByRole('dialog', { name: 'Grant access to this project' });
    await dialog.getByLabel('Group', { exact: true }).selectOption({ label: 'Builders' });
    await dialog.getByLabel('Project role').selectOption({ label: 'Recipe builder' });
    await look('project-add-grant');
    await dialog.getByRole('button', { name: 'Grant' }).click();
    await page
      .getByRole('cell', { name: /Builders/ })
      .first()
      .waitFor();
    await look('project-detail');
    const grants = await roster.get(`/api/projects/${ids.project}/project_grants`);
    expect(
      grants.body.data.map((g: { user_group: { name: string } | null }) => g.user_group?.name),
    ).toEqual(['Builders']);
    await go('/projects', 'Projects');
    await look('projects');
  });

  it('invites a collaborator who accepts on the acceptance page with a password, then signs in as them', async () => {
    await go('/invitations', 'Invitations');
    await page.getByRole('button', { name: 'Invite collaborator' }).click();
    const dialog = page.getByRole('dialog', { name: 'Invite collaborator' });
    await dialog.getByLabel('Name').fill('Nina Newcomer');
    await dialog.getByLabel('Email address').fill('nina@example.com');
    await dialog.getByLabel('DEV').selectOption({ label: 'Analyst' });
    await dialog.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByRole('cell', { name: /nina@example.com/ }).waitFor();
    await look('invitations');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();

    const token = await invitationTokenFor(roster, 'nina@example.com');
    await page.goto(`${roster.url}/invitations/${token}`);
    await page.getByRole('heading', { name: 'Join Default' }).waitFor();
    await page.getByLabel('Name').fill('Nina N.');
    await page.getByLabel('Password', { exact: true }).fill('nina password 1');
    await page.getByLabel('Confirm password').fill('nina password 1');
    await look('invitation-accept');
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.getByRole('heading', { name: 'Welcome to Roster' }).waitFor();

    await signInAs('nina@example.com', 'nina password 1');
    expect(await page.getByText('Read Only', { exact: true }).count()).toBe(1);
    await go('/groups', 'Groups');
    expect(await page.getByRole('button', { name: '+ Create Group' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Roster' }).waitFor();
    await signInAs(ADMIN_EMAIL, ADMIN_PASSWORD);
  });

  it('deletes a group after reading who would lose what', async () => {
    await go(`/groups/${ids.group}`, 'Support team');
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByLabel('Group ID').waitFor();
    expect(await page.getByLabel('Group ID').getAttribute('readonly')).not.toBeNull();
    await page.getByRole('button', { name: /^Assign roles/ }).click();
    await page.getByLabel('Search roles').fill('read');
    await page.getByRole('checkbox', { name: /Read Only/ }).check();
    await look('group-settings');
    await page.keyboard.press('Escape');
    await page.getByLabel('Search roles').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Changes saved.').waitFor();
    expect((await roster.get(`/api/end_user_groups/${ids.group}`)).body.data.roles).toEqual([
      'Read Only',
    ]);

    await page.getByRole('button', { name: 'Delete Group…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete Support team?' });
    await dialog.getByText('Who would lose what').waitFor();
    expect(await dialog.textContent()).toContain('Access to Support Genie');
    expect(await dialog.textContent()).toContain('Grace Hopper');
    await look('group-delete-impact');
    await dialog.getByRole('button', { name: 'Delete group' }).click();
    await page.getByRole('heading', { level: 1, name: 'Groups' }).waitFor();
    expect((await roster.get(`/api/end_user_groups/${ids.group}`)).status).toBe(404);
  });

  it('shows the dark theme and a laptop-width layout', async () => {
    await go('/', 'Dashboard');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await look('dashboard-dark');
    await go(`/users/${ids['grace@example.com']}`, 'Grace Hopper');
    await look('user-detail-dark');
    await page.getByRole('button', { name: 'Light theme' }).click();
    await page.setViewportSize({ width: 1024, height: 768 });
    await go('/users', 'Users');
    await look('users-laptop');
    await page.setViewportSize({ width: 1366, height: 860 });
  });

  describe('with more than 100 collaborators, groups, projects and end users', () => {
    /** Zero-padded, so that every name or email is unique and none contains another. */
    const nth = (i: number) => String(i).padStart(3, '0');
    const crowd: Record<string, number | string> = {};

    /** No serious or critical axe violation (no screenshot: these screens are not in the docs). */
    async function accessible(name: string): Promise<void> {
      await page.waitForLoadState('networkidle');
      expect(await axeViolations(page), `axe violations on ${name}`).toEqual([]);
    }

    beforeAll(async () => {
      // Each list is longer than the 100 rows a page may hold, and far longer than the 50
      // matches a picker shows; the last of each is where a first page never reaches.
      for (let i = 1; i <= 120; i++) {
        const member = await createMember(roster, {
          name: `Crowd Member ${nth(i)}`,
          email: `crowd${nth(i)}@crowd.example.com`,
        });
        crowd[`member${i}`] = member.id;
        const group = await roster.post('/api/user_groups', {
          user_group: { name: `Crowd group ${nth(i)}` },
        });
        expect(group.status).toBe(200);
        crowd[`group${i}`] = group.body.data.id as string;
      }
      for (let i = 1; i <= 105; i++) {
        const project = await roster.post('/api/projects', {
          name: `Crowd project ${nth(i)}`,
          environment_type: 'dev',
        });
        expect(project.status).toBe(201);
        crowd[`project${i}`] = project.body.data.id as number;
        const user = await roster.post('/api/end_users', {
          name: `Crowd User ${nth(i)}`,
          email: `crowd${nth(i)}@crowd-users.example.com`,
          environment_types: ['dev'],
        });
        expect(user.status).toBe(201);
        crowd[`user${i}`] = user.body.data.id as number;
      }
      // 60 end-user groups without the Admin role ahead (by name) of one with it: an approval
      // step's picker lists the admin group among its first 50 only if the server filters.
      for (let i = 1; i <= 60; i++) {
        const readers = await roster.post('/api/end_user_groups', {
          environment_type: 'dev',
          name: `Crowd readers ${nth(i)}`,
          roles: ['Read Only'],
          end_user_ids: [crowd.user1],
        });
        expect(readers.status).toBe(201);
      }
      const watchers = await roster.post('/api/end_user_groups', {
        environment_type: 'dev',
        name: 'Crowd watchers',
        roles: ['Admin'],
        end_user_ids: [crowd.user1],
      });
      expect(watchers.status).toBe(201);
      crowd.watchers = watchers.body.data.id as number;
      const roles = await roster.get('/api/project_roles');
      crowd.role = roles.body.data.find((r: { name: string }) => r.name === 'Recipe builder').id;
    }, 180_000);

    it('grants a project to the 120th collaborator group and the 120th collaborator, found by search', async () => {
      await go(`/projects/${ids.project}`, 'Billing automations');
      await page.getByRole('button', { name: 'Add grant' }).click();
      const dialog = page.getByRole('dialog', { name: 'Grant access to this project' });
      const group = dialog.getByLabel('Group', { exact: true });
      // The first matches only, and saying so.
      await dialog.getByText(/^Showing 50 of 12\d — type to narrow\.$/).waitFor();
      expect(await group.locator('option', { hasText: 'Crowd group 120' }).count()).toBe(0);
      await dialog.getByLabel('Search groups by name').fill('Crowd group 120');
      await group.locator('option', { hasText: 'Crowd group 120' }).waitFor({ state: 'attached' });
      await group.selectOption({ label: 'Crowd group 120' });
      // A search that no longer lists the group keeps it chosen.
      await dialog.getByLabel('Search groups by name').fill('no such group');
      await dialog.getByText('No groups match “no such group”.').waitFor();
      expect(await group.inputValue()).toBe(crowd.group120);
      expect(await group.locator('option:checked').textContent()).toBe('Crowd group 120');
      await dialog.getByLabel('Project role').selectOption({ label: 'Recipe builder' });
      await accessible('project-add-grant-search');
      await dialog.getByRole('button', { name: 'Grant' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page.getByRole('cell', { name: /Crowd group 120/ }).waitFor();

      await page.getByRole('button', { name: 'Add grant' }).click();
      await dialog.getByRole('radio', { name: 'A collaborator', exact: true }).check();
      const collaborator = dialog.getByLabel('Collaborator', { exact: true });
      await dialog.getByText(/^Showing 50 of 12\d — type to narrow\.$/).waitFor();
      await dialog.getByLabel('Search collaborators by email').fill('crowd120@');
      await collaborator.selectOption({ label: 'Crowd Member 120 (crowd120@crowd.example.com)' });
      await dialog.getByLabel('Project role').selectOption({ label: 'Recipe builder' });
      await dialog.getByRole('button', { name: 'Grant' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page
        .getByRole('cell', { name: /crowd120@crowd\.example\.com/ })
        .first()
        .waitFor();

      const grants = await roster.get(`/api/projects/${ids.project}/project_grants`);
      const granted = grants.body.data.map(
        (g: { user: { email: string } | null; user_group: { name: string } | null }) =>
          g.user?.email ?? g.user_group?.name,
      );
      expect(granted).toEqual(
        expect.arrayContaining(['Crowd group 120', 'crowd120@crowd.example.com']),
      );
    });

    it('finds the 105th end user, the 120th collaborator and the 105th project in the access explorer', async () => {
      await roster.post(`/api/features/${ids.feature}/access`, {
        end_user_ids: [crowd.user105],
      });
      const grant = await roster.put(`/api/projects/${crowd.project105}/project_grants`, {
        project_grants: [
          {
            assignment_type: 'User',
            assignment_id: String(crowd.member120),
            project_role_id: crowd.role,
          },
        ],
      });
      expect(grant.status).toBe(200);
      await go('/access', 'Access explorer');

      const endUser = page.getByRole('region', { name: 'End user → feature' });
      await endUser.getByText(/^Showing 50 of 1\d\d — type to narrow\.$/).waitFor();
      await endUser.getByLabel('Search users by email').fill('crowd105@');
      await endUser
        .getByLabel('User', { exact: true })
        .selectOption('crowd105@crowd-users.example.com');
      await endUser.getByLabel('Feature', { exact: true }).selectOption(String(ids.feature));
      await endUser.getByRole('button', { name: 'Check access' }).click();
      await endUser.locator('.decision').getByText('Decision: Allow').waitFor();

      const check = page.getByRole('region', { name: 'Collaborator → project' });
      await check.getByLabel('Search collaborators by email').fill('crowd120@');
      await check
        .getByLabel('Collaborator', { exact: true })
        .selectOption('crowd120@crowd.example.com');
      await check.getByLabel('Search projects by name').fill('Crowd project 105');
      await check
        .getByLabel('Project', { exact: true })
        .selectOption({ label: 'Crowd project 105 (DEV)' });
      await check.getByRole('button', { name: 'Explain' }).click();
      await check.locator('.decision').getByText('Allowed', { exact: true }).waitFor();

      const who = page.getByRole('region', { name: 'Who can reach a project' });
      await who.getByLabel('Search projects by name').fill('Crowd project 105');
      await who
        .getByLabel('Project', { exact: true })
        .selectOption({ label: 'Crowd project 105 (DEV)' });
      await who.getByRole('cell', { name: /Crowd Member 120/ }).waitFor();
      await accessible('access-explorer-search');
    });

    it('names the 120th collaborator and an admin group behind 60 others as approvers', async () => {
      await go(`/features/${ids.mcp}`, 'GitHub MCP');
      await page.getByRole('tab', { name: 'Policies' }).click();
      await page.getByRole('button', { name: 'New policy' }).click();
      const dialog = page.getByRole('dialog', { name: 'New policy for GitHub MCP' });
      await dialog.getByLabel('Policy name').fill('The 120th approves archives');
      await dialog.getByLabel('Effect').selectOption('require_approval');
      await dialog.getByLabel('Tools').fill('archive_repository');
      await dialog.getByRole('button', { name: 'Add approval step' }).click();
      const step = dialog.getByRole('group', { name: 'Step 1' });
      await step.getByText(/^Showing 50 of 12\d collaborators.* — type to narrow\.$/).waitFor();
      expect(await step.getByRole('checkbox', { name: /Crowd Member 120/ }).count()).toBe(0);
      // Only admin groups are offered, so the one behind 60 read-only groups is there at once.
      await step.getByRole('checkbox', { name: /Crowd watchers/ }).check();
      expect(await step.getByRole('checkbox', { name: /Crowd readers/ }).count()).toBe(0);
      await step.getByLabel('Search approvers of step 1').fill('crowd120@');
      await step.getByRole('checkbox', { name: /Crowd Member 120/ }).check();
      // Still listed, and chosen, once a search leaves it out.
      await step.getByLabel('Search approvers of step 1').fill('no such approver');
      await expect.poll(() => step.getByRole('checkbox').count(), { timeout: 10_000 }).toBe(2);
      expect(await step.getByRole('checkbox', { name: /Crowd Member 120/ }).isChecked()).toBe(true);
      await accessible('approval-chain-search');
      await dialog.getByRole('button', { name: 'Create policy' }).click();
      await dialog.waitFor({ state: 'detached' });
      const policies = await roster.get(`/api/policies?feature_id=${ids.mcp}`);
      const created = policies.body.data.find(
        (p: { name: string }) => p.name === 'The 120th approves archives',
      );
      expect(created.approval_steps).toEqual([
        {
          collaborators: [
            {
              id: crowd.member120,
              name: 'Crowd Member 120',
              email: 'crowd120@crowd.example.com',
            },
          ],
          end_user_groups: [{ id: crowd.watchers, name: 'Crowd watchers' }],
        },
      ]);
    });
  });

  it('opens the one-time setup page', async () => {
    await page.goto(`${roster.url}/setup`);
    await page.getByRole('heading', { name: 'Set up the console' }).waitFor();
    await look('setup');
  });
});
