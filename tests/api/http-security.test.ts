/**
 * The HTTP layer's defences, through HTTP: who the client is (X-Forwarded-For is believed only from
 * the proxies ROSTER_TRUST_PROXY names, so a client cannot pick a fresh IP to escape the per-IP
 * limits), the headers every HTML page gets (CSP with frame-ancestors, nosniff) whichever route
 * sends it, and `Cache-Control: no-store` on API answers, above all those that carry a secret.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, type ApiResponse, type Roster } from '../helpers/roster.js';
import { startConsoleRoster } from '../e2e/helpers.js';

const staticDir = mkdtempSync(path.join(tmpdir(), 'roster-security-static-'));
mkdirSync(path.join(staticDir, 'assets'));
writeFileSync(
  path.join(staticDir, 'index.html'),
  '<!doctype html><title>Roster console</title><div id="root"></div>',
);
writeFileSync(path.join(staticDir, 'assets/app-1234.js'), 'console.log("console")');
afterAll(() => {
  rmSync(staticDir, { recursive: true, force: true });
});

/** Failed console sign-ins, each for another email, each claiming to come from `forwardedFor(i)`. */
async function failedSignIns(
  roster: Roster,
  count: number,
  forwardedFor: (i: number) => string,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const response = await roster.request('POST', '/api/console/session', {
      body: { email: `guess${String(i)}.${forwardedFor(i)}@example.com`, password: 'wrong guess' },
      token: null,
      headers: { 'x-forwarded-for': forwardedFor(i) },
    });
    statuses.push(response.status);
  }
  return statuses;
}

/** A fresh forged address per attempt: 203.0.113.1, .2, … (documentation range). */
const forged = (i: number) => `203.0.113.${String(i + 1)}`;

describe('without ROSTER_TRUST_PROXY (the default)', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({
      console: {
        ROSTER_CONSOLE_DIR: staticDir,
        ROSTER_LOGIN_ATTEMPTS_PER_IP: '3',
        ROSTER_LOGIN_ATTEMPTS_PER_EMAIL: '0',
      },
      env: { ROSTER_RATE_LIMIT_PER_MINUTE: '3' },
    });
  });
  afterAll(() => roster.close());

  it('counts sign-in attempts per TCP peer, whatever X-Forwarded-For a client sends', async () => {
    // Every attempt forges another address: the limiter still sees one client.
    expect(await failedSignIns(roster, 4, forged)).toEqual([401, 401, 401, 429]);
  });

  it('counts unauthenticated requests per TCP peer for the rate limit, whatever X-Forwarded-For says', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await roster.request('GET', '/invitations/not-a-token', {
        token: null,
        headers: { 'x-forwarded-for': forged(100 + i), accept: 'application/json' },
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([404, 404, 404, 429]);
  });
});

describe.each([
  ['a hop count', '1'],
  ['the proxy address', '127.0.0.1'],
  ['a CIDR range holding the proxy', '127.0.0.0/8, 10.0.0.0/8'],
])('with ROSTER_TRUST_PROXY set to %s', (_what, value) => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({
      console: {
        ROSTER_CONSOLE_DIR: staticDir,
        ROSTER_LOGIN_ATTEMPTS_PER_IP: '3',
        ROSTER_LOGIN_ATTEMPTS_PER_EMAIL: '0',
      },
      env: { ROSTER_TRUST_PROXY: value },
    });
  });
  afterAll(() => roster.close());

  it('counts sign-in attempts per forwarded client address', async () => {
    // The test talks to the server over loopback: that peer is the trusted proxy here.
    expect(await failedSignIns(roster, 4, forged)).toEqual([401, 401, 401, 401]);
    expect(await failedSignIns(roster, 4, () => '198.51.100.7')).toEqual([401, 401, 401, 429]);
  });
});

describe('with ROSTER_TRUST_PROXY naming other proxies than the peer', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({
      console: {
        ROSTER_CONSOLE_DIR: staticDir,
        ROSTER_LOGIN_ATTEMPTS_PER_IP: '3',
        ROSTER_LOGIN_ATTEMPTS_PER_EMAIL: '0',
      },
      env: { ROSTER_TRUST_PROXY: '10.1.2.3' },
    });
  });
  afterAll(() => roster.close());

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    expect(await failedSignIns(roster, 4, forged)).toEqual([401, 401, 401, 429]);
  });
});

function expectHtmlHeaders(response: ApiResponse, what: string): void {
  expect(response.headers.get('content-type'), what).toMatch(/^text\/html/);
  const csp = response.headers.get('content-security-policy') ?? '';
  expect(csp, what).toContain("frame-ancestors 'none'");
  expect(csp, what).toContain("default-src 'self'");
  expect(csp, what).toContain("object-src 'none'");
  expect(response.headers.get('x-frame-options'), what).toBe('DENY');
  expect(response.headers.get('x-content-type-options'), what).toBe('nosniff');
}

describe('response headers', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startConsoleRoster({ console: { ROSTER_CONSOLE_DIR: staticDir } });
  });
  afterAll(() => roster.close());

  const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

  it('gives every HTML page the CSP (frame-ancestors none), X-Frame-Options and nosniff', async () => {
    const pages: [string, string][] = [
      ['the console at /', '/'],
      ['the console file served by path', '/index.html'],
      ['a console route', '/users/42'],
      ['the API reference', '/api/docs'],
      ['an SSO error page', '/sso/oidc/login?workspace=999999'],
    ];
    for (const [what, urlPath] of pages) {
      const response = await roster.request('GET', urlPath, { token: null, headers: browser });
      expect(response.status, what).toBe(urlPath.startsWith('/sso/') ? 404 : 200);
      expectHtmlHeaders(response, what);
    }
  });

  it('sends nosniff on JSON and static files too, and leaves the static files their own caching', async () => {
    const asset = await roster.request('GET', '/assets/app-1234.js', { token: null });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const members = await roster.get('/api/members');
    expect(members.headers.get('x-content-type-options')).toBe('nosniff');
    expect(members.headers.get('content-security-policy')).toBeNull();
  });

  it('forbids caching every response that carries a token shown once', async () => {
    const created = await roster.post('/api/api_clients', { name: 'Cache test' });
    expect(created.status).toBe(201);
    expect(created.body.data.token).toMatch(/^rst_/);
    const rotated = await roster.post(`/api/api_clients/${String(created.body.data.id)}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.token).toMatch(/^rst_/);
    const scim = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
    });
    expect(scim.status).toBe(201);
    expect(typeof scim.body.data.token).toBe('string');
    const scimRotated = await roster.post(
      `/api/scim_connections/${String(scim.body.data.id)}/rotate_token`,
    );
    expect(scimRotated.status).toBe(200);
    const workspace = await roster.post(
      '/platform/workspaces',
      { name: 'No-store' },
      PLATFORM_TOKEN,
    );
    expect(workspace.status).toBe(201);
    expect(workspace.body.data.admin_token).toMatch(/^rst_/);
    for (const [what, response] of [
      ['API client created', created],
      ['API client rotated', rotated],
      ['SCIM connection created', scim],
      ['SCIM token rotated', scimRotated],
      ['workspace created', workspace],
    ] as const) {
      expect(response.headers.get('cache-control'), what).toBe('no-store');
    }
  });

  it('forbids caching authenticated API reads and errors as well', async () => {
    for (const response of [
      await roster.get('/api/members'),
      await roster.get('/api/api_clients'),
      await roster.get('/api/members', null),
      await roster.get('/api/members/999999'),
    ]) {
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });
});
