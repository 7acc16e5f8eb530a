/**
 * Console sign-in through the workspace's OpenID Connect connection, against a REAL provider
 * (`oidc-provider`): collaborators by verified email, end users whose groups carry the Admin or
 * Read Only role, every refusal (nobody is created), CSRF and read-only enforcement on the API,
 * and sessions that end as soon as the grant does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { Browser, startOidcProvider, throughProvider, type OidcProvider } from './oidc-provider.js';

const PUBLIC_URL = 'http://roster.test';
const REDIRECT_URI = `${PUBLIC_URL}/sso/oidc/callback`;
const CLIENT_ID = 'roster-console-client';
const CLIENT_SECRET = 'console-sso-client-secret-0123456789';

let roster: Roster;
let idp: OidcProvider;

beforeAll(async () => {
  idp = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
  });
  roster = await startRoster({ env: { ROSTER_PUBLIC_URL: PUBLIC_URL } });
});

afterAll(async () => {
  await roster.close();
  await idp.close();
});

/** roster.test is this test's Roster: what DNS would do for a real browser. */
const onRoster = (url: string) => url.replace(PUBLIC_URL, roster.url);

function account(id: string, email: string, name = id) {
  idp.accounts.set(id, { email, name });
  return id;
}

/** A browser's console sign-in: the button, the provider's login screen, the callback. */
async function consoleSignIn(accountId: string, accept = 'application/json') {
  const browser = new Browser();
  const callbackUrl = await throughProvider(
    browser,
    `${roster.url}/api/console/sso/login`,
    accountId,
    { issuer: idp.issuer, redirectUri: REDIRECT_URI },
  );
  const response = await browser.get(onRoster(callbackUrl), accept);
  const text = await response.text();
  return { response, text, browser, callbackUrl };
}

/** The signed-in browser's API calls: cookies, and the CSRF token echoed on writes. */
async function api(
  browser: Browser,
  method: string,
  path: string,
  options: { body?: unknown; csrf?: boolean } = {},
) {
  const headers: Record<string, string> = {};
  if (options.csrf !== false) {
    const csrf = browser.cookies.get('roster_csrf');
    if (csrf !== undefined) headers['x-csrf-token'] = decodeURIComponent(csrf);
  }
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await browser.request(
    method,
    `${roster.url}${path}`,
    headers,
    options.body === undefined ? undefined : JSON.stringify(options.body),
  );
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text), text };
}

async function signedIn(accountId: string) {
  const { response, browser } = await consoleSignIn(accountId);
  expect(response.status).toBe(302);
  expect(response.headers.get('location')).toBe('/');
  const session = await api(browser, 'GET', '/api/console/session');
  expect(session.status).toBe(200);
  return { browser, session: session.body.data, response };
}

async function createEndUser(name: string, email: string, environmentTypes: string[]) {
  const res = await roster.post('/api/end_users', {
    name,
    email,
    environment_types: environmentTypes,
  });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

async function createGroup(environment: string, name: string, roles: string[], ids: number[]) {
  const res = await roster.post('/api/end_user_groups', {
    environment_type: environment,
    name,
    roles,
    end_user_ids: ids,
  });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

async function lastAudit(action: string) {
  const res = await roster.get(`/api/audit_events?action=${action}`);
  expect(res.status).toBe(200);
  return res.body.data[0];
}

describe('before an SSO connection is configured', () => {
  it('tells the sign-in page that SSO is not available', async () => {
    const res = await roster.get('/api/console/sso', null);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { available: false, login_url: null } });
  });

  it('answers 404 to a console SSO sign-in', async () => {
    const res = await new Browser().get(`${roster.url}/api/console/sso/login`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'not_found', title: 'Single sign-on is not enabled for this workspace' }],
    });
  });

  it('shows browsers a page that links back to the sign-in page', async () => {
    const res = await new Browser().get(`${roster.url}/api/console/sso/login`, 'text/html');
    expect(res.status).toBe(404);
    const html = await res.text();
    expect(html).toContain('Single sign-on is not enabled for this workspace');
    expect(html).toContain('<a href="/sign-in">Back to the sign-in page</a>');
  });
});

describe('with an SSO connection', () => {
  beforeAll(async () => {
    const res = await roster.put('/api/sso/oidc', {
      issuer_url: idp.issuer,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      allowed_domains: ['example.com'],
      groups_claim: null,
      environment_types: ['dev'],
      scopes: ['openid', 'email', 'profile'],
    });
    expect(res.status).toBe(200);
  });

  it('tells the sign-in page where SSO starts, for the only workspace with a connection', async () => {
    const res = await roster.get('/api/console/sso', null);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: { available: true, login_url: '/api/console/sso/login?workspace=1' },
    });
  });

  it('says SSO is not available for a workspace without a connection', async () => {
    const res = await roster.get('/api/console/sso?workspace=999', null);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { available: false, login_url: null } });
  });

  it('redirects to the provider with state, nonce and PKCE, binding the state to the browser', async () => {
    const res = await new Browser().get(`${roster.url}/api/console/sso/login?workspace=1`);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.origin).toBe(idp.issuer);
    expect(location.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('nonce')).toMatch(/.{20,}/);
    expect(res.headers.get('set-cookie')).toMatch(
      /^roster_sso_state=[\w-]+; Path=\/sso\/oidc\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
  });

  describe('collaborators', () => {
    beforeAll(async () => {
      await createMember(roster, {
        email: 'Ops.Admin@example.com',
        env_roles: ['dev', 'test', 'prod'].map((environment_type) => ({
          environment_type,
          name: 'Admin',
        })),
      });
      await createMember(roster, {
        email: 'analyst@example.com',
        env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
      });
    });

    it('signs a collaborator in by verified email (case-insensitive) and redirects to the console with the session cookies', async () => {
      const { response, session, browser } = await signedIn(
        account('ops', 'ops.admin@EXAMPLE.com', 'Ops'),
      );
      const cookies = response.headers.getSetCookie();
      expect(cookies).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^roster_sso_state=; Path=\/sso\/oidc\/callback; Max-Age=0;/),
          expect.stringMatching(
            /^roster_session=rss_[\w-]+; Path=\/; Max-Age=43200; SameSite=Lax; HttpOnly$/,
          ),
          expect.stringMatching(/^roster_csrf=csrf_[\w-]+; Path=\/; Max-Age=43200; SameSite=Lax$/),
        ]),
      );
      expect(session).toMatchObject({
        member: { email: 'Ops.Admin@example.com' },
        principal: 'collaborator',
        access: 'admin',
        environment_types: ['dev', 'test', 'prod'],
        writable_environment_types: ['dev', 'test', 'prod'],
      });
      const created = await api(browser, 'POST', '/api/projects', {
        body: { name: 'From SSO', environment_type: 'prod' },
      });
      expect(created.status).toBe(201);
      const event = await lastAudit('console.signed_in');
      expect(event.actor).toMatchObject({ type: 'member', id: String(session.member.id) });
      expect(event.after).toMatchObject({ method: 'oidc', issuer: idp.issuer, subject: 'ops' });
    });

    it('gives a collaborator without Admin a Read Only session whose writes get 403', async () => {
      const { session, browser } = await signedIn(account('analyst', 'analyst@example.com'));
      expect(session).toMatchObject({
        principal: 'collaborator',
        access: 'read_only',
        environment_types: ['dev', 'test', 'prod'],
        writable_environment_types: [],
      });
      expect((await api(browser, 'GET', '/api/projects')).status).toBe(200);
      const write = await api(browser, 'POST', '/api/projects', {
        body: { name: 'Nope', environment_type: 'dev' },
      });
      expect(write.status).toBe(403);
      expect(write.body).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: 'Read Only console users can see everything but change nothing',
          },
        ],
      });
    });
  });

  describe('refusals', () => {
    it('refuses an unknown email with 403, creates nobody, and audits the refusal', async () => {
      const { response, text, browser } = await consoleSignIn(
        account('stranger', 'stranger@example.com'),
      );
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title:
              'stranger@example.com is not a collaborator of this workspace, and no end user has this email. Console accounts are not created by signing in: ask an administrator to invite you.',
          },
        ],
      });
      expect(browser.cookies.has('roster_session')).toBe(false);
      const users = await roster.get('/api/end_users?email=stranger%40example.com');
      expect(users.body.data).toEqual([]);
      const members = await roster.get('/api/members?email=stranger%40example.com');
      expect(members.body.data).toEqual([]);
      const event = await lastAudit('console.sign_in_refused');
      expect(event).toMatchObject({
        actor: { type: 'system', id: 'sso_oidc' },
        target: { type: 'sso_oidc', id: '1' },
        after: { email: 'stranger@example.com', reason: 'unknown_email' },
      });
    });

    it('shows browsers the refusal as a page with a link back to the sign-in page', async () => {
      const { response, text } = await consoleSignIn(
        account('stranger2', 'stranger2@example.com'),
        'text/html',
      );
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(text).toContain('<h1>Sign-in not allowed</h1>');
      expect(text).toContain('stranger2@example.com is not a collaborator of this workspace');
      expect(text).toContain('<a href="/sign-in">Back to the sign-in page</a>');
    });

    it('refuses an email outside the allowed domains (the connection’s rule applies to the console too)', async () => {
      const { response, text } = await consoleSignIn(account('outsider', 'ops@elsewhere.org'));
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: 'Sign-in with elsewhere.org addresses is not allowed in this workspace',
          },
        ],
      });
    });

    it('refuses an end user without a console role', async () => {
      const id = await createEndUser('Plain User', 'plain@example.com', ['dev']);
      await createGroup('dev', 'No roles', [], [id]);
      const { response, text } = await consoleSignIn(account('plain', 'plain@example.com'));
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title:
              'plain@example.com has no console access: only end users in a group with the Admin or Read Only role may sign in to the console',
          },
        ],
      });
    });

    it('refuses a locked end user even in an Admin group, and audits it against the user', async () => {
      const id = await createEndUser('Locked Admin', 'locked@example.com', ['dev']);
      await createGroup('dev', 'Locked admins', ['Admin'], [id]);
      expect((await roster.post(`/api/end_users/${id}/lock`)).status).toBe(200);
      const { response, text } = await consoleSignIn(account('locked', 'locked@example.com'));
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title:
              'locked@example.com is locked in this workspace: ask an administrator to unlock it',
          },
        ],
      });
      const event = await lastAudit('console.sign_in_refused');
      expect(event).toMatchObject({
        target: { type: 'end_user', id: String(id) },
        after: { reason: 'locked' },
      });
    });

    it('refuses a replayed callback (the state is single use)', async () => {
      const { response, browser, callbackUrl } = await consoleSignIn(
        account('ops', 'ops.admin@example.com'),
      );
      expect(response.status).toBe(302);
      const replay = await browser.get(onRoster(callbackUrl));
      expect(replay.status).toBe(400);
      expect(await replay.json()).toEqual({
        errors: [
          {
            code: 'bad_request',
            title: 'This sign-in response has already been used: start the sign-in again',
          },
        ],
      });
    });
  });

  describe('end users with console roles', () => {
    let adminUserId = 0;
    let readerId = 0;
    let adminGroupId = 0;

    beforeAll(async () => {
      adminUserId = await createEndUser('Priya Prod', 'priya@example.com', ['dev', 'prod']);
      readerId = await createEndUser('Rex Reader', 'rex@example.com', ['test']);
      const helper = await createEndUser('Helper', 'helper@example.com', ['prod']);
      adminGroupId = await createGroup('prod', 'Prod admins', ['Admin'], [adminUserId, helper]);
      await createGroup('test', 'Test readers', ['Read Only'], [readerId]);
      account('priya', 'priya@example.com', 'Priya');
      account('rex', 'rex@example.com', 'Rex');
    });

    it('gives an end user in an Admin group an admin session for that environment only', async () => {
      const { session, response } = await signedIn('priya');
      expect(response.headers.getSetCookie()).toEqual(
        expect.arrayContaining([expect.stringMatching(/^roster_session=rse_[\w-]+;/)]),
      );
      expect(session).toMatchObject({
        member: { id: adminUserId, name: 'Priya Prod', email: 'priya@example.com' },
        principal: 'end_user',
        access: 'admin',
        environment_types: ['prod'],
        writable_environment_types: ['prod'],
      });
      const event = await lastAudit('console.signed_in');
      expect(event).toMatchObject({
        actor: { type: 'end_user', id: String(adminUserId), name: 'Priya Prod' },
        target: { type: 'end_user', id: String(adminUserId) },
        after: { method: 'oidc' },
      });
    });

    it('lets the end-user admin write in its environment, recorded with the end user as actor', async () => {
      const { browser } = await signedIn('priya');
      const created = await api(browser, 'POST', '/api/features', {
        body: { environment_type: 'prod', kind: 'assistant', name: 'Prod helper' },
      });
      expect(created.status).toBe(201);
      const event = await lastAudit('feature.created');
      expect(event.actor).toEqual({
        type: 'end_user',
        id: String(adminUserId),
        name: 'Priya Prod',
      });
    });

    it('refuses the end-user admin’s writes and reads in other environments (403)', async () => {
      const { browser } = await signedIn('priya');
      const write = await api(browser, 'POST', '/api/features', {
        body: { environment_type: 'dev', kind: 'assistant', name: 'Dev helper' },
      });
      expect(write.status).toBe(403);
      expect(write.body).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: 'This API client has no access to the DEV environment',
          },
        ],
      });
      const read = await api(browser, 'GET', '/api/members');
      expect(read.status).toBe(403);
    });

    it('refuses an end-user session’s write without the CSRF header', async () => {
      const { browser } = await signedIn('priya');
      const write = await api(browser, 'POST', '/api/features', {
        body: { environment_type: 'prod', kind: 'assistant', name: 'No CSRF' },
        csrf: false,
      });
      expect(write.status).toBe(403);
      expect(write.body).toEqual({
        errors: [{ code: 'forbidden', title: 'Missing or wrong X-CSRF-Token header' }],
      });
    });

    it('gives an end user in a Read Only group a read-only session whose writes get 403', async () => {
      const { session, browser } = await signedIn('rex');
      expect(session).toMatchObject({
        principal: 'end_user',
        access: 'read_only',
        environment_types: ['test'],
        writable_environment_types: [],
      });
      const read = await api(browser, 'GET', '/api/end_user_groups?environment_type=test');
      expect(read.status).toBe(200);
      const write = await api(browser, 'POST', '/api/features', {
        body: { environment_type: 'test', kind: 'assistant', name: 'Nope' },
      });
      expect(write.status).toBe(403);
      expect(write.body).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: 'Read Only console users can see everything but change nothing',
          },
        ],
      });
    });

    it('ends the session at the next request when the end user leaves the group', async () => {
      const { browser } = await signedIn('priya');
      const removed = await roster.request(
        'DELETE',
        `/api/end_user_groups/${adminGroupId}/members`,
        {
          body: { end_user_ids: [adminUserId] },
        },
      );
      expect(removed.status).toBe(200);
      const next = await api(browser, 'GET', '/api/features?environment_type=prod');
      expect(next.status).toBe(401);
      expect(next.body).toEqual({
        errors: [
          { code: 'unauthorized', title: 'Your console session has expired: sign in again' },
        ],
      });
      // The session is gone, not just refused: joining the group again does not revive it.
      await roster.post(`/api/end_user_groups/${adminGroupId}/members`, {
        end_user_ids: [adminUserId],
      });
      expect((await api(browser, 'GET', '/api/console/session')).status).toBe(401);
    });

    it('ends the session at the next request when the end user is locked', async () => {
      const { browser } = await signedIn('rex');
      expect((await roster.post(`/api/end_users/${readerId}/lock`)).status).toBe(200);
      const next = await api(browser, 'GET', '/api/end_user_groups?environment_type=test');
      expect(next.status).toBe(401);
      expect((await api(browser, 'GET', '/api/console/session')).status).toBe(401);
      const again = await consoleSignIn('rex');
      expect(again.response.status).toBe(403);
    });

    it('signs an end user out (204) and the cookie no longer works', async () => {
      const { browser } = await signedIn('priya');
      const out = await api(browser, 'DELETE', '/api/console/session');
      expect(out.status).toBe(204);
      expect(browser.cookies.has('roster_session')).toBe(false);
      const replayed = new Browser();
      expect((await api(replayed, 'GET', '/api/console/session')).status).toBe(401);
    });
  });

  describe('the portal sign-in on the same callback', () => {
    it('still provisions end users just in time and opens no console session', async () => {
      const browser = new Browser();
      const callbackUrl = await throughProvider(
        browser,
        `${roster.url}/sso/oidc/login?workspace=1`,
        account('newbie', 'newbie@example.com', 'Newbie'),
        { issuer: idp.issuer, redirectUri: REDIRECT_URI },
      );
      const response = await browser.get(onRoster(callbackUrl));
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body.data).toMatchObject({
        created: true,
        end_user: { email: 'newbie@example.com', source: 'sso' },
      });
      expect(browser.cookies.has('roster_session')).toBe(false);
    });
  });
});
