/**
 * A write's response goes out after the access index has applied it, whatever the request's
 * method. The SSO callback is a GET that creates the end user (just in time): the very next
 * decision for that user must find them, without waiting for the index's one-second poll.
 * Driven against a real OpenID provider (`oidc-provider`), as tests/api/sso.test.ts does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { Browser, startOidcProvider, throughProvider, type OidcProvider } from './oidc-provider.js';

const PUBLIC_URL = 'http://roster.test';
const REDIRECT_URI = `${PUBLIC_URL}/sso/oidc/callback`;
const CLIENT_ID = 'roster-jit-client';
const CLIENT_SECRET = 'sso-jit-client-secret-0123456789';

let roster: Roster;
let idp: OidcProvider;
let loginUrl = '';
let featureId = 0;

const onRoster = (url: string) => url.replace(PUBLIC_URL, roster.url);

beforeAll(async () => {
  idp = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
  });
  roster = await startRoster({ env: { ROSTER_PUBLIC_URL: PUBLIC_URL } });
  const sso = await roster.put('/api/sso/oidc', {
    issuer_url: idp.issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    allowed_domains: ['example.com'],
    environment_types: ['dev'],
    scopes: ['openid', 'email', 'profile'],
  });
  expect(sso.status).toBe(200);
  loginUrl = sso.body.data.login_url;
  const feature = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name: 'JIT MCP',
  });
  expect(feature.status).toBe(201);
  featureId = feature.body.data.id;
});

afterAll(async () => {
  await roster.close();
  await idp.close();
});

/** Signs a new account in through the provider; answers the callback's JSON. */
async function signIn(accountId: string, email: string) {
  idp.accounts.set(accountId, { email, name: accountId, groups: [] });
  const browser = new Browser();
  const callbackUrl = await throughProvider(browser, onRoster(loginUrl), accountId, {
    issuer: idp.issuer,
    redirectUri: REDIRECT_URI,
  });
  const response = await browser.get(onRoster(callbackUrl), 'application/json');
  expect(response.status).toBe(200);
  return (await response.json()) as { data: { created: boolean; end_user: { id: number } } };
}

describe('the SSO callback (a GET that writes)', () => {
  it('leaves the index current: the decision right after the callback finds the new user', async () => {
    // Several users: before the fix each decision raced the one-second poll and lost nearly always.
    for (let i = 1; i <= 3; i++) {
      const email = `jit${i}@example.com`;
      const signedIn = await signIn(`jit${i}`, email);
      expect(signedIn.data.created).toBe(true);

      const byId = await roster.post('/api/end_users/decisions', {
        end_user_id: signedIn.data.end_user.id,
        environment_type: 'dev',
        feature_id: featureId,
      });
      expect(byId.status).toBe(200);
      expect(byId.body.data.decision).toBe('deny');

      const check = await roster.post('/api/access/check', {
        subject: { email },
        environment_type: 'dev',
        feature_id: featureId,
      });
      expect(check.status).toBe(200);
      expect(check.body.data).toEqual({ allowed: false, paths: [] });
    }
  });
});
