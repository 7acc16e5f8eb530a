/**
 * Collaborators: GET/PUT/DELETE /api/members(/:id) and GET /api/members/:id/privileges, with the
 * reference API's shapes, sample requests and error texts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let developersId: string;
let systemGroupId: string;

beforeAll(async () => {
  roster = await startRoster();
  const developers = await roster.post('/api/user_groups', { user_group: { name: 'Developers' } });
  developersId = developers.body.data.id;
  const groups = await roster.get('/api/user_groups');
  systemGroupId = groups.body.data.find((g: { system: boolean }) => g.system).id;
});
afterAll(async () => {
  await roster.close();
});

const ALL_ADMIN = [
  { environment_type: 'dev', name: 'Admin', role_type: 'privilege_group' },
  { environment_type: 'test', name: 'Admin', role_type: 'privilege_group' },
  { environment_type: 'prod', name: 'Admin', role_type: 'privilege_group' },
];

async function rolesOf(id: number) {
  const res = await roster.get(`/api/members/${id}`);
  expect(res.status).toBe(200);
  return res.body.data.roles;
}

describe('GET /api/members/:id', () => {
  it('returns the collaborator in the reference API shape', async () => {
    const created = await createMember(roster, {
      name: 'Dana',
      email: 'dana@shape.example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Analyst' },
        { environment_type: 'prod', name: 'Operator', role_type: 'privilege_group' },
      ],
      user_group_ids: [developersId],
    });
    const res = await roster.get(`/api/members/${created.id}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['data']);
    const data = res.body.data;
    expect(Object.keys(data).sort()).toEqual(
      [
        'created_at',
        'email',
        'external_id',
        'grant_type',
        'id',
        'last_activity_log',
        'name',
        'roles',
        'time_zone',
        'user_groups',
      ].sort(),
    );
    expect(data).toEqual({
      id: created.id,
      grant_type: 'team',
      user_groups: [
        { id: systemGroupId, name: 'All collaborators', system: true },
        { id: developersId, name: 'Developers', system: false },
      ],
      roles: [
        { environment_type: 'dev', role_name: 'Analyst', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'Operator', role_type: 'privilege_group' },
      ],
      last_activity_log: {
        id: expect.any(Number),
        event_type: 'member_joined',
        created_at: expect.any(String),
      },
      external_id: null,
      name: 'Dana',
      email: 'dana@shape.example.com',
      time_zone: 'UTC',
      created_at: expect.any(String),
    });
    expect(new Date(data.created_at).toISOString()).toBe(data.created_at);

    // The activity is the audit event of the acceptance.
    const events = await roster.get(
      `/api/audit_events?action=member_joined&target_id=${created.id}`,
    );
    expect(events.body.data).toHaveLength(1);
    expect(data.last_activity_log).toEqual({
      id: events.body.data[0].id,
      event_type: 'member_joined',
      created_at: events.body.data[0].created_at,
    });
  });

  it('answers 404 for an unknown id and 400 for a non-numeric id', async () => {
    const missing = await roster.get('/api/members/987654');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
    const bad = await roster.get('/api/members/abc');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({
      code: 'bad_request',
      title: expect.stringMatching(/^id /),
    });
  });
});

describe('GET /api/members', () => {
  it('filters by a part of the email and reports the total', async () => {
    await createMember(roster, { email: 'ann@filter.example.org' });
    await createMember(roster, { email: 'bob@filter.example.org' });
    await createMember(roster, { email: 'cyd@other.example.net' });
    const res = await roster.get('/api/members?email=filter.example.org');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.data.map((m: { email: string }) => m.email)).toEqual([
      'ann@filter.example.org',
      'bob@filter.example.org',
    ]);
    expect(res.body.data[0]).toMatchObject({
      grant_type: 'team',
      user_groups: [{ name: 'All collaborators', system: true }],
    });

    const upper = await roster.get('/api/members?email=FILTER.EXAMPLE');
    expect(upper.body.total).toBe(2);
  });

  it('treats LIKE wildcards in the filter literally', async () => {
    await createMember(roster, { email: 'under_score@wild.example.org' });
    await createMember(roster, { email: 'underXscore@wild.example.org' });
    const res = await roster.get(`/api/members?email=${encodeURIComponent('under_score')}`);
    expect(res.body.data.map((m: { email: string }) => m.email)).toEqual([
      'under_score@wild.example.org',
    ]);
    const percent = await roster.get(`/api/members?email=${encodeURIComponent('%')}`);
    expect(percent.body).toMatchObject({ data: [], total: 0 });
  });

  it('paginates with page[number] and page[size]', async () => {
    for (const name of ['p1', 'p2', 'p3'])
      await createMember(roster, { email: `${name}@pages.example.org` });
    const first = await roster.get(
      '/api/members?email=pages.example.org&page[number]=1&page[size]=2',
    );
    expect(first.body).toMatchObject({ total: 3, page: { number: 1, size: 2 } });
    expect(first.body.data.map((m: { email: string }) => m.email)).toEqual([
      'p1@pages.example.org',
      'p2@pages.example.org',
    ]);
    const second = await roster.get(
      '/api/members?email=pages.example.org&page%5Bnumber%5D=2&page%5Bsize%5D=2',
    );
    expect(second.body.data.map((m: { email: string }) => m.email)).toEqual([
      'p3@pages.example.org',
    ]);
    expect(second.body.total).toBe(3);
  });

  it('gives each collaborator of a page their own groups and roles', async () => {
    const ops = await roster.post('/api/user_groups', { user_group: { name: 'Page ops' } });
    const qa = await roster.post('/api/user_groups', { user_group: { name: 'Page QA' } });
    const [opsId, qaId] = [ops.body.data.id as string, qa.body.data.id as string];
    const setups = [
      { groups: [opsId, qaId], dev: 'Analyst', prod: 'Admin' },
      { groups: [], dev: 'Admin', prod: 'No access' },
      { groups: [qaId], dev: 'No access', prod: 'Operator' },
      { groups: [qaId, opsId, developersId], dev: 'Operator', prod: 'Analyst' },
    ];
    const names = new Map([
      [opsId, 'Page ops'],
      [qaId, 'Page QA'],
      [developersId, 'Developers'],
    ]);
    for (const [i, setup] of setups.entries())
      await createMember(roster, {
        email: `m${i}@grouped.example.org`,
        env_roles: [
          { environment_type: 'dev', name: setup.dev },
          { environment_type: 'prod', name: setup.prod },
        ],
        user_group_ids: setup.groups,
      });
    const res = await roster.get('/api/members?email=grouped.example.org&page[size]=10');
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(setups.length);
    for (const [i, setup] of setups.entries()) {
      const member = res.body.data[i];
      expect(member.email).toBe(`m${i}@grouped.example.org`);
      // The system group first; the others in the order they were joined (one invitation joins
      // them together, in no order of its own), so compared by ID.
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
      expect(member.user_groups[0]).toEqual({
        id: systemGroupId,
        name: 'All collaborators',
        system: true,
      });
      expect([...member.user_groups.slice(1)].sort(byId)).toEqual(
        setup.groups.map((id) => ({ id, name: names.get(id), system: false })).sort(byId),
      );
      expect(member.roles.map((r: { role_name: string }) => r.role_name)).toEqual([
        setup.dev,
        'No access',
        setup.prod,
      ]);
    }
  });

  it('answers 400 for a page size over 100', async () => {
    const res = await roster.get('/api/members?page[size]=101');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect(res.body.errors[0].title).toMatch(/page\[size\]/);
  });
});

describe('PUT /api/members/:id (reference sample requests)', () => {
  it('updates the role of one environment and leaves the others (request 1)', async () => {
    const member = await createMember(roster, { email: 'put1@example.com', env_roles: ALL_ADMIN });
    const res = await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'prod', name: 'Operator', role_type: 'privilege_group' }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { result: 'ok' } });
    expect(await rolesOf(member.id)).toEqual([
      { environment_type: 'dev', role_name: 'Admin', role_type: 'privilege_group' },
      { environment_type: 'test', role_name: 'Admin', role_type: 'privilege_group' },
      { environment_type: 'prod', role_name: 'Operator', role_type: 'privilege_group' },
    ]);
  });

  it('updates every environment, NoAccess removing access (request 2)', async () => {
    const member = await createMember(roster, { email: 'put2@example.com', env_roles: ALL_ADMIN });
    const res = await roster.put(`/api/members/${member.id}`, {
      env_roles: [
        { environment_type: 'prod', name: 'Operator', role_type: 'privilege_group' },
        { environment_type: 'dev', name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'test', name: 'NoAccess', role_type: 'privilege_group' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { result: 'ok' } });
    expect(await rolesOf(member.id)).toEqual([
      { environment_type: 'dev', role_name: 'Admin', role_type: 'privilege_group' },
      { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
      { environment_type: 'prod', role_name: 'Operator', role_type: 'privilege_group' },
    ]);
  });

  it('answers 400 "Role Custom Role not found" with a numeric code (request 3)', async () => {
    const member = await createMember(roster, { email: 'put3@example.com', env_roles: ALL_ADMIN });
    const res = await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'prod', name: 'Custom Role', role_type: 'privilege_group' }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 400, title: 'Role Custom Role not found' }] });
  });

  it('answers 400 "Environment Custom Environment not found" with a numeric code (request 4)', async () => {
    const member = await createMember(roster, { email: 'put4@example.com', env_roles: ALL_ADMIN });
    const res = await roster.put(`/api/members/${member.id}`, {
      env_roles: [
        { environment_type: 'Custom Environment', name: 'Admin', role_type: 'privilege_group' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 400, title: 'Environment Custom Environment not found' }],
    });
  });

  it('changes nothing when one of the environments is invalid', async () => {
    const member = await createMember(roster, { email: 'put5@example.com', env_roles: ALL_ADMIN });
    const before = await rolesOf(member.id);
    const badRole = await roster.put(`/api/members/${member.id}`, {
      env_roles: [
        { environment_type: 'dev', name: 'Operator' },
        { environment_type: 'prod', name: 'Custom Role' },
      ],
    });
    expect(badRole.status).toBe(400);
    const badEnvironment = await roster.put(`/api/members/${member.id}`, {
      env_roles: [
        { environment_type: 'dev', name: 'Operator' },
        { environment_type: 'staging', name: 'Operator' },
      ],
    });
    expect(badEnvironment.status).toBe(400);
    expect(badEnvironment.body).toEqual({
      errors: [{ code: 400, title: 'Environment staging not found' }],
    });
    expect(await rolesOf(member.id)).toEqual(before);
    const events = await roster.get(
      `/api/audit_events?action=member.roles_updated&target_id=${member.id}`,
    );
    expect(events.body.total).toBe(0);
  });

  it('assigns an environment role with role_type "environment"', async () => {
    const role = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Env Builder', config: { team: { privileges: 'all' } } },
    });
    expect(role.status).toBe(200);
    const member = await createMember(roster, { email: 'envrole@example.com' });
    const res = await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'test', name: 'Env Builder', role_type: 'environment' }],
    });
    expect(res.status).toBe(200);
    expect((await rolesOf(member.id))[1]).toEqual({
      environment_type: 'test',
      role_name: 'Env Builder',
      role_type: 'environment',
    });

    // A legacy role name is not an environment role, and the reverse.
    const wrongKind = await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'test', name: 'Admin', role_type: 'environment' }],
    });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body).toEqual({ errors: [{ code: 400, title: 'Role Admin not found' }] });
    const privileges = await roster.get(`/api/members/${member.id}/privileges`);
    expect(privileges.body.data[1]).toMatchObject({
      environment_type: 'test',
      name: 'Env Builder',
      role_type: 'environment',
    });
  });

  it('answers 400 in the numeric style for a body without env_roles or with an empty list', async () => {
    const member = await createMember(roster, { email: 'put6@example.com' });
    const missing = await roster.put(`/api/members/${member.id}`, {});
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errors: [{ code: 400, title: 'env_roles is required' }] });
    const empty = await roster.put(`/api/members/${member.id}`, { env_roles: [] });
    expect(empty.status).toBe(400);
    expect(empty.body.errors[0]).toMatchObject({
      code: 400,
      title: expect.stringMatching(/^env_roles /),
    });
  });

  it('answers 404 in the numeric style for an unknown collaborator', async () => {
    const res = await roster.put('/api/members/987654', {
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 404, title: 'Not found' }] });
  });

  it('records the change with before and after in the audit log', async () => {
    const member = await createMember(roster, { email: 'put7@example.com', env_roles: ALL_ADMIN });
    await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'test', name: 'Operator' }],
    });
    const events = await roster.get(
      `/api/audit_events?action=member.roles_updated&target_id=${member.id}`,
    );
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]).toMatchObject({
      actor: { type: 'api_client' },
      target: { type: 'member', id: String(member.id) },
      before: [
        { environment_type: 'dev', role_name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'Admin', role_type: 'privilege_group' },
      ],
      after: [{ environment_type: 'test', role_name: 'Operator', role_type: 'privilege_group' }],
    });
  });
});

describe('DELETE /api/members/:id', () => {
  it('answers 204, then 404, and removes the collaborator’s memberships and grants', async () => {
    const member = await createMember(roster, {
      email: 'leaver@example.com',
      user_group_ids: [developersId],
    });
    const project = await roster.post('/api/projects', {
      name: 'Leaver project',
      environment_type: 'dev',
    });
    expect(project.status).toBe(201);
    const role = await roster.post('/api/project_roles', {
      project_role: { name: 'Leaver role', config: { recipe: { privileges: 'all' } } },
    });
    const granted = await roster.put(`/api/projects/${project.body.data.id}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: String(member.id),
          project_role_id: role.body.data.id,
        },
      ],
    });
    expect(granted.status).toBe(200);
    const grants = await roster.get(`/api/members/${member.id}/project_grants`);
    expect(grants.body.total).toBe(1);
    const grantId = grants.body.data[0].id;

    const res = await roster.delete(`/api/members/${member.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    expect((await roster.get(`/api/members/${member.id}`)).status).toBe(404);
    expect((await roster.delete(`/api/members/${member.id}`)).status).toBe(404);
    const groupMembers = await roster.get(`/api/user_groups/${developersId}/members`);
    expect(
      groupMembers.body.data.some((m: { email: string }) => m.email === 'leaver@example.com'),
    ).toBe(false);
    expect((await roster.get(`/api/project_grants/${grantId}`)).status).toBe(404);
    const projectGrants = await roster.get(`/api/projects/${project.body.data.id}/project_grants`);
    expect(projectGrants.body).toMatchObject({ data: [], total: 0 });

    const events = await roster.get(
      `/api/audit_events?action=member.deleted&target_id=${member.id}`,
    );
    expect(events.body.data[0]).toMatchObject({
      actor: { type: 'api_client' },
      target: { type: 'member', id: String(member.id) },
      before: { name: 'leaver', email: 'leaver@example.com' },
      after: null,
    });
  });

  it('answers 400 for a non-numeric id', async () => {
    const res = await roster.delete('/api/members/x1');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
  });
});

describe('GET /api/members/:id/privileges', () => {
  it('returns the Operator privileges of the reference API in every environment', async () => {
    const member = await createMember(roster, {
      email: 'operator@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Operator' },
        { environment_type: 'test', name: 'Operator' },
        { environment_type: 'prod', name: 'Operator' },
      ],
    });
    const res = await roster.get(`/api/members/${member.id}/privileges`);
    expect(res.status).toBe(200);
    const operator = {
      Recipes: ['read', 'run', 'read_run_history'],
      Folders: ['read'],
      Projects: ['read'],
      'Use in recipes': ['all'],
      'Test automation': ['read'],
    };
    expect(res.body).toEqual({
      data: ['dev', 'test', 'prod'].map((environment_type) => ({
        environment_type,
        name: 'Operator',
        role_type: 'privilege_group',
        privileges: operator,
      })),
    });
  });

  it('answers 404 for an unknown collaborator and 400 for a non-numeric id', async () => {
    expect((await roster.get('/api/members/987654/privileges')).status).toBe(404);
    expect((await roster.get('/api/members/nope/privileges')).status).toBe(400);
  });
});
