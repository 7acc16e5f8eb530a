/**
 * /api/projects: create, list, get, rename, delete, and the API client scope that limits which
 * projects a token sees and manages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let environments: Record<string, number>;

beforeAll(async () => {
  roster = await startRoster();
  // The environment IDs, read from a project in each environment (created and deleted here).
  environments = {};
  for (const type of ['dev', 'test', 'prod']) {
    const created = await roster.call('createProject', {
      body: { name: `probe ${type}`, environment_type: type },
    });
    environments[type] = created.body.data.environment.id;
    await roster.call('deleteProject', { params: { id: created.body.data.id } });
  }
});
afterAll(async () => {
  await roster.close();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function createProject(
  name: string,
  environmentType?: string,
): Promise<{ id: number; name: string }> {
  const body =
    environmentType === undefined ? { name } : { name, environment_type: environmentType };
  const res = await roster.call('createProject', { body });
  expect(res.status).toBe(201);
  return res.body.data;
}

async function createClient(scope: {
  environment_types: string[];
  project_ids?: number[];
}): Promise<string> {
  const res = await roster.call('createApiClient', {
    body: { name: `client ${Math.random()}`, ...scope },
  });
  expect(res.status).toBe(201);
  return res.body.data.token;
}

async function createProjectRole(name: string): Promise<string> {
  const res = await roster.call('createProjectRole', {
    body: { project_role: { name, config: { folder: { privileges: ['view'] } } } },
  });
  expect(res.status).toBe(200);
  return res.body.data.id;
}

describe('POST /api/projects', () => {
  it('creates a project in the dev environment when no environment is given', async () => {
    const res = await roster.call('createProject', { body: { name: 'Development' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Development',
        description: null,
        environment: { id: environments.dev, type: 'dev' },
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('creates a project in the named environment, with its description', async () => {
    const res = await roster.post('/api/projects', {
      name: 'Sales',
      environment_type: 'prod',
      description: 'Sales automations',
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      name: 'Sales',
      description: 'Sales automations',
      environment: { id: environments.prod, type: 'prod' },
    });
  });

  it('trims the name', async () => {
    const res = await roster.post('/api/projects', { name: '  Trimmed  ' });
    expect(res.status).toBe(201);
    expect(res.body.data.name).toBe('Trimmed');
  });

  it('returns 400 when the environment does not exist', async () => {
    const res = await roster.post('/api/projects', {
      name: 'Nowhere',
      environment_type: 'staging',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Environment staging not found' }],
    });
  });

  it('returns 400 when the name is blank', async () => {
    for (const name of ['', '   ']) {
      const res = await roster.post('/api/projects', { name });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: "Name can't be blank" }] });
    }
  });

  it('returns 400 when the name is missing', async () => {
    const res = await roster.post('/api/projects', { environment_type: 'dev' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: "Name can't be blank" }] });
  });

  it('returns 400 when the name is longer than 200 characters', async () => {
    const res = await roster.post('/api/projects', { name: 'a'.repeat(201) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'name must NOT have more than 200 characters' }],
    });
  });

  it('accepts a name of exactly 200 characters', async () => {
    const res = await roster.post('/api/projects', { name: 'b'.repeat(200) });
    expect(res.status).toBe(201);
    expect(res.body.data.name).toBe('b'.repeat(200));
  });

  it('records a project.created audit event', async () => {
    const project = await createProject('Audited');
    const res = await roster.get(
      `/api/audit_events?action=project.created&target_type=project&target_id=${project.id}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({
      action: 'project.created',
      target: { type: 'project', id: String(project.id) },
    });
  });

  it('returns 401 without a token', async () => {
    const res = await roster.post('/api/projects', { name: 'Anonymous' }, null);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'unauthorized',
          title: 'Missing bearer token: send Authorization: Bearer <api_token>',
        },
      ],
    });
  });
});

describe('GET /api/projects', () => {
  let listing: Roster;
  beforeAll(async () => {
    // A separate server, so the list holds exactly the projects made here.
    listing = await startRoster();
    for (const [name, env] of [
      ['Alpha', 'dev'],
      ['Beta', 'dev'],
      ['Gamma', 'test'],
      ['alphabet soup', 'prod'],
      ['100% done', 'dev'],
    ] as const) {
      const res = await listing.post('/api/projects', { name, environment_type: env });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await listing.close();
  });

  it('lists every project, oldest first, with the total and page', async () => {
    const res = await listing.get('/api/projects');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual([
      'Alpha',
      'Beta',
      'Gamma',
      'alphabet soup',
      '100% done',
    ]);
    expect(res.body.total).toBe(5);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
  });

  it('filters by environment type', async () => {
    const res = await listing.get('/api/projects?environment_type=dev');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual([
      'Alpha',
      'Beta',
      '100% done',
    ]);
    expect(
      res.body.data.every((p: { environment: { type: string } }) => p.environment.type === 'dev'),
    ).toBe(true);
    expect(res.body.total).toBe(3);
  });

  it('filters by a case-insensitive part of the name', async () => {
    const res = await listing.get('/api/projects?name=ALPHA');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(['Alpha', 'alphabet soup']);
    expect(res.body.total).toBe(2);
  });

  it('treats LIKE wildcards in the name filter as plain characters', async () => {
    const res = await listing.get(`/api/projects?name=${encodeURIComponent('0%')}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(['100% done']);
    const underscore = await listing.get('/api/projects?name=_');
    expect(underscore.body).toMatchObject({ data: [], total: 0 });
  });

  it('combines the environment and name filters', async () => {
    const res = await listing.get('/api/projects?environment_type=prod&name=alpha');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(['alphabet soup']);
    expect(res.body.total).toBe(1);
  });

  it('pages with page[number] and page[size]', async () => {
    const res = await listing.get(
      `/api/projects?${encodeURIComponent('page[number]')}=2&${encodeURIComponent('page[size]')}=2`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { name: string }) => p.name)).toEqual(['Gamma', 'alphabet soup']);
    expect(res.body.total).toBe(5);
    expect(res.body.page).toEqual({ number: 2, size: 2 });
  });

  it('returns an empty page past the end, with the total', async () => {
    const res = await listing.get('/api/projects?page[number]=4&page[size]=2');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], total: 5, page: { number: 4, size: 2 } });
  });

  it('returns 400 when the page size is over 100', async () => {
    const res = await listing.get('/api/projects?page[size]=101');
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { code: 'bad_request', title: expect.stringContaining('page[size]') },
    ]);
  });
});

describe('GET /api/projects/:id', () => {
  it('returns the project', async () => {
    const project = await createProject('Readable', 'test');
    const res = await roster.get(`/api/projects/${project.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: project.id,
        name: 'Readable',
        description: null,
        environment: { id: environments.test, type: 'test' },
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns 404 for an unknown project', async () => {
    const res = await roster.get('/api/projects/999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });

  it('returns 400 for an ID that is not a number', async () => {
    const res = await roster.get('/api/projects/abc');
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { code: 'bad_request', title: expect.stringContaining('id') },
    ]);
  });

  it('returns 404 for a project of another workspace', async () => {
    const other = await roster.request('POST', '/platform/workspaces', {
      body: { name: 'Other workspace' },
      token: 'platform_test_token_0123456789',
    });
    expect(other.status).toBe(201);
    const theirs = await roster.post(
      '/api/projects',
      { name: 'Theirs' },
      other.body.data.admin_token,
    );
    expect(theirs.status).toBe(201);
    const res = await roster.get(`/api/projects/${theirs.body.data.id}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
    const rename = await roster.put(`/api/projects/${theirs.body.data.id}`, { name: 'Mine now' });
    expect(rename.status).toBe(404);
    const removal = await roster.delete(`/api/projects/${theirs.body.data.id}`);
    expect(removal.status).toBe(404);
    const still = await roster.get(
      `/api/projects/${theirs.body.data.id}`,
      other.body.data.admin_token,
    );
    expect(still.status).toBe(200);
    expect(still.body.data.name).toBe('Theirs');
  });
});

describe('PUT /api/projects/:id', () => {
  it('renames the project', async () => {
    const project = await createProject('Old name');
    const res = await roster.put(`/api/projects/${project.id}`, { name: 'New name' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: project.id, name: 'New name', description: null });
    const read = await roster.get(`/api/projects/${project.id}`);
    expect(read.body.data.name).toBe('New name');
  });

  it('changes the description and keeps the name when only the description is sent', async () => {
    const project = await createProject('Described');
    const res = await roster.put(`/api/projects/${project.id}`, { description: 'Now with text' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Described', description: 'Now with text' });
  });

  it('returns 400 when the new name is blank, and keeps the old one', async () => {
    const project = await createProject('Keep me');
    for (const name of ['', '  ']) {
      const res = await roster.put(`/api/projects/${project.id}`, { name });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: "Name can't be blank" }] });
    }
    const read = await roster.get(`/api/projects/${project.id}`);
    expect(read.body.data.name).toBe('Keep me');
  });

  it('returns 400 when the new name is longer than 200 characters', async () => {
    const project = await createProject('Short');
    const res = await roster.put(`/api/projects/${project.id}`, { name: 'x'.repeat(201) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'name must NOT have more than 200 characters' }],
    });
  });

  it('returns 404 for an unknown project', async () => {
    const res = await roster.put('/api/projects/999999', { name: 'Ghost' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('DELETE /api/projects/:id', () => {
  it('deletes the project and answers 204 with an empty body', async () => {
    const project = await createProject('Doomed');
    const res = await roster.delete(`/api/projects/${project.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const read = await roster.get(`/api/projects/${project.id}`);
    expect(read.status).toBe(404);
  });

  it('deletes the project grants with the project', async () => {
    const project = await createProject('With grants');
    const roleId = await createProjectRole('Doomed viewers');
    // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
    const member = await createMember(roster, {
      email: 'doomed-grantee@example.com',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    const upsert = await roster.put(`/api/projects/${project.id}/project_grants`, {
      project_grants: [
        { assignment_type: 'User', assignment_id: String(member.id), project_role_id: roleId },
      ],
    });
    expect(upsert.status).toBe(200);
    const before = await roster.get(`/api/members/${member.id}/project_grants`);
    expect(before.body.total).toBe(1);
    const grantId = before.body.data[0].id;

    const res = await roster.delete(`/api/projects/${project.id}`);
    expect(res.status).toBe(204);

    const grant = await roster.get(`/api/project_grants/${grantId}`);
    expect(grant.status).toBe(404);
    const after = await roster.get(`/api/members/${member.id}/project_grants`);
    expect(after.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    const privileges = await roster.get(`/api/members/${member.id}/projects_privileges`);
    expect(privileges.body).toEqual({ data: [] });
  });

  it('returns 404 for an unknown project', async () => {
    const res = await roster.delete('/api/projects/999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('API client scope', () => {
  let devProject: { id: number };
  let testProject: { id: number };
  let otherDevProject: { id: number };
  let testToken: string;
  let projectToken: string;

  beforeAll(async () => {
    devProject = await createProject('Scoped dev', 'dev');
    otherDevProject = await createProject('Scoped other dev', 'dev');
    testProject = await createProject('Scoped test', 'test');
    testToken = await createClient({ environment_types: ['test'] });
    projectToken = await createClient({ environment_types: ['dev'], project_ids: [devProject.id] });
  });

  it('lets a TEST client create TEST projects only', async () => {
    const inside = await roster.post(
      '/api/projects',
      { name: 'Made by test client', environment_type: 'test' },
      testToken,
    );
    expect(inside.status).toBe(201);
    expect(inside.body.data.environment.type).toBe('test');
    const outside = await roster.post(
      '/api/projects',
      { name: 'Not allowed', environment_type: 'dev' },
      testToken,
    );
    expect(outside.status).toBe(403);
    expect(outside.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
    // Without environment_type the project would go to dev, which the client cannot manage.
    const defaulted = await roster.post('/api/projects', { name: 'Defaulted' }, testToken);
    expect(defaulted.status).toBe(403);
  });

  it('lists only the projects of the client environments', async () => {
    const res = await roster.get('/api/projects', testToken);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeGreaterThan(0);
    expect(
      res.body.data.every((p: { environment: { type: string } }) => p.environment.type === 'test'),
    ).toBe(true);
    expect(res.body.data.map((p: { id: number }) => p.id)).toContain(testProject.id);
    expect(res.body.total).toBe(res.body.data.length);
    const filtered = await roster.get('/api/projects?environment_type=dev', testToken);
    expect(filtered.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
  });

  it('answers 403 to a TEST client reading, renaming or deleting a DEV project', async () => {
    const forbiddenBody = {
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    };
    const read = await roster.get(`/api/projects/${devProject.id}`, testToken);
    expect(read.status).toBe(403);
    expect(read.body).toEqual(forbiddenBody);
    const rename = await roster.put(
      `/api/projects/${devProject.id}`,
      { name: 'Hijacked' },
      testToken,
    );
    expect(rename.status).toBe(403);
    expect(rename.body).toEqual(forbiddenBody);
    const removal = await roster.delete(`/api/projects/${devProject.id}`, testToken);
    expect(removal.status).toBe(403);
    expect(removal.body).toEqual(forbiddenBody);
    const still = await roster.get(`/api/projects/${devProject.id}`);
    expect(still.body.data.name).toBe('Scoped dev');
  });

  it('lets a TEST client read and rename a TEST project', async () => {
    const read = await roster.get(`/api/projects/${testProject.id}`, testToken);
    expect(read.status).toBe(200);
    const rename = await roster.put(
      `/api/projects/${testProject.id}`,
      { name: 'Scoped test renamed' },
      testToken,
    );
    expect(rename.status).toBe(200);
    expect(rename.body.data.name).toBe('Scoped test renamed');
  });

  it('limits a client assigned to projects to those projects', async () => {
    const list = await roster.get('/api/projects', projectToken);
    expect(list.status).toBe(200);
    expect(list.body.data.map((p: { id: number }) => p.id)).toEqual([devProject.id]);
    expect(list.body.total).toBe(1);

    const own = await roster.get(`/api/projects/${devProject.id}`, projectToken);
    expect(own.status).toBe(200);
    const other = await roster.get(`/api/projects/${otherDevProject.id}`, projectToken);
    expect(other.status).toBe(403);
    expect(other.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: `This API client has no access to project ${otherDevProject.id}`,
        },
      ],
    });
    const removal = await roster.delete(`/api/projects/${otherDevProject.id}`, projectToken);
    expect(removal.status).toBe(403);
  });

  it('answers 403 when a client assigned to projects creates a project', async () => {
    const res = await roster.post('/api/projects', { name: 'Out of scope' }, projectToken);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'forbidden',
          title: 'An API client limited to some projects cannot create projects',
        },
      ],
    });
  });
});
