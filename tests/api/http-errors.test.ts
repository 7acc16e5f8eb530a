/**
 * Bad requests get a 4xx in the endpoint's error style, naming the field; never a 500. The OpenAPI
 * document lists every /api path the server serves, and /api/docs shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient } from '../scim/helpers.js';

let roster: Roster;
let memberId: number;
beforeAll(async () => {
  roster = await startRoster();
  memberId = (await createMember(roster, { email: 'errors@example.com' })).id;
});
afterAll(async () => {
  await roster.close();
});

const BAD_JSON = "Body is not valid JSON but content-type is set to 'application/json'";

describe('malformed requests', () => {
  it('answers 400 to malformed JSON, in each endpoint’s error style', async () => {
    const groups = await roster.request('POST', '/api/user_groups', {
      body: '{"user_group": {"name": ',
    });
    expect(groups.status).toBe(400);
    expect(groups.body).toEqual({ errors: [{ code: 'bad_request', title: BAD_JSON }] });
    const invite = await roster.request('POST', '/api/member_invitations', { body: '{"name":' });
    expect(invite.status).toBe(400);
    expect(invite.body).toEqual({ message: BAD_JSON });
    const update = await roster.request('PUT', `/api/members/${memberId}`, {
      body: '{"env_roles": [',
    });
    expect(update.status).toBe(400);
    expect(update.body).toEqual({ errors: [{ code: 400, title: BAD_JSON }] });
  });

  it('answers 400 to an empty JSON body and to a body that is not an object', async () => {
    const empty = await roster.request('POST', '/api/user_groups', {
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: "Body cannot be empty when content-type is set to 'application/json'",
        },
      ],
    });
    for (const body of ['null', '[]', '"text"', '42']) {
      const res = await roster.request('POST', '/api/user_groups', { body });
      expect(res.status, body).toBe(400);
      expect(res.body, body).toEqual({
        errors: [{ code: 'bad_request', title: 'body must be object' }],
      });
    }
  });

  it('answers 413 to a body over 1 MiB', async () => {
    const res = await roster.post('/api/user_groups', {
      user_group: { name: 'x'.repeat(1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      errors: [{ code: 'payload_too_large', title: 'Request body is too large' }],
    });
    const invite = await roster.post('/api/member_invitations', {
      name: 'x'.repeat(1024 * 1024),
      email: 'big@example.com',
      role_name: 'Admin',
    });
    expect(invite.status).toBe(413);
    expect(invite.body).toEqual({ message: 'Request body is too large' });
  });

  it('answers 400 naming the field for an over-long group name (201 characters)', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: 'g'.repeat(201) } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        { code: 'bad_request', title: 'user_group.name must NOT have more than 200 characters' },
      ],
    });
    const fits = await roster.post('/api/user_groups', { user_group: { name: 'g'.repeat(200) } });
    expect(fits.status).toBe(200);
  });

  it('answers 400 naming the field for wrong types', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/user_groups', { user_group: 'Developers' }, /^user_group must be object$/],
      [
        'POST',
        '/api/user_groups',
        { user_group: { name: { first: 'Dev' } } },
        /^user_group\.name must be string$/,
      ],
      [
        'PUT',
        `/api/members/${memberId}`,
        { env_roles: [{ environment_type: 'dev', name: { role: 'Admin' } }] },
        /^env_roles\.0\.name must be string$/,
      ],
      [
        'POST',
        '/api/api_clients',
        { name: 'n', project_ids: ['one'] },
        /^project_ids\.0 must be integer/,
      ],
      [
        'POST',
        '/api/api_clients',
        { name: 'n', project_ids: [99_999_999_999] },
        /^project_ids\.0 must be <= 2147483647/,
      ],
      [
        'POST',
        '/api/member_invitations',
        { name: 'n', email: 'n@example.com', env_roles: 'dev' },
        /^env_roles must be array$/,
      ],
      // JSON bodies carry their types: a number is not silently turned into a name.
      [
        'POST',
        '/api/user_groups',
        { user_group: { name: 5 } },
        /^user_group\.name must be string$/,
      ],
      [
        'POST',
        '/api/member_invitations',
        { name: 'n', email: 'e'.repeat(250) + '@example.com', role_name: 'Admin' },
        /^email must NOT have more than 254 characters$/,
      ],
      [
        'POST',
        '/api/member_invitations',
        { name: 'n', email: 'n@example.com', role_name: 'Admin', user_group_ids: { id: 'am-1' } },
        /^user_group_ids must be array$/,
      ],
    ];
    for (const [method, path, body, title] of cases) {
      const res = await roster.request(method, path, { body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body).slice(0, 80)}`).toBe(400);
      const message: string = res.body.message ?? res.body.errors[0].title;
      expect(message, `${method} ${path}`).toMatch(title);
    }
  });

  it('answers 400 for bad query values and non-numeric path IDs', async () => {
    for (const path of [
      '/api/members?page[size]=101',
      '/api/members?page[size]=abc',
      '/api/members?page[number]=0',
      '/api/members?email=a&email=b',
      '/api/audit_events?since=yesterday',
      '/api/members/12ab',
      '/api/member_invitations/-1',
      '/api/api_clients/1.5',
    ]) {
      const res = await roster.get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.errors[0].code, path).toBe('bad_request');
    }
  });

  it('answers 404, not 500, for a numeric id beyond 32 bits on every dialect', async () => {
    for (const path of [
      '/api/members/99999999999',
      '/api/projects/2147483648',
      '/api/environment_roles/999999999999999',
    ]) {
      const res = await roster.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.errors[0].code).toBe('not_found');
    }
  });

  it('answers 400, not 500, for a NUL character in a string on every dialect', async () => {
    const body = await roster.post('/api/user_groups', { user_group: { name: 'a\u0000b' } });
    expect(body.status).toBe(400);
    expect(body.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Text must not contain NUL characters' }],
    });
    const query = await roster.get('/api/members?email=%00');
    expect(query.status).toBe(400);
    const invitation = await roster.post('/api/member_invitations', {
      name: 'n',
      email: 'nul@example.com',
      role_name: 'Ad\u0000min',
    });
    expect(invitation.status).toBe(400);
    expect(invitation.body).toEqual({ message: 'Text must not contain NUL characters' });
  });

  it('answers an access check with a NUL character like any other question (it stores nothing)', async () => {
    const res = await roster.post('/api/access/check', {
      subject: { email: 'nobody\u0000@example.com' },
      environment_type: 'dev',
      resource: 'folder',
      privilege: 'view',
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Member not found' }] });
    const batch = await roster.post('/api/access/check_batch', {
      checks: [
        {
          subject: { email: 'nobody\u0000@example.com' },
          environment_type: 'dev',
          resource: 'fol\u0000der',
          privilege: 'view',
        },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.data).toEqual([
      {
        allowed: false,
        paths: [],
        error: { code: 'not_found', title: 'Member not found' },
      },
    ]);
  });

  it('answers 404 with the errors body for an unknown route or method', async () => {
    const route = await roster.get('/api/nope');
    expect(route.status).toBe(404);
    expect(route.body).toEqual({
      errors: [{ code: 'not_found', title: 'Route GET /api/nope not found' }],
    });
    const method = await roster.request('PATCH', `/api/members/${memberId}`);
    expect(method.status).toBe(404);
    expect(method.body).toEqual({
      errors: [{ code: 'not_found', title: `Route PATCH /api/members/${memberId} not found` }],
    });
    const outside = await roster.get('/nothing-here?x=1', null);
    expect(outside.status).toBe(404);
    expect(outside.body).toEqual({
      errors: [{ code: 'not_found', title: 'Route GET /nothing-here not found' }],
    });
  });

  it('never answers 500 to any of these', async () => {
    const attempts: [string, string, string | undefined][] = [
      ['POST', '/api/user_groups', '{'],
      ['POST', '/api/user_groups', '[[[[[[[[[[]]]]]]]]]]'],
      ['POST', '/api/member_invitations', '{"name":null,"email":null}'],
      [
        'POST',
        '/api/member_invitations',
        '{"name":"a","email":"a@example.com","env_roles":[null]}',
      ],
      ['PUT', `/api/members/${memberId}`, '{"env_roles":[{}]}'],
      ['PUT', `/api/members/${memberId}`, '{"env_roles":null}'],
      ['POST', '/api/api_clients', '{"name":"a","environment_types":[]}'],
      ['POST', '/invitations/short/accept', '{}'],
      ['POST', '/invitations/inv_0123456789abcdef/accept', '[1]'],
      ['DELETE', '/api/members/', undefined],
      ['GET', '/api/members?page[number]=99999999', undefined],
      ['GET', '/api/audit_events?until=2020-13-45T00:00:00Z', undefined],
    ];
    for (const [method, path, body] of attempts) {
      const res = await roster.request(method, path, {
        body,
        token: path.startsWith('/invitations') ? null : undefined,
      });
      expect(res.status, `${method} ${path} ${body ?? ''}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path} ${body ?? ''}`).toBeLessThan(500);
    }
  });
});

describe('one error classification for the JSON API and SCIM', () => {
  const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

  it('gives malformed JSON, an empty body, NUL text and a body over the limit the same status and message on both', async () => {
    const scim = scimClient(roster, await createConnection(roster));
    const cases: { body: string; status: number; scimType?: string }[] = [
      { body: '{"userName": ', status: 400, scimType: 'invalidSyntax' },
      { body: '', status: 400, scimType: 'invalidSyntax' },
      { body: JSON.stringify({ userName: 'a\u0000b' }), status: 400 },
      { body: JSON.stringify({ userName: 'x'.repeat(9 * 1024 * 1024) }), status: 413 },
    ];
    for (const { body, status, scimType } of cases) {
      const label = body.slice(0, 20);
      const api = await roster.request('POST', '/api/user_groups', {
        body,
        headers: { 'content-type': 'application/json' },
      });
      const viaScim = await scim.request('POST', '/Users', body, {
        'content-type': 'application/json',
      });
      expect(api.status, label).toBe(status);
      expect(viaScim.status, label).toBe(status);
      expect(viaScim.headers.get('content-type'), label).toMatch(/application\/scim\+json/);
      const title = (api.body as { errors: { title: string }[] }).errors[0]?.title;
      expect(viaScim.body, label).toEqual({
        schemas: [SCIM_ERROR],
        status: String(status),
        ...(scimType === undefined ? {} : { scimType }),
        detail: title,
      });
    }
  });
});

describe('API documentation', () => {
  /** Every /api path and method the server serves: the reference API's, and Roster's additions. */
  const SERVED: Record<string, string[]> = {
    '/api/members': ['get'],
    '/api/members/{id}': ['get', 'put', 'delete'],
    '/api/members/{id}/privileges': ['get'],
    '/api/members/{id}/projects_privileges': ['get'],
    '/api/members/{id}/project_grants': ['get'],
    '/api/member_invitations': ['get', 'post'],
    '/api/member_invitations/{id}': ['get', 'delete'],
    '/api/member_invitations/{id}/resend': ['post'],
    '/api/user_groups': ['get', 'post'],
    '/api/user_groups/{id}': ['get', 'put', 'delete'],
    '/api/user_groups/{id}/members': ['get', 'post', 'delete'],
    '/api/user_groups/{id}/project_grants': ['get'],
    '/api/environment_roles': ['get', 'post'],
    '/api/environment_roles/{id}': ['get', 'put', 'delete'],
    '/api/project_roles': ['get', 'post'],
    '/api/project_roles/{id}': ['get', 'put', 'delete'],
    '/api/roles': ['get', 'post'],
    '/api/roles/{id}': ['get', 'put', 'delete'],
    '/api/projects': ['get', 'post'],
    '/api/projects/{id}': ['get', 'put', 'delete'],
    '/api/projects/{id}/project_grants': ['get', 'put'],
    '/api/project_grants/{id}': ['get', 'put', 'delete'],
    '/api/roles_migration/system_roles': ['post'],
    '/api/roles_migration/custom_role': ['post'],
    '/api/api_clients': ['get', 'post'],
    '/api/api_clients/{id}': ['get', 'delete'],
    '/api/api_clients/{id}/rotate': ['post'],
    '/api/audit_events': ['get'],
  };

  async function documentedPaths(): Promise<Record<string, string[]>> {
    const res = await roster.get('/api/openapi.json', null);
    const paths: Record<string, Record<string, unknown>> = res.body.paths;
    return Object.fromEntries(
      Object.entries(paths).map(([path, operations]) => [path, Object.keys(operations).sort()]),
    );
  }

  it('serves an OpenAPI 3.1 document listing every /api path and method of the reference API and of Roster', async () => {
    const res = await roster.get('/api/openapi.json', null);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.info).toMatchObject({ title: 'Roster API', version: expect.any(String) });
    const documented = await documentedPaths();
    for (const [path, methods] of Object.entries(SERVED)) {
      expect(documented[path], path).toEqual(expect.arrayContaining(methods));
    }
    expect(Object.keys(documented)).toEqual(
      expect.arrayContaining([
        '/invitations/{token}',
        '/invitations/{token}/accept',
        '/platform/workspaces',
      ]),
    );
    // The document describes errors too, in the reference API's body.
    expect(res.body.paths['/api/members/{id}'].get).toMatchObject({
      responses: { 200: expect.anything(), 404: expect.anything() },
    });
  });

  it('documents only routes that exist: each documented /api operation answers, and not with a 5xx', async () => {
    const documented = Object.entries(await documentedPaths()).filter(([path]) =>
      path.startsWith('/api/'),
    );
    expect(documented.length).toBeGreaterThanOrEqual(Object.keys(SERVED).length);
    for (const [path, methods] of documented) {
      const concrete = path.replace(/\{[^}]+\}/g, '1');
      for (const method of methods) {
        const res = await roster.request(method.toUpperCase(), concrete);
        expect(res.text, `${method} ${concrete}`).not.toMatch(/"Route .* not found"/);
        expect(res.status, `${method} ${concrete}`).toBeLessThan(500);
      }
    }
  });

  it('serves an HTML page at /api/docs', async () => {
    const res = await roster.get('/api/docs', null);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<html/i);
    expect(res.text).toContain('Swagger UI');
  });
});
