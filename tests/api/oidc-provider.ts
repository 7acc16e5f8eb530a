/**
 * A REAL OpenID provider (`oidc-provider`) on 127.0.0.1 for the SSO tests, and a browser-like
 * HTTP client (cookie jar, redirects followed by hand) to drive sign-ins through it. The login
 * screen is a real interaction, finished with the account the "browser" names (`?login=<id>`,
 * or typed into the small login form a real browser gets).
 */
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

export interface OidcProvider {
  issuer: string;
  /** The provider's directory: tests edit it between sign-ins. */
  accounts: Map<string, Account>;
  close(): Promise<void>;
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
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
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
  return {
    issuer,
    accounts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
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
