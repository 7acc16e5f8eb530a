/**
 * SSO sign-up (just in time) with OpenID Connect, against a REAL OpenID provider (`oidc-provider`)
 * on 127.0.0.1: configuration API, the login → provider → callback flow driven over HTTP like a
 * browser would (cookies, redirects), provisioning, groups from the claim, and every refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import {
  Browser,
  startOidcProvider,
  throughProvider as throughTheProvider,
  type Account,
  type OidcProvider,
} from './oidc-provider.js';

const PUBLIC_URL = 'http://roster.test';
const REDIRECT_URI = `${PUBLIC_URL}/sso/oidc/callback`;
const CLIENT_ID = 'roster-test-client';
const CLIENT_SECRET = 'sso-test-client-secret-0123456789';

let roster: Roster;
let idp: OidcProvider;
let issuer: string;
/** The provider's directory: tests edit it between sign-ins (a user moving between groups). */
let accounts: Map<string, Account>;

beforeAll(async () => {
  idp = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
  });
  issuer = idp.issuer;
  accounts = idp.accounts;
  roster = await startRoster({ env: { ROSTER_PUBLIC_URL: PUBLIC_URL } });
});

afterAll(async () => {
  await roster.close();
  await idp.close();
});

/** roster.test is this test's Roster: what DNS would do for a real browser. */
const onRoster = (url: string) => url.replace(PUBLIC_URL, roster.url);

let loginUrl = '';

/** Starts a portal sign-in and follows it through the provider's login screen, as `accountId`. */
function throughProvider(browser: Browser, accountId: string): Promise<string> {
  return throughTheProvider(browser, onRoster(loginUrl), accountId, {
    issuer,
    redirectUri: REDIRECT_URI,
  });
}

async function signIn(accountId: string, accept = 'application/json', browser = new Browser()) {
  const callbackUrl = await throughProvider(browser, accountId);
  const response = await browser.get(onRoster(callbackUrl), accept);
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: accept.includes('json') ? JSON.parse(text) : undefined,
    callbackUrl,
    browser,
  };
}

async function endUserByEmail(email: string) {
  const res = await roster.get(`/api/end_users?email=${encodeURIComponent(email)}`);
  expect(res.status).toBe(200);
  return res.body;
}

function validConfig(overrides: Record<string, unknown> = {}) {
  return {
    issuer_url: issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    allowed_domains: ['Example.com', 'corp.example.org'],
    groups_claim: 'groups',
    environment_types: ['dev', 'test'],
    scopes: ['openid', 'email', 'profile', 'groups'],
    ...overrides,
  };
}

const endUserShape = (fields: Record<string, unknown>) => ({
  id: expect.any(Number),
  name: expect.any(String),
  avatar_url: null,
  external_id: null,
  mfa_enabled: false,
  created_at: expect.any(String),
  updated_at: expect.any(String),
  ...fields,
});

describe('GET /api/sso/oidc before configuration', () => {
  it('answers 404 when the workspace has no connection', async () => {
    const res = await roster.get('/api/sso/oidc');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'not_found',
          title: 'No OpenID Connect connection is configured for this workspace',
        },
      ],
    });
  });

  it('answers 404 to a sign-in for a workspace without SSO', async () => {
    const res = await new Browser().get(`${roster.url}/sso/oidc/login?workspace=1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'not_found', title: 'Single sign-on is not enabled for this workspace' }],
    });
  });
});

describe('PUT /api/sso/oidc validation', () => {
  it.each([
    [{ issuer_url: 'not a url' }, 'issuer_url must match pattern "^[Hh][Tt][Tt][Pp][Ss]?://"'],
    [{ issuer_url: 'https://idp example.com' }, 'issuer_url must match format "uri"'],
    [
      { issuer_url: 'http://idp.example.com' },
      'issuer_url must use https (http is accepted only for localhost, for development)',
    ],
    [
      { issuer_url: 'https://idp.example.com/?tenant=1' },
      'issuer_url must not have a query or a fragment',
    ],
    [
      { issuer_url: 'ftp://idp.example.com' },
      'issuer_url must match pattern "^[Hh][Tt][Tt][Pp][Ss]?://"',
    ],
    [{ allowed_domains: ['@example.com'] }, 'allowed_domains.0 must match pattern'],
    [{ allowed_domains: [] }, 'allowed_domains must NOT have fewer than 1 items'],
    [{ environment_types: ['staging'] }, 'Environment staging not found'],
    [{ environment_types: [] }, 'environment_types must NOT have fewer than 1 items'],
    [{ scopes: ['email', 'profile'] }, 'scopes must include openid'],
    [{ groups_claim: 'has space' }, 'groups_claim must match pattern'],
    [{ client_id: '' }, 'client_id must NOT have fewer than 1 characters'],
    [
      { client_secret: undefined },
      'client_secret is required when the connection is first configured',
    ],
    [{ enabled: 'yes' }, 'enabled must be boolean'],
  ])('returns 400 for %j', async (overrides, message) => {
    const res = await roster.put('/api/sso/oidc', validConfig(overrides));
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect(res.body.errors[0].title).toContain(message);
  });

  it('returns 401 without an API token', async () => {
    const res = await roster.put('/api/sso/oidc', validConfig(), null);
    expect(res.status).toBe(401);
    expect(res.body.errors[0].code).toBe('unauthorized');
  });

  it('still has no connection after refused configurations', async () => {
    expect((await roster.get('/api/sso/oidc')).status).toBe(404);
  });
});

describe('configuring the connection', () => {
  it('stores the connection and never returns the client secret', async () => {
    const res = await roster.put('/api/sso/oidc', validConfig());
    expect(res.status).toBe(200);
    const expected = {
      issuer_url: issuer,
      client_id: CLIENT_ID,
      client_secret_set: true,
      allowed_domains: ['example.com', 'corp.example.org'],
      groups_claim: 'groups',
      environment_types: ['dev', 'test'],
      scopes: ['openid', 'email', 'profile', 'groups'],
      enabled: true,
      console_sign_in: false,
      redirect_uri: REDIRECT_URI,
      login_url: `${PUBLIC_URL}/sso/oidc/login?workspace=1`,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    };
    expect(res.body).toEqual({ data: expected });
    expect(res.text).not.toContain(CLIENT_SECRET);
    const read = await roster.get('/api/sso/oidc');
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ data: expected });
    expect(read.text).not.toContain(CLIENT_SECRET);
    loginUrl = res.body.data.login_url;
  });

  it('audits the change without the secret', async () => {
    const res = await roster.get('/api/audit_events?action=sso.oidc_created');
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({
      action: 'sso.oidc_created',
      target: { type: 'sso_oidc', id: '1' },
    });
    expect(res.text).not.toContain(CLIENT_SECRET);
    expect(res.text).toContain('client_secret_changed');
  });

  it('keeps the stored secret when a later PUT leaves it out', async () => {
    const res = await roster.put('/api/sso/oidc', validConfig({ client_secret: undefined }));
    expect(res.status).toBe(200);
    expect(res.body.data.client_secret_set).toBe(true);
    // The stored secret still works: proved by the sign-ins below, which authenticate with it.
  });
});

describe('who may manage the connection', () => {
  const FULL_SCOPE_ONLY = {
    errors: [
      {
        code: 'forbidden',
        title:
          'This needs full workspace access: a console admin of every environment, or an API client that may manage every environment and project',
      },
    ],
  };

  async function client(scope: Record<string, unknown>) {
    const res = await roster.post('/api/api_clients', { name: 'Scoped', ...scope });
    expect(res.status).toBe(201);
    return res.body.data.token as string;
  }

  it('returns 403 to an API client limited to one environment, for PUT and DELETE, and changes nothing', async () => {
    const devOnly = await client({ environment_types: ['dev'] });
    const before = await roster.get('/api/sso/oidc');
    const put = await roster.put(
      '/api/sso/oidc',
      validConfig({
        issuer_url: 'https://evil.example.com',
        environment_types: ['dev'],
        console_sign_in: true,
      }),
      devOnly,
    );
    expect(put.status).toBe(403);
    expect(put.body).toEqual(FULL_SCOPE_ONLY);
    const removed = await roster.delete('/api/sso/oidc', devOnly);
    expect(removed.status).toBe(403);
    expect(removed.body).toEqual(FULL_SCOPE_ONLY);
    expect((await roster.get('/api/sso/oidc')).body).toEqual(before.body);
  });

  it('returns 403 to an API client with every environment but only some projects', async () => {
    const project = await roster.post('/api/projects', {
      name: 'SSO scope',
      environment_type: 'dev',
    });
    expect(project.status).toBe(201);
    const limited = await client({
      environment_types: ['dev', 'test', 'prod'],
      project_ids: [project.body.data.id],
    });
    const put = await roster.put(
      '/api/sso/oidc',
      validConfig({ client_secret: undefined }),
      limited,
    );
    expect(put.status).toBe(403);
    expect(put.body).toEqual(FULL_SCOPE_ONLY);
  });

  it('lets an API client with every environment and project turn console sign-in on and off', async () => {
    const full = await client({ environment_types: ['dev', 'test', 'prod'] });
    const on = await roster.put(
      '/api/sso/oidc',
      validConfig({ client_secret: undefined, console_sign_in: true }),
      full,
    );
    expect(on.status).toBe(200);
    expect(on.body.data.console_sign_in).toBe(true);
    expect((await roster.get('/api/sso/oidc')).body.data.console_sign_in).toBe(true);
    const event = (await roster.get('/api/audit_events?action=sso.oidc_updated')).body.data[0];
    expect(event.before.console_sign_in).toBe(false);
    expect(event.after.console_sign_in).toBe(true);
    // A PUT without the field turns it off again: console sign-in is opt-in.
    const off = await roster.put('/api/sso/oidc', validConfig({ client_secret: undefined }), full);
    expect(off.status).toBe(200);
    expect(off.body.data.console_sign_in).toBe(false);
  });
});

describe('signing in', () => {
  let engineeringId = 0;
  let supportId = 0;
  let aliceId = 0;

  beforeAll(async () => {
    // Groups need a member: a manual user founds them.
    const founder = await roster.post('/api/end_users', {
      name: 'Founder',
      email: 'founder@example.com',
      environment_types: ['dev', 'test'],
    });
    expect(founder.status).toBe(201);
    const engineering = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Engineering',
      description: 'From the identity provider',
      managed_by: 'external',
      end_user_ids: [founder.body.data.id],
    });
    expect(engineering.status).toBe(201);
    engineeringId = engineering.body.data.id;
    const support = await roster.post('/api/end_user_groups', {
      environment_type: 'test',
      name: 'Support',
      description: 'Managed in Roster',
      end_user_ids: [founder.body.data.id],
    });
    expect(support.status).toBe(201);
    supportId = support.body.data.id;
    // A group of an environment the connection does not give: never joined through SSO.
    const prodFounder = await roster.post('/api/end_users', {
      name: 'P',
      email: 'p@example.com',
      environment_types: ['prod'],
    });
    const prodGroup = await roster.post('/api/end_user_groups', {
      environment_type: 'prod',
      name: 'engineering',
      description: 'Production engineers',
      managed_by: 'external',
      end_user_ids: [prodFounder.body.data.id],
    });
    expect(prodGroup.status).toBe(201);
    accounts.set('alice', {
      email: 'Alice@Example.com',
      name: 'Alice Liddell',
      groups: ['engineering', 'support', 'Ghosts'],
    });
  });

  it('creates the end user on first sign-in, with the configured environments and the claimed groups', async () => {
    const res = await signIn('alice');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        created: true,
        end_user: endUserShape({
          name: 'Alice Liddell',
          email: 'Alice@Example.com',
          status: 'active',
          source: 'sso',
          environment_types: ['dev', 'test'],
        }),
        groups: [
          { id: engineeringId, name: 'Engineering', environment_type: 'dev' },
          { id: supportId, name: 'Support', environment_type: 'test' },
        ],
      },
    });
    aliceId = res.body.data.end_user.id;

    const listed = await endUserByEmail('alice@example.com');
    expect(listed.total).toBe(1);
    expect(listed.data[0]).toEqual(
      endUserShape({
        id: aliceId,
        name: 'Alice Liddell',
        email: 'Alice@Example.com',
        status: 'active',
        source: 'sso',
        environment_types: ['dev', 'test'],
      }),
    );
    const detail = await roster.get(`/api/end_users/${aliceId}`);
    expect(detail.status).toBe(200);
    expect(
      detail.body.data.groups.map(
        (g: { name: string; environment_type: string; system: boolean }) => [
          g.name,
          g.environment_type,
          g.system,
        ],
      ),
    ).toEqual([
      ['Everyone', 'dev', true],
      ['Everyone', 'test', true],
      ['Engineering', 'dev', false],
      ['Support', 'test', false],
    ]);
  });

  it('audits the creation and the sign-in, naming the groups it ignored', async () => {
    const res = await roster.get(`/api/audit_events?target_type=end_user&target_id=${aliceId}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual([
      'end_user.signed_in',
      'end_user.created',
    ]);
    expect(res.body.data[0]).toMatchObject({ actor: { type: 'system', id: 'sso_oidc' } });
    expect(res.text).toContain('Ghosts');
  });

  it('finds the same end user on the second sign-in', async () => {
    const res = await signIn('alice');
    expect(res.status).toBe(200);
    expect(res.body.data.created).toBe(false);
    expect(res.body.data.end_user.id).toBe(aliceId);
    expect((await endUserByEmail('alice@example.com')).total).toBe(1);
  });

  it('follows the claim for external groups and leaves manual groups alone', async () => {
    accounts.set('alice', { email: 'alice@example.com', name: 'Alice Liddell', groups: [] });
    const res = await signIn('alice');
    expect(res.status).toBe(200);
    // Engineering (external) is left because the claim no longer names it; Support (manual) stays.
    expect(res.body.data.groups).toEqual([
      { id: supportId, name: 'Support', environment_type: 'test' },
    ]);
    const members = await roster.get(`/api/end_user_groups/${engineeringId}/members`);
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual([
      'founder@example.com',
    ]);

    accounts.set('alice', {
      email: 'alice@example.com',
      name: 'Alice Liddell',
      groups: ['ENGINEERING'],
    });
    const again = await signIn('alice');
    expect(again.body.data.groups).toEqual([
      { id: engineeringId, name: 'Engineering', environment_type: 'dev' },
      { id: supportId, name: 'Support', environment_type: 'test' },
    ]);
  });

  it('does not give back an environment an administrator revoked', async () => {
    const revoked = await roster.put(`/api/end_users/${aliceId}/environments`, {
      environment_type: 'test',
      access: false,
      confirm: true,
    });
    expect(revoked.status).toBe(200);
    const res = await signIn('alice');
    expect(res.status).toBe(200);
    expect(res.body.data.end_user.environment_types).toEqual(['dev']);
    expect(res.body.data.groups).toEqual([
      { id: engineeringId, name: 'Engineering', environment_type: 'dev' },
    ]);
  });

  it('links an existing end user by email, case-insensitively, keeping its source', async () => {
    const manual = await roster.post('/api/end_users', {
      name: 'Bob',
      email: 'BOB@corp.example.org',
      environment_types: ['prod'],
    });
    expect(manual.status).toBe(201);
    accounts.set('bob', { email: 'bob@corp.example.org', name: 'Robert' });
    const res = await signIn('bob');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      created: false,
      end_user: endUserShape({
        id: manual.body.data.id,
        name: 'Bob',
        email: 'BOB@corp.example.org',
        status: 'active',
        source: 'manual',
        environment_types: ['prod'],
      }),
      groups: [],
    });
  });

  it('refuses an email domain that is not allowed, with 403 and no user created', async () => {
    accounts.set('mallory', {
      email: 'mallory@evil.example.net',
      name: 'Mallory',
      groups: ['Engineering'],
    });
    const res = await signIn('mallory');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'Sign-in with evil.example.net addresses is not allowed in this workspace',
        },
      ],
    });
    expect((await endUserByEmail('mallory')).total).toBe(0);
    const audit = await roster.get('/api/audit_events?action=sso.sign_in_refused');
    expect(audit.body.data).toHaveLength(1);
  });

  it('does not treat a subdomain of an allowed domain as allowed', async () => {
    accounts.set('sub', { email: 'eve@sub.example.com', name: 'Eve' });
    const res = await signIn('sub');
    expect(res.status).toBe(403);
    expect(res.body.errors[0].title).toBe(
      'Sign-in with sub.example.com addresses is not allowed in this workspace',
    );
  });

  it('shows browsers a 403 page for a refused domain', async () => {
    const res = await signIn('mallory', 'text/html,application/xhtml+xml');
    expect(res.status).toBe(403);
    expect(res.text).toContain('<h1>Sign-in not allowed</h1>');
    expect(res.text).toContain(
      'Sign-in with evil.example.net addresses is not allowed in this workspace',
    );
  });

  it('refuses an address the provider says is not verified', async () => {
    accounts.set('unverified', {
      email: 'carol@example.com',
      name: 'Carol',
      email_verified: false,
    });
    const res = await signIn('unverified');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title:
            'The identity provider has not verified carol@example.com: verify the address there first',
        },
      ],
    });
    expect((await endUserByEmail('carol@example.com')).total).toBe(0);
  });

  it('keeps a locked user locked and refuses the sign-in', async () => {
    const locked = await roster.post(`/api/end_users/${aliceId}/lock`);
    expect(locked.status).toBe(200);
    const res = await signIn('alice');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'alice@example.com is locked in this workspace: ask an administrator to unlock it',
        },
      ],
    });
    const detail = await roster.get(`/api/end_users/${aliceId}`);
    expect(detail.body.data.status).toBe('locked');
    expect(detail.body.data.recent_activity[0].action).toBe('end_user.sign_in_refused');
    expect((await roster.post(`/api/end_users/${aliceId}/unlock`)).status).toBe(200);
  });

  it('activates an invited end user, whose address the provider has just proved', async () => {
    const invited = await roster.post('/api/end_users/invitations', {
      name: 'Ivan',
      email: 'ivan@example.com',
      environment_types: ['dev'],
    });
    expect(invited.status).toBe(201);
    expect(invited.body.data.status).toBe('invited');
    accounts.set('ivan', { email: 'ivan@example.com', name: 'Ivan' });
    const res = await signIn('ivan');
    expect(res.status).toBe(200);
    expect(res.body.data.created).toBe(false);
    expect(res.body.data.end_user).toEqual(
      endUserShape({
        id: invited.body.data.id,
        name: 'Ivan',
        email: 'ivan@example.com',
        status: 'active',
        source: 'invitation',
        environment_types: ['dev'],
      }),
    );
  });

  it('shows browsers a welcome page', async () => {
    accounts.set('dana', { email: 'dana@example.com', name: 'Dana <b>' });
    const res = await signIn('dana', 'text/html');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h1>Welcome</h1>');
    expect(res.text).toContain('You are signed in as dana@example.com.');
  });
});

describe('state', () => {
  it('refuses a replayed callback', async () => {
    accounts.set('erin', { email: 'erin@example.com', name: 'Erin' });
    const browser = new Browser();
    const callbackUrl = await throughProvider(browser, 'erin');
    const first = await browser.get(onRoster(callbackUrl));
    expect(first.status).toBe(200);
    // The replay carries the state cookie too (an attacker who copied both).
    const state = new URL(callbackUrl).searchParams.get('state') ?? '';
    const replay = await fetch(onRoster(callbackUrl), {
      headers: { accept: 'application/json', cookie: `roster_sso_state=${state}` },
    });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: 'This sign-in response has already been used: start the sign-in again',
        },
      ],
    });
    expect((await endUserByEmail('erin@example.com')).total).toBe(1);
  });

  it('refuses a callback from a browser that did not start the sign-in', async () => {
    accounts.set('frank', { email: 'frank@example.com', name: 'Frank' });
    const callbackUrl = await throughProvider(new Browser(), 'frank');
    const res = await new Browser().get(onRoster(callbackUrl));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      errors: [
        {
          code: 'bad_request',
          title:
            'This sign-in was started in another browser (or its cookie was lost): start the sign-in again from this browser',
        },
      ],
    });
    expect((await endUserByEmail('frank@example.com')).total).toBe(0);
  });

  it('refuses a state that expired (after 10 minutes)', async () => {
    accounts.set('grace', { email: 'grace@example.com', name: 'Grace' });
    const browser = new Browser();
    const callbackUrl = await throughProvider(browser, 'grace');
    roster.clock.advance(11 * 60 * 1000);
    const res = await browser.get(onRoster(callbackUrl));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: 'This sign-in took too long and has expired: start the sign-in again',
        },
      ],
    });
  });

  it('refuses an unknown state', async () => {
    const res = await new Browser().get(`${roster.url}/sso/oidc/callback?code=abc&state=forged`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      errors: [
        { code: 'bad_request', title: 'This sign-in link is not valid: start the sign-in again' },
      ],
    });
  });

  it('refuses a code that was tampered with', async () => {
    accounts.set('heidi', { email: 'heidi@example.com', name: 'Heidi' });
    const browser = new Browser();
    const callbackUrl = new URL(await throughProvider(browser, 'heidi'));
    callbackUrl.searchParams.set('code', 'tampered');
    const res = await browser.get(onRoster(callbackUrl.href));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.errors[0].code).toBe('bad_request');
    expect(body.errors[0].title).toMatch(/^The identity provider's answer could not be verified: /);
    expect((await endUserByEmail('heidi@example.com')).total).toBe(0);
  });
});

describe('the ID token and the code', () => {
  it("refuses an ID token signed by a key outside the provider's JWKS (a forgery)", async () => {
    accounts.set('ivy', { email: 'ivy@example.com', name: 'Ivy' });
    idp.tamper = {
      claims: (claims) => ({ ...claims, email: 'admin@example.com', sub: 'admin' }),
      signWith: 'foreign',
    };
    try {
      const res = await signIn('ivy');
      expect(res.status).toBe(400);
      expect(res.body.errors[0].code).toBe('bad_request');
      expect(res.body.errors[0].title).toMatch(
        /^The identity provider's answer could not be verified: .*signature/,
      );
    } finally {
      idp.tamper = undefined;
    }
    expect((await endUserByEmail('admin@example.com')).total).toBe(0);
    expect((await endUserByEmail('ivy@example.com')).total).toBe(0);
  });

  it('accepts the same token signed by the provider (the check is the signature)', async () => {
    accounts.set('ivo', { email: 'ivo@example.com', name: 'Ivo' });
    idp.tamper = { signWith: 'provider' };
    try {
      expect((await signIn('ivo')).status).toBe(200);
    } finally {
      idp.tamper = undefined;
    }
  });

  it("refuses an ID token whose nonce is not the sign-in's, even signed by the provider", async () => {
    accounts.set('jack', { email: 'jack@example.com', name: 'Jack' });
    idp.tamper = {
      claims: (claims) => ({ ...claims, nonce: 'another-nonce' }),
      signWith: 'provider',
    };
    try {
      const res = await signIn('jack');
      expect(res.status).toBe(400);
      expect(res.body.errors[0].title).toMatch(
        /^The identity provider's answer could not be verified: .*"nonce"/,
      );
    } finally {
      idp.tamper = undefined;
    }
    expect((await endUserByEmail('jack@example.com')).total).toBe(0);
  });

  it('refuses a code replayed on another sign-in (PKCE, and the provider spends codes once)', async () => {
    accounts.set('kate', { email: 'kate@example.com', name: 'Kate' });
    accounts.set('kim', { email: 'kim@example.com', name: 'Kim' });
    const victim = await signIn('kate');
    expect(victim.status).toBe(200);
    const code = new URL(victim.callbackUrl).searchParams.get('code') ?? '';
    // The attacker's own sign-in, finished with the victim's (already spent) code.
    const browser = new Browser();
    const callbackUrl = new URL(await throughProvider(browser, 'kim'));
    callbackUrl.searchParams.set('code', code);
    const res = await browser.get(onRoster(callbackUrl.href));
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].title).toMatch(
      /^The identity provider's answer could not be verified: /,
    );
    expect((await endUserByEmail('kim@example.com')).total).toBe(0);
  });

  it('answers 502 when the provider goes down between the redirect and the callback', async () => {
    accounts.set('liam', { email: 'liam@example.com', name: 'Liam' });
    const browser = new Browser();
    const callbackUrl = await throughProvider(browser, 'liam');
    await idp.stop();
    try {
      const res = await browser.get(onRoster(callbackUrl));
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({
        errors: [
          {
            code: expect.any(String),
            title: `The identity provider at ${issuer} is unreachable: fetch failed`,
          },
        ],
      });
    } finally {
      await idp.start();
    }
    expect((await endUserByEmail('liam@example.com')).total).toBe(0);
    // Back up, a new sign-in works.
    expect((await signIn('liam')).status).toBe(200);
  });
});

describe('disabling and removing the connection', () => {
  it('refuses sign-ins while the connection is disabled', async () => {
    const disabled = await roster.put(
      '/api/sso/oidc',
      validConfig({ client_secret: undefined, enabled: false }),
    );
    expect(disabled.status).toBe(200);
    expect(disabled.body.data.enabled).toBe(false);
    const res = await new Browser().get(onRoster(loginUrl));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      errors: [{ code: 'not_found', title: 'Single sign-on is not enabled for this workspace' }],
    });
  });

  it('deletes the connection with 204, then answers 404', async () => {
    const res = await roster.delete('/api/sso/oidc');
    expect(res.status).toBe(204);
    expect((await roster.get('/api/sso/oidc')).status).toBe(404);
    expect((await roster.delete('/api/sso/oidc')).status).toBe(404);
    expect((await new Browser().get(onRoster(loginUrl))).status).toBe(404);
  });
});
