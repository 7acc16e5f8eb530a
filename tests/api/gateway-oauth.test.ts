/**
 * Interactive MCP clients through the gateway with OAuth (docs/agents.md), end to end with the MCP
 * SDK's own OAuth client (an OAuthClientProvider that follows the browser redirects in code)
 * against oidc-provider standing in for the company IdP: discovery from the gateway's 401 (RFC
 * 9728 protected-resource metadata, then RFC 8414), dynamic registration (RFC 7591), the
 * authorization code with PKCE, the person's sign-in at the workspace's OIDC connection, the
 * token bound to the gateway URL (RFC 8707), then tools/list and tools/call as that end user; a
 * lock stopping the next call, a token for feature A refused on feature B, a revoked token
 * refused with the spec's 401, a locked person refused at sign-in, and bad input on every OAuth
 * endpoint answered with the protocol's errors (never a 500).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  UnauthorizedError,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';
import { startCluster } from '../helpers/cluster.js';
import { Browser, startOidcProvider, type OidcProvider } from './oidc-provider.js';

const PUBLIC_URL = 'http://roster.test';
const SSO_CLIENT = {
  clientId: 'roster-oauth-test',
  clientSecret: 'roster-oauth-test-secret',
  redirectUri: `${PUBLIC_URL}/sso/oidc/callback`,
};
/** The MCP client's redirect URI: never contacted, the test reads the code from the redirect. */
const CLIENT_REDIRECT = 'http://127.0.0.1:9/mcp-client/callback';

let roster: Roster;
let upstream: Upstream;
let idp: OidcProvider;
let ada: number;
let bob: number;
let featureA: number;
let featureB: number;
const clients: Client[] = [];

/** The server the test talks to now (another instance in the shared-store tests). */
let local = '';
/** Roster answers at roster.test (its public URL); the test reaches it on loopback. */
const toLocal = (url: string) =>
  url.startsWith(PUBLIC_URL) ? `${local}${url.slice(PUBLIC_URL.length)}` : url;
const localFetch = (url: string | URL, init?: RequestInit) => fetch(toLocal(String(url)), init);
const gatewayUrl = (featureId: number) => new URL(`${PUBLIC_URL}/mcp/${String(featureId)}`);

/** The MCP client's side of OAuth, kept in memory, with the browser step left to the test. */
class TestOAuthClient implements OAuthClientProvider {
  information: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;

  get redirectUrl() {
    return CLIENT_REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Test desktop assistant',
      redirect_uris: [CLIENT_REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.information = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/**
 * A person's browser going through the authorization: Roster's authorize endpoint, its sign-in
 * step, the IdP's login screen (as `accountId`), back through Roster's SSO callback, up to the
 * redirect to the MCP client, which is answered (not followed). One cookie jar per host: Roster
 * and the IdP both run oidc-provider, whose cookies have the same names.
 */
async function authorizeInBrowser(
  start: URL,
  accountId: string,
  jars = new Map<string, Browser>(),
): Promise<URL> {
  const jar = (host: string) => {
    let browser = jars.get(host);
    if (browser === undefined) {
      browser = new Browser();
      jars.set(host, browser);
    }
    return browser;
  };
  let location = start.href;
  for (let hop = 0; hop < 15; hop += 1) {
    if (location.startsWith(CLIENT_REDIRECT)) return new URL(location);
    const logical = new URL(location);
    const url = new URL(toLocal(location));
    if (logical.origin === idp.issuer && url.pathname.startsWith('/interaction/')) {
      url.searchParams.set('login', accountId);
    }
    let response = await jar(logical.host).get(url.href);
    if (response.status === 200) {
      // An auto-submitting form (the library's sign-out of the previous person when another one
      // signs in): submitted as a browser's script does.
      response = await submitForm(jar(logical.host), await response.text(), location);
    }
    if (response.status < 300 || response.status >= 400) {
      throw new Error(`${url.href} answered ${response.status}: ${await response.text()}`);
    }
    location = new URL(response.headers.get('location') ?? '', location).href;
  }
  throw new Error('too many redirects');
}

async function submitForm(browser: Browser, html: string, base: string): Promise<Response> {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (action === undefined) throw new Error(`not a form: ${html}`);
  const fields = new URLSearchParams();
  for (const [, name, value] of html.matchAll(
    /<input type="hidden" name="([^"]+)" value="([^"]*)"/g,
  ))
    fields.set(name ?? '', value ?? '');
  return browser.request(
    'POST',
    toLocal(new URL(action, base).href),
    { 'content-type': 'application/x-www-form-urlencoded' },
    fields.toString(),
  );
}

/** The whole OAuth flow of the SDK's client for one gateway URL, signed in as `accountId`. */
async function signedInClient(featureId: number, accountId: string, jars?: Map<string, Browser>) {
  const auth = new TestOAuthClient();
  const first = new StreamableHTTPClientTransport(gatewayUrl(featureId), {
    authProvider: auth,
    fetch: localFetch,
  });
  // No token yet: the 401 starts discovery, registration and the authorization request.
  await expect(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(first)).rejects.toThrow(
    UnauthorizedError,
  );
  expect(auth.authorizationUrl).toBeDefined();
  const redirect = await authorizeInBrowser(auth.authorizationUrl as URL, accountId, jars);
  const code = redirect.searchParams.get('code');
  if (code === null) return { auth, redirect, client: undefined };
  await first.finishAuth(code);
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(gatewayUrl(featureId), {
      authProvider: auth,
      fetch: localFetch,
    }),
  );
  clients.push(client);
  return { auth, redirect, client };
}

const text = (result: object) =>
  (result as { content: { type: string; text: string }[] }).content.map((c) => c.text).join('\n');

async function configureSso(server: Roster) {
  const sso = await server.put('/api/sso/oidc', {
    issuer_url: idp.issuer,
    client_id: SSO_CLIENT.clientId,
    client_secret: SSO_CLIENT.clientSecret,
    allowed_domains: ['oauth.example.com'],
    environment_types: ['dev'],
    scopes: ['openid', 'email', 'profile'],
  });
  expect(sso.status).toBe(200);
}

async function endUser(name: string, server: Roster = roster): Promise<number> {
  const res = await server.post('/api/end_users', {
    name,
    email: `${name.toLowerCase()}@oauth.example.com`,
    environment_types: ['dev'],
  });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

async function mcpFeature(name: string, server: Roster = roster): Promise<number> {
  const res = await server.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name,
    upstream: { url: upstream.url, headers: {} },
  });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

/** A raw MCP tools/list with a bearer token (what a client without the SDK sends). */
function rawCall(featureId: number, token: string | undefined) {
  return fetch(`${local}/mcp/${String(featureId)}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  idp = await startOidcProvider(SSO_CLIENT);
  roster = await startRoster();
  local = roster.url;
  await configureSso(roster);
  ada = await endUser('Ada');
  bob = await endUser('Bob');
  idp.accounts.set('ada', { email: 'ada@oauth.example.com', name: 'Ada' });
  idp.accounts.set('bob', { email: 'bob@oauth.example.com', name: 'Bob' });
  featureA = await mcpFeature('Tickets MCP');
  featureB = await mcpFeature('Billing MCP');
  for (const feature of [featureA, featureB]) {
    expect(
      (await roster.post(`/api/features/${feature}/access`, { end_user_ids: [ada, bob] })).status,
    ).toBeLessThan(300);
  }
  const deny = await roster.post('/api/policies', {
    name: 'No deleting repositories',
    environment_type: 'dev',
    feature_id: featureA,
    tools: ['delete_repo'],
    scope: { type: 'all' },
    effect: 'deny',
  });
  expect(deny.status).toBe(201);
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await roster.close();
  await idp.close();
  await upstream.close();
});

describe('discovery', () => {
  it('a 401 from the gateway points to the protected-resource metadata, which names Roster as the authorization server', async () => {
    const res = await rawCall(featureA, undefined);
    expect(res.status).toBe(401);
    const metadataUrl = `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/${featureA}`;
    expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${metadataUrl}"`);
    const metadata = await localFetch(metadataUrl);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({
      resource: `${PUBLIC_URL}/mcp/${featureA}`,
      authorization_servers: [PUBLIC_URL],
      scopes_supported: ['mcp'],
    });
    const server = await localFetch(`${PUBLIC_URL}/.well-known/oauth-authorization-server`);
    expect(server.status).toBe(200);
    expect(await server.json()).toMatchObject({
      issuer: PUBLIC_URL,
      authorization_endpoint: `${PUBLIC_URL}/oauth/authorize`,
      token_endpoint: `${PUBLIC_URL}/oauth/token`,
      registration_endpoint: `${PUBLIC_URL}/oauth/register`,
      code_challenge_methods_supported: ['S256'],
    });
  });
});

describe('the OAuth walk with the SDK client', () => {
  let walk: Awaited<ReturnType<typeof signedInClient>>;

  it('registers, authorizes with PKCE and a resource indicator, signs in at the IdP, and gets a token', async () => {
    walk = await signedInClient(featureA, 'ada');
    const start = walk.auth.authorizationUrl as URL;
    expect(start.searchParams.get('code_challenge_method')).toBe('S256');
    expect(start.searchParams.get('resource')).toBe(`${PUBLIC_URL}/mcp/${featureA}`);
    expect(walk.auth.information?.client_id).toEqual(expect.any(String));
    expect(walk.auth.saved?.access_token).toEqual(expect.any(String));
    expect(walk.client).toBeDefined();
  });

  it('tools/list and tools/call run as the signed-in end user (their own decision)', async () => {
    const client = walk.client as Client;
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name).sort()).toEqual(['create_ticket', 'search']);
    const result = await client.callTool({ name: 'search', arguments: { q: 'oauth' } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe('found 3 tickets for oauth');
    const denied = await client.callTool({ name: 'delete_repo', arguments: { repo: 'x' } });
    expect(denied.isError).toBe(true);
    expect(text(denied)).toContain('No deleting repositories');
  });

  it('records the calls with the end user and the OAuth client', async () => {
    let records: { actor: { type: string; id: string }; after: Record<string, unknown> }[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await roster.get(`/api/audit_events?action=agent.tool_call&page[size]=100`);
      records = (res.body.data as typeof records).filter((r) => r.actor.type === 'end_user');
      if (records.length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const search = records.find((r) => r.after.tool === 'search');
    expect(search).toMatchObject({
      actor: { type: 'end_user', id: String(ada) },
      after: {
        end_user_id: ada,
        decision: 'allow',
        oauth_client_id: walk.auth.information?.client_id,
        oauth_client_name: 'Test desktop assistant',
        upstream_status: 'ok',
      },
    });
  });

  it('a lock stops the very next call; an unlock restores it', async () => {
    const client = walk.client as Client;
    expect((await roster.post(`/api/end_users/${ada}/lock`, {})).status).toBe(200);
    const refused = await client.callTool({ name: 'search', arguments: { q: 'locked' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/locked/i);
    expect((await roster.post(`/api/end_users/${ada}/unlock`, {})).status).toBe(200);
    const again = await client.callTool({ name: 'search', arguments: { q: 'back' } });
    expect(text(again)).toBe('found 3 tickets for back');
  });

  it('a token for feature A is refused on feature B (resource indicators)', async () => {
    const token = walk.auth.saved?.access_token as string;
    expect((await rawCall(featureA, token)).status).toBe(200);
    const res = await rawCall(featureB, token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/${featureB}"`,
    );
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(((await res.json()) as { errors: { title: string }[] }).errors[0]?.title).toBe(
      `This OAuth access token was issued for ${PUBLIC_URL}/mcp/${featureA}, not for this one: request a token for this gateway URL (resource indicator)`,
    );
  });

  it('a revoked token is refused with 401 and WWW-Authenticate', async () => {
    const token = walk.auth.saved?.access_token as string;
    const revoke = await localFetch(`${PUBLIC_URL}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token,
        client_id: walk.auth.information?.client_id as string,
      }).toString(),
    });
    expect(revoke.status).toBe(200);
    const res = await rawCall(featureA, token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer .*resource_metadata=".*error="invalid_token"/,
    );
  });

  it('a token for feature B, signed in as Bob, calls B as Bob', async () => {
    const bobs = await signedInClient(featureB, 'bob');
    const result = await (bobs.client as Client).callTool({
      name: 'delete_repo',
      arguments: { repo: 'b' },
    });
    // The deny policy is feature A's: on B Bob may delete.
    expect(text(result)).toBe('deleted b');
  });

  it('a browser signed in for one workspace signs in again for another workspace’s gateway URL', async () => {
    const created = await roster.post(
      '/platform/workspaces',
      { name: 'Other', environments: false },
      PLATFORM_TOKEN,
    );
    expect(created.status).toBe(201);
    const admin = created.body.data.admin_token as string;
    const sso = await roster.put(
      '/api/sso/oidc',
      {
        issuer_url: idp.issuer,
        client_id: SSO_CLIENT.clientId,
        client_secret: SSO_CLIENT.clientSecret,
        allowed_domains: ['oauth.example.com'],
        environment_types: ['dev'],
        scopes: ['openid', 'email', 'profile'],
      },
      admin,
    );
    expect(sso.status).toBe(200);
    const feature = await roster.post(
      '/api/features',
      {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Other MCP',
        upstream: { url: upstream.url, headers: {} },
      },
      admin,
    );
    expect(feature.status).toBe(201);
    const otherFeature = feature.body.data.id as number;
    // The same person (same email) is an end user of both workspaces.
    const user = await roster.post(
      '/api/end_users',
      { name: 'Ada', email: 'ada@oauth.example.com', environment_types: ['dev'] },
      admin,
    );
    expect(user.status).toBe(201);
    const otherAda = user.body.data.id as number;
    expect(
      (
        await roster.post(
          `/api/features/${otherFeature}/access`,
          { end_user_ids: [otherAda] },
          admin,
        )
      ).status,
    ).toBeLessThan(300);

    // One browser: its session at Roster is workspace 1's Ada after the first authorization; the
    // second (workspace 2's gateway URL) must not reuse it but sign in through workspace 2.
    const jars = new Map<string, Browser>();
    const first = await signedInClient(featureA, 'ada', jars);
    expect(first.client).toBeDefined();
    const second = await signedInClient(otherFeature, 'ada', jars);
    const result = await (second.client as Client).callTool({
      name: 'search',
      arguments: { q: 'other' },
    });
    expect(text(result)).toBe('found 3 tickets for other');
    // Recorded in workspace 2, as its own end user.
    let records: { actor: unknown }[] = [];
    for (let i = 0; i < 50 && records.length === 0; i++) {
      const res = await roster.get(
        `/api/audit_events?action=agent.tool_call&page[size]=100`,
        admin,
      );
      records = res.body.data as typeof records;
      if (records.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(records.map((r) => r.actor)).toEqual([
      { type: 'end_user', id: String(otherAda), name: 'ada@oauth.example.com' },
    ]);
  });

  it('a locked person is refused at sign-in: the client gets access_denied', async () => {
    expect((await roster.post(`/api/end_users/${bob}/lock`, {})).status).toBe(200);
    const refused = await signedInClient(featureA, 'bob');
    expect(refused.client).toBeUndefined();
    expect(refused.redirect.searchParams.get('error')).toBe('access_denied');
    expect(refused.redirect.searchParams.get('error_description')).toMatch(/locked/);
    expect((await roster.post(`/api/end_users/${bob}/unlock`, {})).status).toBe(200);
  });
});

/** A form POST to one of Roster's OAuth endpoints: status and JSON body. */
async function form(path: string, fields: Record<string, string>) {
  const res = await fetch(`${local}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function register(metadata: unknown, contentType = 'application/json') {
  const res = await fetch(`${local}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof metadata === 'string' ? metadata : JSON.stringify(metadata),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** An authorization request's answer: the error Roster redirects to the client with, or its own. */
async function authorize(params: Record<string, string>) {
  const res = await fetch(`${local}/oauth/authorize?${new URLSearchParams(params).toString()}`, {
    redirect: 'manual',
  });
  if (res.status >= 300 && res.status < 400) {
    const location = new URL(res.headers.get('location') ?? '', PUBLIC_URL);
    return { status: res.status, location, error: location.searchParams.get('error') };
  }
  const body = (await res.json()) as { error?: string };
  return { status: res.status, location: undefined, error: body.error };
}

describe('bad input on every OAuth endpoint: the protocol errors, never a 500', () => {
  let clientId: string;
  const pkce = {
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  };

  beforeAll(async () => {
    const registered = await register({
      client_name: 'Bad input client',
      redirect_uris: [CLIENT_REDIRECT],
      token_endpoint_auth_method: 'none',
    });
    expect(registered.status).toBe(201);
    clientId = registered.body.client_id as string;
  });

  it('registration (RFC 7591): malformed JSON, no redirect URIs, a bad redirect URI, an unknown auth method', async () => {
    expect(await register('{not json')).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect(await register({ client_name: 'x' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_redirect_uri' },
    });
    expect(await register({ redirect_uris: ['not a url'] })).toMatchObject({
      status: 400,
      body: { error: 'invalid_redirect_uri' },
    });
    expect(
      await register({ redirect_uris: [CLIENT_REDIRECT], token_endpoint_auth_method: 'magic' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    expect(await register({ redirect_uris: 42 })).toMatchObject({
      status: 400,
      body: { error: 'invalid_redirect_uri' },
    });
    expect(
      await register({ redirect_uris: [CLIENT_REDIRECT], response_types: ['id_token'] }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
  });

  it('authorization: no parameters, an unknown client, no PKCE, plain PKCE, a foreign resource', async () => {
    expect(await authorize({})).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(
      await authorize({
        client_id: 'nobody',
        response_type: 'code',
        redirect_uri: CLIENT_REDIRECT,
      }),
    ).toMatchObject({ status: 400, error: 'invalid_client' });
    const base = {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: CLIENT_REDIRECT,
      scope: 'mcp',
      resource: `${PUBLIC_URL}/mcp/${featureA}`,
    };
    // Errors about a known client's request go back to its redirect URI (RFC 6749 4.1.2.1).
    const noPkce = await authorize(base);
    expect(noPkce).toMatchObject({ status: 303, error: 'invalid_request' });
    expect(noPkce.location?.href.startsWith(CLIENT_REDIRECT)).toBe(true);
    expect(
      await authorize({
        ...base,
        code_challenge: pkce.code_challenge,
        code_challenge_method: 'plain',
      }),
    ).toMatchObject({ status: 303, error: 'invalid_request' });
    expect(
      await authorize({ ...base, ...pkce, resource: 'https://elsewhere.example/mcp/1' }),
    ).toMatchObject({ status: 303, error: 'invalid_target' });
    expect(await authorize({ ...base, ...pkce, resource: 'not a url' })).toMatchObject({
      status: 303,
      error: 'invalid_target',
    });
  });

  it('the sign-in step: an unknown or cookie-less interaction is a clear 400', async () => {
    const res = await fetch(`${local}/oauth/interaction/does-not-exist`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { title: string }[] }).errors[0]?.title).toMatch(
      /unknown or has expired/,
    );
  });

  it('token: no grant, an unknown grant type, a bogus code, a wrong PKCE verifier', async () => {
    expect(await form('/oauth/token', {})).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect(
      await form('/oauth/token', { grant_type: 'password', client_id: clientId }),
    ).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(
      await form('/oauth/token', {
        grant_type: 'authorization_code',
        client_id: clientId,
        code: 'bogus',
        redirect_uri: CLIENT_REDIRECT,
        code_verifier: 'x'.repeat(43),
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // A real code, exchanged with another verifier than the challenge's: PKCE refuses it.
    const start = new URL(`${PUBLIC_URL}/oauth/authorize`);
    for (const [key, value] of Object.entries({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: CLIENT_REDIRECT,
      scope: 'mcp',
      resource: `${PUBLIC_URL}/mcp/${featureA}`,
      ...pkce,
    }))
      start.searchParams.set(key, value);
    const redirect = await authorizeInBrowser(start, 'ada');
    const code = redirect.searchParams.get('code') as string;
    expect(code).toEqual(expect.any(String));
    expect(
      await form('/oauth/token', {
        grant_type: 'authorization_code',
        client_id: clientId,
        code,
        redirect_uri: CLIENT_REDIRECT,
        code_verifier: 'a-wrong-verifier-a-wrong-verifier-a-wrong-verifier',
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('revocation without a token; metadata that does not reveal which features exist', async () => {
    expect(await form('/oauth/revoke', { client_id: clientId })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    // Before issue 12's follow-up an unknown ID answered 404 (and an existing one 200), which told
    // anyone which MCP features exist: now every well-formed ID gets the same metadata.
    const metadataOf = async (id: string) => {
      const res = await fetch(`${local}/.well-known/oauth-protected-resource/mcp/${id}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const existing = await metadataOf(String(featureA));
    for (const id of ['999999', '0', String(featureA + 1000)]) {
      const unknown = await metadataOf(id);
      expect(unknown.status).toBe(existing.status);
      expect(unknown.body).toEqual({ ...existing.body, resource: `${PUBLIC_URL}/mcp/${id}` });
    }
    expect(existing.status).toBe(200);
    const malformed = await fetch(`${local}/.well-known/oauth-protected-resource/mcp/abc`);
    expect(malformed.status).toBe(404);
    expect((await fetch(`${local}/oauth/nothing-here`)).status).toBe(404);
  });

  it('the gateway: an unknown bearer token is a 401 with the resource metadata', async () => {
    const res = await rawCall(featureA, 'not-a-token-of-ours');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/${featureA}"`,
    );
  });
});

describe('tokens live in the shared store: another instance (or a restart) honours them until they expire', () => {
  // Long enough for the sign-in and a second instance's start on a loaded machine.
  const TTL_SECONDS = 10;

  it('a token issued by one instance works on a new one; once expired it is refused with 401', async () => {
    const cluster = await startCluster({
      env: {
        ROSTER_SECRET_KEY: 'oauth-test-secret-key-0123456789abcdef',
        ROSTER_OAUTH_ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
      },
    });
    const previous = local;
    try {
      const first = cluster.instances[0] as Roster;
      local = first.url;
      await configureSso(first);
      const cy = await endUser('Cy', first);
      idp.accounts.set('cy', { email: 'cy@oauth.example.com', name: 'Cy' });
      const feature = await mcpFeature('Shared MCP', first);
      expect(
        (await first.post(`/api/features/${feature}/access`, { end_user_ids: [cy] })).status,
      ).toBeLessThan(300);
      const walk = await signedInClient(feature, 'cy');
      const issuedAt = Date.now();
      const token = walk.auth.saved?.access_token as string;
      expect(walk.auth.saved?.expires_in).toBe(TTL_SECONDS);

      // A server that has never seen the client nor the token (another instance, or the same
      // after a restart) reads both from the database.
      const second = await cluster.addInstance();
      local = second.url;
      const listed = await rawCall(feature, token);
      expect(listed.status).toBe(200);
      expect(JSON.stringify(await listed.json())).toContain('"search"');

      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, issuedAt + TTL_SECONDS * 1000 + 500 - Date.now())),
      );
      const expired = await rawCall(feature, token);
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(expired.headers.get('www-authenticate')).toContain(
        `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp/${feature}"`,
      );
    } finally {
      local = previous;
      await cluster.close();
    }
  });
});
