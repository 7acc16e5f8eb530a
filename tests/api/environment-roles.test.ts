/** Environment roles (/api/environment_roles), the new model's per-environment roles (spec 003). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const badRequest = (title: string) => ({ errors: [{ code: 'bad_request', title }] });
const ROLE_IN_USE = 'You can\u2019t delete a role when collaborators are assigned to the role.';
const TEAM_ALL = { team: { privileges: 'all' } };

async function createRole(
  name: string,
  config: unknown = TEAM_ALL,
): Promise<{ id: number; name: string }> {
  const res = await roster.post('/api/environment_roles', {
    environment_role: { name, config, inheritable: false },
  });
  if (res.status !== 200)
    throw new Error(`environment role create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

async function assign(memberId: number, roleName: string, environmentType = 'dev'): Promise<void> {
  const res = await roster.put(`/api/members/${memberId}`, {
    env_roles: [{ environment_type: environmentType, name: roleName, role_type: 'environment' }],
  });
  if (res.status !== 200) throw new Error(`assign failed: ${res.status} ${res.text}`);
}

describe('POST /api/environment_roles', () => {
  it('creates an environment role and answers with the reference shape', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: {
        name: 'Developer',
        config: { team: { privileges: 'all' } },
        inheritable: false,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Developer',
        config: { team: { privileges: 'all' } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
    expect(Number.isInteger(res.body.data.id)).toBe(true);
    expect(Object.keys(res.body.data)).toEqual([
      'id',
      'name',
      'config',
      'members_count',
      'type',
      'created_at',
      'updated_at',
    ]);
  });

  it('stores a config with privilege lists as given', async () => {
    const config = {
      team: { privileges: ['read', 'invite'] },
      lookup_table: { privileges: ['read'] },
    };
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Lists', config },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.config).toEqual(config);
  });

  it('accepts an empty config', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Nothing', config: {} },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.config).toEqual({});
  });

  it('returns 400 when the role name is blank', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: ' ', config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the role name is missing', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the role name is over 200 characters', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'r'.repeat(201), config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('environment_role.name must NOT have more than 200 characters'),
    );
  });

  it('accepts a role name of exactly 200 characters', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'e'.repeat(200), config: TEAM_ALL },
    });
    expect(res.status).toBe(200);
  });

  it('returns 400 when another environment role has the name, in any letter case', async () => {
    await createRole('Duplicate env role');
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'DUPLICATE ENV ROLE', config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when inheritable is true', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Inheritable', config: TEAM_ALL, inheritable: true },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Inheritable can only be set to true in Admin AHQ or Embedded partner workspaces'),
    );
    expect((await roster.get('/api/environment_roles?name=Inheritable')).body.total).toBe(0);
  });

  it('returns 400 when a privileges value is a number', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Numeric privileges', config: { team: { privileges: 5 } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect((await roster.get('/api/environment_roles?name=Numeric')).body.total).toBe(0);
  });

  it('returns 400 when a resource has no privileges key', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'No privileges key', config: { team: {} } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('environment_role.config.team.privileges is required'));
  });

  it('returns 400 when the config names an unknown resource', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Unknown resource', config: { spaceship: { privileges: 'all' } } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has an unknown environment resource: spaceship'));
  });

  it('returns 400 when the config names a project resource', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Project resource', config: { recipe: { privileges: 'all' } } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has an unknown environment resource: recipe'));
  });

  it('returns 400 when the config names an unknown privilege', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: {
        name: 'Unknown privilege',
        config: { team: { privileges: ['read', 'fly'] } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has unknown privileges for team: fly'));
  });

  it('returns 400 when the config is missing', async () => {
    const res = await roster.post('/api/environment_roles', {
      environment_role: { name: 'No config' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('environment_role.config is required'));
  });

  it('returns 400 when the environment_role object is missing', async () => {
    const res = await roster.post('/api/environment_roles', { name: 'Flat', config: TEAM_ALL });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('environment_role is required'));
  });
});

describe('GET /api/environment_roles', () => {
  it('lists roles without their config, with page metadata', async () => {
    const role = await createRole('Listed env role');
    const res = await roster.get(
      '/api/environment_roles?name=Listed%20env&page[number]=1&page[size]=100',
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          id: role.id,
          name: 'Listed env role',
          members_count: 0,
          type: 'custom',
          created_at: expect.stringMatching(ISO),
          updated_at: expect.stringMatching(ISO),
        },
      ],
      total: 1,
      page: { number: 1, size: 100 },
    });
  });

  it('filters roles by a part of their name, ignoring letter case', async () => {
    await createRole('Filter env Builder');
    await createRole('Filter env Viewer');
    const res = await roster.get('/api/environment_roles?name=BUILDER');
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { name: string }) => r.name)).toEqual(['Filter env Builder']);
    expect(res.body.total).toBe(1);
  });

  it('paginates with page[number] and page[size]', async () => {
    await createRole('Paged env 1');
    await createRole('Paged env 2');
    await createRole('Paged env 3');
    const res = await roster.get(
      '/api/environment_roles?name=paged%20env&page[number]=2&page[size]=2',
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { name: string }) => r.name)).toEqual(['Paged env 3']);
    expect(res.body.total).toBe(3);
    expect(res.body.page).toEqual({ number: 2, size: 2 });
  });

  it('accepts URL-encoded page keys', async () => {
    const res = await roster.get('/api/environment_roles?name=paged%20env&page%5Bsize%5D=1');
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { name: string }) => r.name)).toEqual(['Paged env 1']);
    expect(res.body.page).toEqual({ number: 1, size: 1 });
  });

  it('returns 400 when page[size] is over 100', async () => {
    const res = await roster.get('/api/environment_roles?page[size]=101');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('page[size] must be <= 100'));
  });

  it('returns 403 to an API client without the DEV environment', async () => {
    const client = await roster.post('/api/api_clients', {
      name: 'Prod only (env roles)',
      environment_types: ['prod'],
    });
    const res = await roster.get('/api/environment_roles', client.body.data.token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
  });
});

describe('GET /api/environment_roles/:id', () => {
  it('returns the role with its config', async () => {
    const role = await createRole('Detailed env role', {
      team: { privileges: ['read'] },
      audit_log: { privileges: 'all' },
    });
    const res = await roster.get(`/api/environment_roles/${role.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: role.id,
        name: 'Detailed env role',
        config: { team: { privileges: ['read'] }, audit_log: { privileges: 'all' } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.get('/api/environment_roles/987654');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });

  it('returns 400 for an id that is not a number', async () => {
    const res = await roster.get('/api/environment_roles/abc');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
  });
});

describe('PUT /api/environment_roles/:id', () => {
  it('updates the name and config', async () => {
    const role = await createRole('Before env update');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: {
        name: 'Builder',
        config: { lookup_table: { privileges: ['read'] } },
        inheritable: false,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: role.id,
        name: 'Builder',
        config: { lookup_table: { privileges: ['read'] } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
    expect((await roster.get(`/api/environment_roles/${role.id}`)).body.data.config).toEqual({
      lookup_table: { privileges: ['read'] },
    });
  });

  it('keeps its members count when updated', async () => {
    const role = await createRole('Counted on update');
    const member = await createMember(roster, { email: 'env.update.count@example.com' });
    await assign(member.id, 'Counted on update');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: { name: 'Counted on update', config: { team: { privileges: ['read'] } } },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.members_count).toBe(1);
  });

  it('returns 400 when the role name is blank', async () => {
    const role = await createRole('Blank env update');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: { name: '', config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the new name belongs to another role', async () => {
    await createRole('Taken env name');
    const role = await createRole('Renamed env role');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: { name: 'Taken env name', config: TEAM_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when inheritable is true', async () => {
    const role = await createRole('Inheritable on update');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: { name: 'Inheritable on update', config: TEAM_ALL, inheritable: true },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Inheritable can only be set to true in Admin AHQ or Embedded partner workspaces'),
    );
  });

  it('returns 400 when the config is invalid', async () => {
    const role = await createRole('Invalid config update');
    const res = await roster.put(`/api/environment_roles/${role.id}`, {
      environment_role: { name: 'Invalid config update', config: { team: { privileges: 5 } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect((await roster.get(`/api/environment_roles/${role.id}`)).body.data.config).toEqual(
      TEAM_ALL,
    );
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.put('/api/environment_roles/987654', {
      environment_role: { name: 'Ghost', config: TEAM_ALL },
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('DELETE /api/environment_roles/:id', () => {
  it('deletes an unassigned role', async () => {
    const role = await createRole('Deleted env role');
    const res = await roster.delete(`/api/environment_roles/${role.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await roster.get(`/api/environment_roles/${role.id}`)).status).toBe(404);
  });

  it('returns 400 with the reference text while a collaborator is assigned the role', async () => {
    const role = await createRole('Assigned env role');
    const member = await createMember(roster, { email: 'env.assigned@example.com' });
    await assign(member.id, 'Assigned env role');
    const res = await roster.delete(`/api/environment_roles/${role.id}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: ROLE_IN_USE }] });
    expect((await roster.get(`/api/environment_roles/${role.id}`)).status).toBe(200);
  });

  it('deletes the role once its collaborator has another role', async () => {
    const role = await createRole('Released env role');
    const member = await createMember(roster, { email: 'env.released@example.com' });
    await assign(member.id, 'Released env role');
    const back = await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'dev', name: 'Analyst', role_type: 'privilege_group' }],
    });
    expect(back.status).toBe(200);
    expect((await roster.get(`/api/environment_roles/${role.id}`)).body.data.members_count).toBe(0);
    expect((await roster.delete(`/api/environment_roles/${role.id}`)).status).toBe(204);
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.delete('/api/environment_roles/987654');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('members_count of environment roles', () => {
  it('counts each collaborator once however many environments they hold the role in', async () => {
    const role = await createRole('Counted env role');
    const one = await createMember(roster, { email: 'env.count.one@example.com' });
    const two = await createMember(roster, { email: 'env.count.two@example.com' });
    const both = await roster.put(`/api/members/${one.id}`, {
      env_roles: [
        { environment_type: 'dev', name: 'Counted env role', role_type: 'environment' },
        { environment_type: 'prod', name: 'Counted env role', role_type: 'environment' },
      ],
    });
    expect(both.status).toBe(200);
    expect((await roster.get(`/api/environment_roles/${role.id}`)).body.data.members_count).toBe(1);
    await assign(two.id, 'Counted env role', 'test');
    expect((await roster.get(`/api/environment_roles/${role.id}`)).body.data.members_count).toBe(2);
    const listed = await roster.get('/api/environment_roles?name=Counted%20env%20role');
    expect(listed.body.data[0].members_count).toBe(2);
  });

  it('shows the assigned role on the collaborator with role_type environment', async () => {
    await createRole('Shown env role', { lookup_table: { privileges: ['read'] } });
    const member = await createMember(roster, { email: 'env.shown@example.com' });
    await assign(member.id, 'Shown env role');
    const res = await roster.get(`/api/members/${member.id}`);
    expect(res.body.data.roles).toContainEqual({
      environment_type: 'dev',
      role_name: 'Shown env role',
      role_type: 'environment',
    });
    const privileges = await roster.get(`/api/members/${member.id}/privileges`);
    expect(privileges.body.data).toContainEqual({
      environment_type: 'dev',
      name: 'Shown env role',
      role_type: 'environment',
      privileges: { 'Lookup tables': ['read'] },
    });
  });
});
