/**
 * Console sign-in through the workspace's OpenID Connect connection, against a REAL provider
 * (`oidc-provider`): collaborators by verified email, end users whose groups carry the Admin or
 * Read Only role, every refusal (nobody is created), CSRF and read-only enforcement on the API,
 * what end-user sessions may not touch (collaborators, API clients, SSO, SCIM, the audit log),
 * sessions that end as soon as the grant does, and SCIM deactivation of collaborators.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, invitationTokenFor, startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient } from '../scim/helpers.js';
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

/** `emailVerified: 'absent'`: the provider sends no email_verified claim at all. */
function account(id: string, email: string, name = id, emailVerified: boolean | 'absent' = true) {
  idp.accounts.set(id, {
    email,
    name,
    email_verified: emailVerified === 'absent' ? undefined : emailVerified,
  });
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

const CONNECTION = {
  issuer_url: '',
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  allowed_domains: ['example.com'],
  groups_claim: null,
  environment_types: ['dev'],
  scopes: ['openid', 'email', 'profile'],
};

async function configure(consoleSignIn: boolean | undefined) {
  const res = await roster.put('/api/sso/oidc', {
    ...CONNECTION,
    issuer_url: idp.issuer,
    ...(consoleSignIn === undefined ? {} : { console_sign_in: consoleSignIn }),
  });
  expect(res.status).toBe(200);
  return res.body.data;
}

describe('with an SSO connection that does not sign in to the console (the default)', () => {
  beforeAll(async () => {
    const connection = await configure(undefined);
    expect(connection.console_sign_in).toBe(false);
  });

  it('tells the sign-in page that SSO is not available', async () => {
    const res = await roster.get('/api/console/sso', null);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { available: false, login_url: null } });
  });

  it('answers 404 to a console SSO sign-in, even for the workspace named', async () => {
    const res = await new Browser().get(`${roster.url}/api/console/sso/login?workspace=1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'not_found', title: 'Single sign-on is not enabled for this workspace' }],
    });
  });

  it('refuses a console sign-in whose connection turned console sign-in off before the callback', async () => {
    await configure(true);
    const browser = new Browser();
    const callbackUrl = await throughProvider(
      browser,
      `${roster.url}/api/console/sso/login`,
      account('ops-early', 'ops.admin@example.com'),
      { issuer: idp.issuer, redirectUri: REDIRECT_URI },
    );
    await configure(false);
    const response = await browser.get(onRoster(callbackUrl));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      errors: [
        {
          code: 'not_found',
          title: 'Console sign-in through single sign-on is not turned on for this workspace',
        },
      ],
    });
    expect(browser.cookies.has('roster_session')).toBe(false);
  });
});

describe('with an SSO connection', () => {
  beforeAll(async () => {
    const connection = await configure(true);
    expect(connection.console_sign_in).toBe(true);
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

  describe('forged and unreachable', () => {
    it('refuses an ID token re-signed by another key that names the admin, and opens no session', async () => {
      idp.tamper = {
        claims: (claims) => ({ ...claims, email: 'ops.admin@example.com', email_verified: true }),
        signWith: 'foreign',
      };
      try {
        const { response, text, browser } = await consoleSignIn(
          account('mallory', 'mallory@example.com'),
        );
        expect(response.status).toBe(400);
        expect(JSON.parse(text).errors[0].title).toMatch(
          /^The identity provider's answer could not be verified: .*signature/,
        );
        expect(browser.cookies.has('roster_session')).toBe(false);
        expect((await api(browser, 'GET', '/api/console/session')).status).toBe(401);
      } finally {
        idp.tamper = undefined;
      }
    });

    it('answers 502 when the provider goes down between the redirect and the callback', async () => {
      const browser = new Browser();
      const callbackUrl = await throughProvider(
        browser,
        `${roster.url}/api/console/sso/login`,
        account('ops', 'ops.admin@example.com'),
        { issuer: idp.issuer, redirectUri: REDIRECT_URI },
      );
      await idp.stop();
      try {
        const response = await browser.get(onRoster(callbackUrl));
        expect(response.status).toBe(502);
        expect((await response.json()).errors[0].title).toBe(
          `The identity provider at ${idp.issuer} is unreachable: fetch failed`,
        );
        expect(browser.cookies.has('roster_session')).toBe(false);
      } finally {
        await idp.start();
      }
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

  describe('email_verified', () => {
    beforeAll(async () => {
      await createMember(roster, {
        email: 'unverified@example.com',
        env_roles: ['dev', 'test', 'prod'].map((environment_type) => ({
          environment_type,
          name: 'Admin',
        })),
      });
    });

    it('refuses a console sign-in when the provider sends no email_verified claim, and audits it', async () => {
      const { response, text, browser } = await consoleSignIn(
        account('no-claim', 'unverified@example.com', 'No claim', 'absent'),
      );
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title:
              'The identity provider did not say that unverified@example.com is verified (email_verified must be true to sign in to the console)',
          },
        ],
      });
      expect(browser.cookies.has('roster_session')).toBe(false);
      const event = await lastAudit('console.sign_in_refused');
      expect(event).toMatchObject({
        target: { type: 'sso_oidc', id: '1' },
        after: { email: 'unverified@example.com', reason: 'email_not_verified' },
      });
    });

    it('refuses a console sign-in when the provider says email_verified: false', async () => {
      const { response } = await consoleSignIn(
        account('said-no', 'unverified@example.com', 'Said no', false),
      );
      expect(response.status).toBe(403);
    });

    it('still lets the portal sign an end user up without the claim (the portal rule)', async () => {
      const browser = new Browser();
      const callbackUrl = await throughProvider(
        browser,
        `${roster.url}/sso/oidc/login?workspace=1`,
        account('portal-no-claim', 'portal.noclaim@example.com', 'Portal', 'absent'),
        { issuer: idp.issuer, redirectUri: REDIRECT_URI },
      );
      const response = await browser.get(onRoster(callbackUrl));
      expect(response.status).toBe(200);
      expect((await response.json()).data.end_user.email).toBe('portal.noclaim@example.com');
    });
  });

  describe('end-user sessions manage end users only', () => {
    const COLLABORATOR_ONLY =
      'End users signed in to the console manage end users; collaborators, projects, API clients, SSO, SCIM connections and the audit log need a collaborator';
    const refused = { errors: [{ code: 'forbidden', title: COLLABORATOR_ONLY }] };
    let devAdminId = 0;
    let browser: Browser;
    let collaboratorId = 0;

    beforeAll(async () => {
      devAdminId = await createEndUser('Dana Dev', 'dana@example.com', ['dev']);
      await createGroup('dev', 'Dev admins', ['Admin'], [devAdminId]);
      collaboratorId = (
        await createMember(roster, {
          email: 'target.collab@example.com',
          env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
        })
      ).id;
      ({ browser } = await signedIn(account('dana', 'dana@example.com', 'Dana')));
    });

    it('has a DEV admin session (the precondition of the refusals below)', async () => {
      const session = await api(browser, 'GET', '/api/console/session');
      expect(session.body.data).toMatchObject({
        principal: 'end_user',
        writable_environment_types: ['dev'],
      });
    });

    it('returns 403 when the end user invites a collaborator (even themselves, as a PROD admin)', async () => {
      const res = await api(browser, 'POST', '/api/member_invitations', {
        body: {
          name: 'Dana',
          email: 'dana@example.com',
          env_roles: [{ environment_type: 'prod', name: 'Admin' }],
        },
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: COLLABORATOR_ONLY });
      const members = await roster.get('/api/members?email=dana%40example.com');
      expect(members.body.data).toEqual([]);
    });

    it('returns 403 when the end user changes a collaborator', async () => {
      const res = await api(browser, 'PUT', `/api/members/${collaboratorId}`, {
        body: { env_roles: [{ environment_type: 'dev', name: 'Admin' }] },
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ errors: [{ code: 403, title: COLLABORATOR_ONLY }] });
      const member = await roster.get(`/api/members/${collaboratorId}`);
      expect(member.body.data.roles).toContainEqual(
        expect.objectContaining({ environment_type: 'dev', role_name: 'Analyst' }),
      );
    });

    it.each([
      ['POST', '/api/api_clients', { name: 'Mine', environment_types: ['dev'] }],
      ['GET', '/api/api_clients', undefined],
      ['PUT', '/api/sso/oidc', { ...CONNECTION, issuer_url: 'https://evil.example.com' }],
      ['GET', '/api/sso/oidc', undefined],
      ['POST', '/api/scim_connections', { environment_type: 'dev', target: 'end_users' }],
      ['POST', '/api/scim_connections', { environment_type: 'dev', target: 'collaborators' }],
      ['GET', '/api/scim_connections', undefined],
      ['GET', '/api/audit_events', undefined],
      ['GET', '/api/members', undefined],
      ['POST', '/api/user_groups', { user_group: { name: 'Mine' } }],
      ['GET', '/api/roles', undefined],
      ['POST', '/api/projects', { name: 'Mine', environment_type: 'dev' }],
      ['GET', '/api/projects', undefined],
    ])('returns 403 to %s %s', async (method, path, body) => {
      const res = await api(browser, method, path, body === undefined ? {} : { body });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(refused);
    });

    it("returns 403 when the end user asks about a collaborator's environment privileges", async () => {
      const res = await api(browser, 'POST', '/api/access/check', {
        body: {
          subject: { member_id: collaboratorId },
          environment_type: 'dev',
          resource: 'folder',
          privilege: 'view',
        },
      });
      expect(res.status).toBe(403);
      expect(res.body).toEqual(refused);
    });

    it('still manages end users, groups and features of its environment', async () => {
      const user = await api(browser, 'POST', '/api/end_users', {
        body: { name: 'Dev Helper', email: 'dev.helper@example.com', environment_types: ['dev'] },
      });
      expect(user.status).toBe(201);
      const group = await api(browser, 'POST', '/api/end_user_groups', {
        body: {
          environment_type: 'dev',
          name: 'Dev helpers',
          roles: [],
          end_user_ids: [user.body.data.id],
        },
      });
      expect(group.status).toBe(201);
      const feature = await api(browser, 'POST', '/api/features', {
        body: { environment_type: 'dev', kind: 'assistant', name: 'Dev assistant' },
      });
      expect(feature.status).toBe(201);
      const list = await api(browser, 'GET', '/api/end_users?environment_type=dev');
      expect(list.status).toBe(200);
    });
  });

  describe('collaborators deactivated over SCIM', () => {
    const EMAIL = 'scim.person@example.com';
    const PASSWORD = 'correct horse battery staple';
    let scim: ReturnType<typeof scimClient>;
    let memberId = '';

    async function passwordSignIn(browser = new Browser()) {
      const res = await api(browser, 'POST', '/api/console/session', {
        body: { email: EMAIL, password: PASSWORD },
      });
      return { ...res, browser };
    }

    beforeAll(async () => {
      const invited = await roster.post('/api/member_invitations', {
        name: 'Scim Person',
        email: EMAIL,
        env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
      });
      expect(invited.status).toBe(200);
      const token = await invitationTokenFor(roster, EMAIL);
      const accepted = await roster.post(
        `/api/console/invitations/${token}/accept`,
        { name: 'Scim Person', password: PASSWORD },
        null,
      );
      expect(accepted.status).toBe(201);
      scim = scimClient(roster, await createConnection(roster, 'dev', 'collaborators'));
      // The identity provider takes the collaborator over (adopted by email).
      const adopted = await scim.request('POST', '/Users', { userName: EMAIL, active: true });
      expect(adopted.status).toBe(201);
      memberId = adopted.body.id;
      account('scim-person', EMAIL, 'Scim Person');
    });

    const setActive = async (active: boolean) => {
      const res = await scim.request('PATCH', `/Users/${memberId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: active }],
      });
      expect(res.status).toBeLessThan(300);
    };

    it('ends an open session at the next request once the connection deactivates the collaborator', async () => {
      const signedInNow = await passwordSignIn();
      expect(signedInNow.status).toBe(200);
      const browser = signedInNow.browser;
      expect((await api(browser, 'GET', '/api/end_users')).status).toBe(200);
      await setActive(false);
      const next = await api(browser, 'GET', '/api/end_users');
      expect(next.status).toBe(401);
      expect(next.body).toEqual({
        errors: [
          { code: 'unauthorized', title: 'Your console session has expired: sign in again' },
        ],
      });
      // Deleted, not just refused: reactivating does not revive it.
      await setActive(true);
      expect((await api(browser, 'GET', '/api/console/session')).status).toBe(401);
      await setActive(false);
    });

    it('refuses the password sign-in of a deactivated collaborator with 403', async () => {
      const res = await passwordSignIn();
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: `${EMAIL} has been deactivated by your identity provider (SCIM) and cannot sign in to the console: ask an administrator`,
          },
        ],
      });
      expect(res.browser.cookies.has('roster_session')).toBe(false);
    });

    it('refuses the SSO sign-in of a deactivated collaborator with 403, and audits it', async () => {
      const { response, text } = await consoleSignIn('scim-person');
      expect(response.status).toBe(403);
      expect(JSON.parse(text)).toEqual({
        errors: [
          {
            code: 'forbidden',
            title: `${EMAIL} has been deactivated by your identity provider (SCIM) and cannot sign in to the console: ask an administrator`,
          },
        ],
      });
      const event = await lastAudit('console.sign_in_refused');
      expect(event).toMatchObject({
        target: { type: 'member', id: memberId },
        after: { email: EMAIL, reason: 'scim_deactivated' },
      });
    });

    it('lets the collaborator sign in again once the connection reactivates them', async () => {
      await setActive(true);
      expect((await passwordSignIn()).status).toBe(200);
      const { response } = await consoleSignIn('scim-person');
      expect(response.status).toBe(302);
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

describe('the console SSO start and the per-IP request limit', () => {
  let limited: Roster;
  beforeAll(async () => {
    limited = await startRoster({ env: { ROSTER_RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('answers 429 to the sixth start within a minute (each start would store a login attempt)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1)
      statuses.push((await new Browser().get(`${limited.url}/api/console/sso/login`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404]);
    const sixth = await new Browser().get(`${limited.url}/api/console/sso/login`);
    expect(sixth.status).toBe(429);
    expect(await sixth.json()).toEqual({
      errors: [
        {
          code: 'too_many_requests',
          title: expect.stringMatching(
            /^Rate limit exceeded: 5 requests per minute\. Retry in \d+ s\.$/,
          ),
        },
      ],
    });
  });
});
