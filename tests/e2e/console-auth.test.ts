/**
 * The console's server side through HTTP: password sign-in with cookie sessions, CSRF on
 * cookie writes, Read Only users, the first admin (from the environment or the setup page),
 * invitation acceptance with a password, sign-in rate limits, and serving the built console.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, invitationTokenFor, type Roster } from '../helpers/roster.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, signIn, startConsoleRoster } from './helpers.js';

const staticDir = mkdtempSync(path.join(tmpdir(), 'roster-console-static-'));
mkdirSync(path.join(staticDir, 'assets'));
writeFileSync(
  path.join(staticDir, 'index.html'),
  '<!doctype html><title>Roster console</title><div id="root"></div>',
);
writeFileSync(path.join(staticDir, 'assets/app-1234.js'), 'console.log("console")');
afterAll(() => {
  rmSync(staticDir, { recursive: true, force: true });
});

async function inviteAndAccept(roster: Roster, email: string, role: string, password: string) {
  const invited = await roster.post('/api/member_invitations', {
    name: 'Invitee',
    email,
    env_roles: ['dev', 'test', 'prod'].map((environment_type) => ({
      environment_type,
      name: role,
    })),
  });
  expect(invited.status).toBe(200);
  const token = await invitationTokenFor(roster, email);
  return {
    token,
    accepted: await roster.post(
      `/api/console/invitations/${token}/accept`,
      { name: 'Rita Reader', password },
      null,
    ),
  };
}

describe('console sessions with a first admin from the environment', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({
      console: {
        ROSTER_ADMIN_EMAIL: ADMIN_EMAIL,
        ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
        ROSTER_CONSOLE_DIR: staticDir,
        ROSTER_LOGIN_ATTEMPTS_PER_EMAIL: '3',
      },
    });
  });
  afterAll(() => roster.close());

  it('creates the first admin with Admin in every environment and signs them in with HTTP-only SameSite cookies', async () => {
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    expect(session.signIn.body.data).toMatchObject({
      member: { email: ADMIN_EMAIL, name: 'admin' },
      workspace: { name: 'Default' },
      access: 'admin',
      environment_types: ['dev', 'test', 'prod'],
      writable_environment_types: ['dev', 'test', 'prod'],
    });
    const [sessionCookie, csrfCookie] = session.setCookies;
    expect(sessionCookie).toMatch(
      /^roster_session=rss_[\w-]+; Path=\/; Max-Age=43200; SameSite=Lax; HttpOnly$/,
    );
    expect(csrfCookie).toMatch(/^roster_csrf=csrf_[\w-]+; Path=\/; Max-Age=43200; SameSite=Lax$/);
    const me = await session.request('GET', '/api/console/session');
    expect(me.status).toBe(200);
    expect(me.body.data.csrf_token).toBe(session.csrf);
    const members = await roster.get(`/api/members?email=${encodeURIComponent(ADMIN_EMAIL)}`);
    expect(members.body.data[0].roles.map((r: { role_name: string }) => r.role_name)).toEqual([
      'Admin',
      'Admin',
      'Admin',
    ]);
  });

  it('answers the API with the session cookie instead of a bearer token, recording the collaborator as actor', async () => {
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    const created = await session.request('POST', '/api/projects', {
      body: { name: 'Console project', environment_type: 'dev' },
    });
    expect(created.status).toBe(201);
    const events = await roster.get('/api/audit_events?action=project.created');
    expect(events.body.data[0].actor).toMatchObject({ type: 'member', name: 'admin' });
  });

  it('refuses a cookie write without the CSRF header (403) and with a wrong one', async () => {
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    const missing = await session.request('POST', '/api/projects', {
      body: { name: 'No csrf' },
      csrf: false,
    });
    expect(missing.status).toBe(403);
    expect(missing.body).toEqual({
      errors: [{ code: 'forbidden', title: 'Missing or wrong X-CSRF-Token header' }],
    });
    const wrong = await session.request('POST', '/api/projects', {
      body: { name: 'Wrong csrf' },
      csrf: 'csrf_not-the-token',
    });
    expect(wrong.status).toBe(403);
    const reads = await session.request('GET', '/api/projects', { csrf: false });
    expect(reads.status).toBe(200);
  });

  it('answers 401 with the spec error body for a wrong password or an unknown email', async () => {
    for (const [email, password] of [
      [ADMIN_EMAIL, 'not the password'],
      ['nobody@example.com', ADMIN_PASSWORD],
    ] as const) {
      const response = await roster.request('POST', '/api/console/session', {
        body: { email, password },
        token: null,
      });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({
        errors: [{ code: 'unauthorized', title: 'Email or password is incorrect' }],
      });
    }
  });

  it('limits failed sign-ins per email (429 with Retry-After, even with the right password) until the window passes', async () => {
    const email = 'limited@example.com';
    await inviteAndAccept(roster, email, 'Admin', 'limited password 1');
    for (let i = 0; i < 3; i += 1) {
      const failed = await roster.request('POST', '/api/console/session', {
        body: { email, password: 'guess' },
        token: null,
      });
      expect(failed.status).toBe(401);
    }
    const limited = await roster.request('POST', '/api/console/session', {
      body: { email, password: 'limited password 1' },
      token: null,
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.body.errors[0]).toMatchObject({ code: 'too_many_requests' });
    expect(limited.body.errors[0].title).toMatch(
      /^Too many sign-in attempts\. Try again in \d+ seconds\.$/,
    );
    roster.clock.advance(15 * 60 * 1000 + 1000);
    const after = await roster.request('POST', '/api/console/session', {
      body: { email, password: 'limited password 1' },
      token: null,
    });
    expect(after.status).toBe(200);
  });

  it('lets a Read Only collaborator (no Admin role) read everything and change nothing', async () => {
    const { accepted } = await inviteAndAccept(
      roster,
      'reader@example.com',
      'Analyst',
      'reader password 1',
    );
    expect(accepted.status).toBe(201);
    expect(accepted.body.data).toMatchObject({ name: 'Rita Reader', email: 'reader@example.com' });
    const session = await signIn(roster, 'reader@example.com', 'reader password 1');
    expect(session.signIn.body.data).toMatchObject({
      access: 'read_only',
      writable_environment_types: [],
    });
    expect((await session.request('GET', '/api/members')).status).toBe(200);
    expect((await session.request('GET', '/api/end_users')).status).toBe(200);
    const write = await session.request('POST', '/api/projects', { body: { name: 'Not allowed' } });
    expect(write.status).toBe(403);
    expect(write.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'Read Only console users can see everything but change nothing',
        },
      ],
    });
    const check = await session.request('POST', '/api/access/check', {
      body: {
        subject: { email: ADMIN_EMAIL },
        environment_type: 'dev',
        resource: 'recipe',
        privilege: 'read',
      },
    });
    expect(check.status).toBe(200);
  });

  it('accepts an invitation link once: a second acceptance is 410', async () => {
    const { token, accepted } = await inviteAndAccept(
      roster,
      'once@example.com',
      'Admin',
      'once password 1',
    );
    expect(accepted.status).toBe(201);
    const again = await roster.post(
      `/api/console/invitations/${token}/accept`,
      { name: 'Again', password: 'once password 2' },
      null,
    );
    expect(again.status).toBe(410);
    expect(again.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has already been accepted' }],
    });
  });

  it('refuses a password shorter than 10 characters on acceptance (400) and leaves the invitation pending', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Short',
      email: 'short@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'short@example.com');
    const response = await roster.post(
      `/api/console/invitations/${token}/accept`,
      { name: 'Short', password: 'short' },
      null,
    );
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      errors: [{ code: 'bad_request', title: 'password must NOT have fewer than 10 characters' }],
    });
    expect((await roster.get(`/invitations/${token}`, null)).status).toBe(200);
  });

  it('signs out: the cookie stops working and the cookies are cleared', async () => {
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    const out = await session.request('DELETE', '/api/console/session');
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^roster_session=; Path=\/; Max-Age=0/);
    const after = await session.request('GET', '/api/end_users');
    expect(after.status).toBe(401);
    expect(after.body).toEqual({
      errors: [{ code: 'unauthorized', title: 'Your console session has expired: sign in again' }],
    });
  });

  it('expires a session after ROSTER_SESSION_TTL_SECONDS (12 hours by default)', async () => {
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    roster.clock.advance(12 * 60 * 60 * 1000 + 1000);
    expect((await session.request('GET', '/api/console/session')).status).toBe(401);
  });

  it('serves the built console at / with the SPA fallback for browsers, hashed assets cached for good, and JSON 404s otherwise', async () => {
    const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const home = await roster.request('GET', '/', { token: null, headers: html });
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(home.text).toContain('<title>Roster console</title>');
    expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
    const deep = await roster.request('GET', '/users/42', { token: null, headers: html });
    expect(deep.status).toBe(200);
    expect(deep.text).toContain('Roster console');
    const notBrowser = await roster.request('GET', '/users/42', {
      token: null,
      headers: { accept: 'application/json' },
    });
    expect(notBrowser.status).toBe(404);
    expect(notBrowser.body).toEqual({
      errors: [{ code: 'not_found', title: 'Route GET /users/42 not found' }],
    });
    const asset = await roster.request('GET', '/assets/app-1234.js', { token: null });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await roster.request('GET', '/assets/missing.js', { token: null });
    expect(missing.status).toBe(404);
    const api = await roster.request('GET', '/api/nothing-here', { token: null });
    expect(api.status).toBe(404);
    expect(api.body).toEqual({
      errors: [{ code: 'not_found', title: 'Route GET /api/nothing-here not found' }],
    });
  });

  it('opens the acceptance page for a browser on the invitation link, and the JSON preview for API clients', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Page',
      email: 'page@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'page@example.com');
    const page = await roster.request('GET', `/invitations/${token}`, {
      token: null,
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(page.status).toBe(200);
    expect(page.text).toContain('Roster console');
    const json = await roster.request('GET', `/invitations/${token}`, {
      token: null,
      headers: { accept: 'application/json' },
    });
    expect(json.status).toBe(200);
    expect(json.body.data).toMatchObject({
      name: 'Page',
      email: 'page@example.com',
      workspace: { name: 'Default' },
    });
  });
});

describe('console setup without a first admin in the environment', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({
      console: { ROSTER_CONSOLE_DIR: staticDir, ROSTER_LOGIN_ATTEMPTS_PER_IP: '4' },
    });
  });
  afterAll(() => roster.close());

  it('asks for setup, refuses a wrong token, creates the first admin once, then says setup is done', async () => {
    expect((await roster.get('/api/console/setup', null)).body).toEqual({
      data: { setup_required: true },
    });
    const body = { name: 'First Admin', email: 'first@example.com', password: 'first password 1' };
    const wrong = await roster.post(
      '/api/console/setup',
      { ...body, admin_token: 'rst_wrong_token_000000000' },
      null,
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      errors: [{ code: 'unauthorized', title: 'The admin API token is invalid or revoked' }],
    });
    const created = await roster.post(
      '/api/console/setup',
      { ...body, admin_token: ADMIN_TOKEN },
      null,
    );
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ data: null });
    const again = await roster.post(
      '/api/console/setup',
      { ...body, admin_token: ADMIN_TOKEN },
      null,
    );
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      errors: [
        { code: 'conflict', title: 'This workspace already has a console admin: sign in instead' },
      ],
    });
    expect((await roster.get('/api/console/setup', null)).body).toEqual({
      data: { setup_required: false },
    });
    const session = await signIn(roster, 'first@example.com', 'first password 1');
    expect(session.signIn.body.data).toMatchObject({
      member: { name: 'First Admin' },
      access: 'admin',
    });
  });

  it('refuses setup with an API client limited to some environments (403)', async () => {
    const limited = await roster.post('/api/api_clients', {
      name: 'Dev only',
      environment_types: ['dev'],
    });
    expect(limited.status).toBe(201);
    const response = await roster.post(
      '/api/console/setup',
      {
        admin_token: limited.body.data.token,
        name: 'X',
        email: 'x@example.com',
        password: 'x password 12',
      },
      null,
    );
    expect(response.status).toBe(403);
    expect(response.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'Setup needs an admin API token that may manage every environment and project',
        },
      ],
    });
  });

  it('limits failed sign-ins per client IP across different emails (429)', async () => {
    for (let i = 0; i < 4; i += 1) {
      const failed = await roster.request('POST', '/api/console/session', {
        body: { email: `guess${i}@example.com`, password: 'guess' },
        token: null,
      });
      expect(failed.status).toBe(401);
    }
    const limited = await roster.request('POST', '/api/console/session', {
      body: { email: 'first@example.com', password: 'first password 1' },
      token: null,
    });
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0].code).toBe('too_many_requests');
  });
});
