/**
 * A REAL OpenID provider (`oidc-provider`) on 127.0.0.1 for the SSO tests, and a browser-like
 * HTTP client (cookie jar, redirects followed by hand) to drive sign-ins through it. The login
 * screen is a real interaction, finished with the account the "browser" names (`?login=<id>`,
 * or typed into the small login form a real browser gets).
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { expect } from 'vitest';

export interface Account {
  email: string;
  /** true unless said; set to undefined explicitly and the provider sends no such claim. */
  email_verified?: boolean | undefined;
  name: string;
  groups?: string[];
}

/** What an attacker (or a broken provider) does to the next ID tokens the token endpoint issues. */
export interface IdTokenTamper {
  /** Changes the token's claims (e.g. names another email, or another nonce). */
  claims?: (claims: Record<string, unknown>) => Record<string, unknown>;
  /**
   * `provider`: re-signed with the provider's own key (only the claims change); `foreign`: signed
   * with a key the provider's JWKS does not hold, under the provider's key id (a forgery).
   */
  signWith: 'provider' | 'foreign';
}

export interface OidcProvider {
  issuer: string;
  /** The provider's directory: tests edit it between sign-ins. */
  accounts: Map<string, Account>;
  /** Set to alter the ID tokens the token endpoint answers; undefined answers them untouched. */
  tamper: IdTokenTamper | undefined;
  /** The provider goes down (connections refused) until `start()`, on the same address. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const SIGNING_KID = 'test-provider-key';

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An RS256 JWT, signed by hand so a test can sign with any key. */
function signJwt(claims: Record<string, unknown>, key: KeyObject): string {
  const input = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: SIGNING_KID }))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(input).sign(key);
  return `${input}.${base64url(signature)}`;
}

function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export async function startOidcProvider(client: {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}): Promise<OidcProvider> {
  const accounts = new Map<string, Account>();
  const server = http.createServer();
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  // The provider's own signing key (known to the test, so it can re-sign altered claims) and a
  // key it has never published (what a forger signs with).
  const own = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    jwks: {
      keys: [
        { ...own.privateKey.export({ format: 'jwk' }), kid: SIGNING_KID, use: 'sig', alg: 'RS256' },
      ],
    },
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: [client.redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    cookies: { keys: ['sso-test-cookie-key'] },
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (_ctx: KoaContextWithOIDC, interaction: { uid: string }) =>
        `/interaction/${interaction.uid}`,
    },
    findAccount(_ctx: KoaContextWithOIDC, id: string) {
      const account = accounts.get(id);
      if (account === undefined) return undefined;
      return { accountId: id, claims: () => ({ sub: id, email_verified: true, ...account }) };
    },
    // A first-party client: consent is implied (what an administrator's "admin consent" does).
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const oidcCtx = ctx.oidc;
      const clientId = oidcCtx.client?.clientId;
      const accountId = oidcCtx.session?.accountId;
      if (clientId === undefined || accountId === undefined) return undefined;
      const existing = oidcCtx.session?.grantIdFor(clientId);
      if (existing !== undefined) return oidcCtx.provider.Grant.find(existing);
      const grant = new oidcCtx.provider.Grant({ clientId, accountId });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  const state: { tamper: IdTokenTamper | undefined } = { tamper: undefined };
  provider.use(async (ctx, next) => {
    await next();
    const tamper = state.tamper;
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (tamper === undefined || ctx.path !== '/token' || typeof body?.id_token !== 'string') return;
    const original = jwtClaims(body.id_token);
    const claims = tamper.claims === undefined ? original : tamper.claims(original);
    body.id_token = signJwt(
      claims,
      tamper.signWith === 'provider' ? own.privateKey : foreign.privateKey,
    );
  });
  const callback = provider.callback();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname.startsWith('/interaction/')) {
      const accountId = url.searchParams.get('login');
      if (accountId === null) {
        // What a person sees in a real browser (tests over HTTP name the account in the URL).
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(
          '<!doctype html><html lang="en"><head><title>Test identity provider</title></head><body><main>' +
            '<h1>Test identity provider</h1><form method="get">' +
            '<label for="login">Username</label> <input id="login" name="login" required> ' +
            '<button type="submit">Continue</button></form></main></body></html>',
        );
        return;
      }
      provider
        .interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false })
        .catch((error: unknown) => {
          res.statusCode = 500;
          res.end(String(error));
        });
      return;
    }
    void callback(req, res);
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => {
        resolve();
      });
      // Kept-alive connections from Roster would otherwise keep the provider reachable.
      server.closeAllConnections();
    });
  return {
    issuer,
    accounts,
    get tamper() {
      return state.tamper;
    },
    set tamper(value: IdTokenTamper | undefined) {
      state.tamper = value;
    },
    stop,
    start: () =>
      new Promise<void>((resolve) => {
        server.listen(port, '127.0.0.1', resolve);
      }),
    close: stop,
  };
}

/** A browser: a cookie jar, and redirects followed by hand (the provider redirects to roster.test). */
export class Browser {
  readonly cookies = new Map<string, string>();

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string, accept = 'application/json'): Promise<Response> {
    return this.request('GET', url, { accept });
  }

  async request(
    method: string,
    url: string,
    headers: Record<string, string> = {},
    body?: string,
  ): Promise<Response> {
    const cookie = this.cookieHeader();
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { accept: 'application/json', ...headers, ...(cookie === '' ? {} : { cookie }) },
      body,
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some(
        (a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a),
      );
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
}

/**
 * Starts a sign-in at `startUrl` and follows it through the provider's login screen (as
 * `accountId`) up to the redirect back to `redirectUri`, which it answers without following.
 */
export async function throughProvider(
  browser: Browser,
  startUrl: string,
  accountId: string,
  provider: { issuer: string; redirectUri: string },
): Promise<string> {
  const start = await browser.get(startUrl);
  expect(start.status).toBe(302);
  let location = start.headers.get('location') ?? '';
  for (let hop = 0; hop < 10; hop += 1) {
    if (location.startsWith(provider.redirectUri)) return location;
    const url = new URL(location, provider.issuer);
    if (url.pathname.startsWith('/interaction/')) url.searchParams.set('login', accountId);
    const response = await browser.get(url.href);
    if (response.status < 300 || response.status >= 400) {
      throw new Error(`provider answered ${response.status}: ${await response.text()}`);
    }
    location = new URL(response.headers.get('location') ?? '', url).href;
  }
  throw new Error('too many redirects');
}
