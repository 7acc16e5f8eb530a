/**
 * API clients: tokens shown once and stored hashed, rotation and revocation, scopes (the reference
 * API: "API clients require access to the DEV environment to manage collaborators"), bearer
 * authentication errors, and the per-client rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

const UNAUTHORIZED_INVALID = {
  errors: [{ code: 'unauthorized', title: 'Invalid or revoked API token' }],
};

async function createClient(body: Record<string, unknown>, token?: string) {
  const res = await roster.post('/api/api_clients', body, token);
  expect(res.status).toBe(201);
  return res.body.data as { id: number; token: string; name: string };
}

describe('creating and reading API clients', () => {
  it('creates a client whose token is shown once and works as a bearer token', async () => {
    const res = await roster.post('/api/api_clients', {
      name: 'CI pipeline',
      environment_types: ['dev', 'test'],
    });
    expect(res.status).toBe(201);
    const client = res.body.data;
    expect(client).toEqual({
      id: expect.any(Number),
      name: 'CI pipeline',
      environment_types: ['dev', 'test'],
      project_ids: null,
      token_prefix: expect.any(String),
      created_at: expect.any(String),
      rotated_at: null,
      revoked_at: null,
      token: expect.stringMatching(/^rst_[A-Za-z0-9_-]{40,}$/),
    });
    expect(client.token.startsWith(client.token_prefix.replace('…', ''))).toBe(true);

    const withToken = await roster.get('/api/members', client.token);
    expect(withToken.status).toBe(200);

    const got = await roster.get(`/api/api_clients/${client.id}`);
    expect(got.status).toBe(200);
    const withoutToken = { ...client };
    delete withoutToken.token;
    expect(got.body.data).toEqual(withoutToken);

    const list = await roster.get('/api/api_clients');
    expect(list.status).toBe(200);
    expect(list.body.page).toEqual({ number: 1, size: 100 });
    expect(list.body.data.map((c: { id: number }) => c.id)).toContain(client.id);
    expect(list.text).not.toContain(client.token);
    for (const listed of list.body.data) expect(listed).not.toHaveProperty('token');
    expect(got.text).not.toContain(client.token);
  });

  it('defaults the scope to the caller’s environments', async () => {
    const client = await createClient({ name: 'Default scope' });
    const got = await roster.get(`/api/api_clients/${client.id}`);
    expect(got.body.data).toMatchObject({
      environment_types: ['dev', 'test', 'prod'],
      project_ids: null,
    });
  });

  it('answers 400 for an unknown environment or project, and for a blank name', async () => {
    const env = await roster.post('/api/api_clients', {
      name: 'Bad env',
      environment_types: ['staging'],
    });
    expect(env.status).toBe(400);
    expect(env.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Environment staging not found' }],
    });
    const project = await roster.post('/api/api_clients', {
      name: 'Bad project',
      environment_types: ['dev'],
      project_ids: [99999],
    });
    expect(project.status).toBe(400);
    expect(project.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Project 99999 not found' }],
    });
    const blank = await roster.post('/api/api_clients', { name: '' });
    expect(blank.status).toBe(400);
    expect(blank.body.errors[0].title).toMatch(/^name /);
  });

  it('answers 404 for an unknown client and 400 for a non-numeric id', async () => {
    const missing = await roster.get('/api/api_clients/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
    expect((await roster.post('/api/api_clients/999999/rotate')).status).toBe(404);
    expect((await roster.delete('/api/api_clients/999999')).status).toBe(404);
    expect((await roster.get('/api/api_clients/abc')).status).toBe(400);
  });
});

describe('rotating and revoking', () => {
  it('rotation issues a new token and the old one answers 401', async () => {
    const client = await createClient({ name: 'Rotated', environment_types: ['dev'] });
    const res = await roster.post(`/api/api_clients/${client.id}/rotate`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: client.id,
      name: 'Rotated',
      rotated_at: expect.any(String),
      token: expect.any(String),
    });
    expect(res.body.data.token).not.toBe(client.token);

    const old = await roster.get('/api/members', client.token);
    expect(old.status).toBe(401);
    expect(old.body).toEqual(UNAUTHORIZED_INVALID);
    expect(old.headers.get('www-authenticate')).toBe('Bearer realm="roster"');
    expect((await roster.get('/api/members', res.body.data.token)).status).toBe(200);
  });

  it('revocation answers 204 and the token answers 401 afterwards', async () => {
    const client = await createClient({ name: 'Revoked', environment_types: ['dev'] });
    expect((await roster.get('/api/members', client.token)).status).toBe(200);
    const res = await roster.delete(`/api/api_clients/${client.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const after = await roster.get('/api/members', client.token);
    expect(after.status).toBe(401);
    expect(after.body).toEqual(UNAUTHORIZED_INVALID);

    const got = await roster.get(`/api/api_clients/${client.id}`);
    expect(got.body.data.revoked_at).toEqual(expect.any(String));
    const active = await roster.get('/api/api_clients');
    expect(active.body.data.some((c: { id: number }) => c.id === client.id)).toBe(false);
    const all = await roster.get('/api/api_clients?include_revoked=true');
    expect(all.body.data.some((c: { id: number }) => c.id === client.id)).toBe(true);

    const rotate = await roster.post(`/api/api_clients/${client.id}/rotate`);
    expect(rotate.status).toBe(400);
    expect(rotate.body).toEqual({
      errors: [{ code: 'bad_request', title: 'A revoked API client cannot be rotated' }],
    });
  });

  it('records creation, rotation and revocation in the audit log without the token', async () => {
    const client = await createClient({ name: 'Audited', environment_types: ['prod'] });
    await roster.post(`/api/api_clients/${client.id}/rotate`);
    await roster.delete(`/api/api_clients/${client.id}`);
    const res = await roster.get(`/api/audit_events?target_type=api_client&target_id=${client.id}`);
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual([
      'api_client.revoked',
      'api_client.rotated',
      'api_client.created',
    ]);
    expect(res.body.data[2].after).toMatchObject({ name: 'Audited', environment_types: ['prod'] });
    expect(res.text).not.toContain(client.token);
  });

  it('a token in use (cached) stops at the very next request after rotate or revoke, access checks included', async () => {
    const member = await createMember(roster, { email: 'cached-token@example.com' });
    const check = (token: string) =>
      roster.post(
        '/api/access/check',
        {
          subject: { member_id: member.id },
          environment_type: 'dev',
          resource: 'folder',
          privilege: 'view',
        },
        token,
      );
    const rotated = await createClient({ name: 'Checker', environment_types: ['dev'] });
    const revoked = await createClient({ name: 'Checker 2', environment_types: ['dev'] });
    // Several answers each, so the tokens are authenticated from the cache, not the database.
    for (let i = 0; i < 3; i += 1) {
      expect((await check(rotated.token)).status).toBe(200);
      expect((await check(revoked.token)).status).toBe(200);
    }
    const rotation = await roster.post(`/api/api_clients/${rotated.id}/rotate`);
    expect(rotation.status).toBe(200);
    expect((await roster.delete(`/api/api_clients/${revoked.id}`)).status).toBe(204);
    for (const token of [rotated.token, revoked.token]) {
      const after = await check(token);
      expect(after.status).toBe(401);
      expect(after.body).toEqual(UNAUTHORIZED_INVALID);
      expect((await roster.get('/api/members', token)).status).toBe(401);
    }
    expect((await check(rotation.body.data.token as string)).status).toBe(200);
  });
});

describe('scopes', () => {
  it('a client without DEV gets 403 on collaborator endpoints', async () => {
    const testOnly = await createClient({ name: 'Test only', environment_types: ['test'] });
    const members = await roster.get('/api/members', testOnly.token);
    expect(members.status).toBe(403);
    expect(members.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
    expect((await roster.get('/api/user_groups', testOnly.token)).status).toBe(403);
    expect((await roster.get('/api/member_invitations', testOnly.token)).status).toBe(403);

    const invite = await roster.post(
      '/api/member_invitations',
      {
        name: 'X',
        email: 'scoped@example.com',
        env_roles: [{ environment_type: 'dev', name: 'Admin' }],
      },
      testOnly.token,
    );
    expect(invite.status).toBe(403);
    expect(invite.body).toEqual({
      message: 'This API client has no access to the DEV environment',
    });
  });

  it('a client cannot create a client with a wider scope', async () => {
    const testOnly = await createClient({ name: 'Narrow', environment_types: ['test'] });
    const wider = await roster.post(
      '/api/api_clients',
      { name: 'Wider', environment_types: ['test', 'prod'] },
      testOnly.token,
    );
    expect(wider.status).toBe(403);
    expect(wider.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'Your API client has no access to the prod environment' },
      ],
    });

    const same = await roster.post('/api/api_clients', { name: 'Same' }, testOnly.token);
    expect(same.status).toBe(201);
    expect(same.body.data.environment_types).toEqual(['test']);
  });

  it('a project-limited client cannot create an unlimited one, nor manage a wider client', async () => {
    const project = await roster.post('/api/projects', {
      name: 'Scoped project',
      environment_type: 'dev',
    });
    const limited = await createClient({
      name: 'One project',
      environment_types: ['dev'],
      project_ids: [project.body.data.id],
    });
    const unlimited = await roster.post(
      '/api/api_clients',
      { name: 'All projects', project_ids: null },
      limited.token,
    );
    expect(unlimited.status).toBe(403);
    expect(unlimited.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'Your API client is limited to some projects and cannot grant access to all',
        },
      ],
    });

    const admin = await createClient({ name: 'Wide', environment_types: ['dev', 'prod'] });
    const rotate = await roster.post(
      `/api/api_clients/${admin.id}/rotate`,
      undefined,
      limited.token,
    );
    expect(rotate.status).toBe(403);
    const revoke = await roster.delete(`/api/api_clients/${admin.id}`, limited.token);
    expect(revoke.status).toBe(403);
    expect((await roster.get('/api/members', admin.token)).status).toBe(200);
  });
});

describe('bearer authentication', () => {
  it('answers 401 with the errors body when the token is missing', async () => {
    const res = await roster.get('/api/members', null);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'unauthorized',
          title: 'Missing bearer token: send Authorization: Bearer <api_token>',
        },
      ],
    });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="roster"');
  });

  it('answers 401 for an unknown token, and for a non-Bearer scheme', async () => {
    const unknown = await roster.get('/api/members', 'rst_not_a_real_token');
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(UNAUTHORIZED_INVALID);
    const basic = await roster.request('GET', '/api/members', {
      token: null,
      headers: { authorization: `Basic ${roster.adminToken}` },
    });
    expect(basic.status).toBe(401);
    expect(basic.body.errors[0].code).toBe('unauthorized');
  });

  it('answers 401 on the invitation endpoint in its message style', async () => {
    const res = await roster.post(
      '/api/member_invitations',
      { name: 'x', email: 'x@example.com', role_name: 'Admin' },
      null,
    );
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      message: 'Missing bearer token: send Authorization: Bearer <api_token>',
    });
  });
});

describe('rate limit', () => {
  let limited: Roster;
  beforeAll(async () => {
    limited = await startRoster({ env: { ROSTER_RATE_LIMIT_PER_MINUTE: '3' } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('answers 429 with Retry-After to the 4th request of a client in a minute, while another client still passes', async () => {
    const other = await limited.post('/api/api_clients', { name: 'Other' });
    expect(other.status).toBe(201);
    const otherToken: string = other.body.data.token;

    // The create above was the admin client's first request of the minute.
    const second = await limited.get('/api/members');
    expect(second.status).toBe(200);
    expect(second.headers.get('ratelimit-limit')).toBe('3');
    expect(second.headers.get('ratelimit-remaining')).toBe('1');
    expect(Number(second.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect((await limited.get('/api/members')).status).toBe(200);

    const fourth = await limited.get('/api/members');
    expect(fourth.status).toBe(429);
    expect(fourth.body).toEqual({
      errors: [
        {
          code: 'too_many_requests',
          title: expect.stringMatching(
            /^Rate limit exceeded: 3 requests per minute\. Retry in \d+ s\.$/,
          ),
        },
      ],
    });
    const retryAfter = Number(fourth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(fourth.headers.get('ratelimit-limit')).toBe('3');
    expect(fourth.headers.get('ratelimit-remaining')).toBe('0');

    const invite = await limited.post('/api/member_invitations', {
      name: 'R',
      email: 'r@example.com',
      role_name: 'Admin',
    });
    expect(invite.status).toBe(429);
    expect(invite.body).toEqual({ message: expect.stringMatching(/^Rate limit exceeded/) });

    const fromOther = await limited.get('/api/members', otherToken);
    expect(fromOther.status).toBe(200);
    expect(fromOther.headers.get('ratelimit-remaining')).toBe('2');
  });
});
