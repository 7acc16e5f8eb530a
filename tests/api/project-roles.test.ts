/** Project roles (/api/project_roles), granted on projects through project grants (spec 003). */
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
const RECIPE_ALL = { recipe: { privileges: 'all' } };

async function createRole(
  name: string,
  config: unknown = RECIPE_ALL,
): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/project_roles', {
    project_role: { name, config, inheritable: false },
  });
  if (res.status !== 200) throw new Error(`project role create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

let projectSeq = 0;
async function createProject(environmentType = 'dev'): Promise<{ id: number }> {
  projectSeq += 1;
  const res = await roster.post('/api/projects', {
    name: `Role project ${projectSeq}`,
    environment_type: environmentType,
  });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

async function grant(
  projectId: number,
  assignment: { type: 'User' | 'UserGroup'; id: string | number },
  roleId: string,
) {
  const res = await roster.put(`/api/projects/${projectId}/project_grants`, {
    project_grants: [
      {
        assignment_type: assignment.type,
        assignment_id: String(assignment.id),
        project_role_id: roleId,
      },
    ],
  });
  if (res.status !== 200) throw new Error(`grant failed: ${res.status} ${res.text}`);
}

describe('POST /api/project_roles', () => {
  it('creates a project role and answers with the reference shape', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: {
        name: 'Builder',
        config: { recipe: { privileges: 'all' } },
        inheritable: false,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: expect.stringMatching(/^pr-[A-Za-z0-9_-]+$/),
        name: 'Builder',
        config: { recipe: { privileges: 'all' } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
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

  it('stores privilege lists as given', async () => {
    const config = {
      folder: { privileges: ['view', 'create'] },
      project_administration: { privileges: ['access_control'] },
    };
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'Folder keeper', config },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.config).toEqual(config);
  });

  it('returns 400 when the role name is blank', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: '', config: RECIPE_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the role name is missing', async () => {
    const res = await roster.post('/api/project_roles', { project_role: { config: RECIPE_ALL } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the role name is over 200 characters', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'p'.repeat(201), config: RECIPE_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('project_role.name must NOT have more than 200 characters'),
    );
  });

  it('returns 400 when another project role has the name', async () => {
    await createRole('Duplicate project role');
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'duplicate project role', config: RECIPE_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('allows a project role to share its name with an environment role', async () => {
    const env = await roster.post('/api/environment_roles', {
      environment_role: { name: 'Shared name', config: {} },
    });
    expect(env.status).toBe(200);
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'Shared name', config: RECIPE_ALL },
    });
    expect(res.status).toBe(200);
  });

  it('returns 400 when inheritable is true', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'Inheritable project role', config: RECIPE_ALL, inheritable: true },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Inheritable can only be set to true in Admin AHQ or Embedded partner workspaces'),
    );
  });

  it('returns 400 when a privileges value is a number', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'Numeric project privileges', config: { recipe: { privileges: 5 } } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect((await roster.get('/api/project_roles?name=Numeric')).body.total).toBe(0);
  });

  it('returns 400 when the config names an environment resource', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'Env resource', config: { team: { privileges: 'all' } } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has an unknown project resource: team'));
  });

  it('returns 400 when the config names an unknown privilege', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: {
        name: 'Unknown project privilege',
        config: { folder: { privileges: ['read'] } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Config has unknown privileges for folder: read'));
  });

  it('returns 400 when the config is not an object', async () => {
    const res = await roster.post('/api/project_roles', {
      project_role: { name: 'String config', config: 'all' },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
  });
});

describe('GET /api/project_roles', () => {
  it('lists roles without their config, with page metadata', async () => {
    const role = await createRole('Listed project role');
    const res = await roster.get(
      '/api/project_roles?name=Listed%20project&page[number]=1&page[size]=100',
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          id: role.id,
          name: 'Listed project role',
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

  it('filters by a part of the name', async () => {
    await createRole('Filter project Alpha');
    await createRole('Filter project Beta');
    const res = await roster.get('/api/project_roles?name=beta');
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { name: string }) => r.name)).toEqual(['Filter project Beta']);
  });

  it('paginates with page[number] and page[size], also URL-encoded', async () => {
    await createRole('Paged project 1');
    await createRole('Paged project 2');
    await createRole('Paged project 3');
    const plain = await roster.get(
      '/api/project_roles?name=paged%20project&page[number]=2&page[size]=2',
    );
    expect(plain.status).toBe(200);
    expect(plain.body.data.map((r: { name: string }) => r.name)).toEqual(['Paged project 3']);
    expect(plain.body.total).toBe(3);
    expect(plain.body.page).toEqual({ number: 2, size: 2 });
    const encoded = await roster.get(
      '/api/project_roles?name=paged%20project&page%5Bnumber%5D=2&page%5Bsize%5D=1',
    );
    expect(encoded.body.data.map((r: { name: string }) => r.name)).toEqual(['Paged project 2']);
    expect(encoded.body.page).toEqual({ number: 2, size: 1 });
  });

  it('returns 400 when page[size] is over 100', async () => {
    const res = await roster.get('/api/project_roles?page[size]=1000');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('page[size] must be <= 100'));
  });
});

describe('GET /api/project_roles/:id', () => {
  it('returns the role with its config', async () => {
    const role = await createRole('Developer', RECIPE_ALL);
    const res = await roster.get(`/api/project_roles/${role.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: role.id,
        name: 'Developer',
        config: { recipe: { privileges: 'all' } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.get('/api/project_roles/pr-doesNotExist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('PUT /api/project_roles/:id', () => {
  it('updates the name and config', async () => {
    const role = await createRole('Before project update');
    const res = await roster.put(`/api/project_roles/${role.id}`, {
      project_role: {
        name: 'Builder v2',
        config: { connection: { privileges: ['read'] } },
        inheritable: false,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: role.id,
        name: 'Builder v2',
        config: { connection: { privileges: ['read'] } },
        members_count: 0,
        type: 'custom',
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('changes what the grantees may do in their projects', async () => {
    const role = await createRole('Changing privileges', { recipe: { privileges: ['read'] } });
    // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
    const member = await createMember(roster, {
      email: 'project.changing@example.com',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    const project = await createProject();
    await grant(project.id, { type: 'User', id: member.id }, role.id);
    const before = await roster.get(`/api/members/${member.id}/projects_privileges`);
    expect(before.body.data[0].projects[String(project.id)]).toEqual({ Recipes: ['read'] });
    await roster.put(`/api/project_roles/${role.id}`, {
      project_role: {
        name: 'Changing privileges',
        config: { recipe: { privileges: ['read', 'run'] } },
      },
    });
    const after = await roster.get(`/api/members/${member.id}/projects_privileges`);
    expect(after.body.data[0].projects[String(project.id)]).toEqual({ Recipes: ['read', 'run'] });
  });

  it('returns 400 when the role name is blank', async () => {
    const role = await createRole('Blank project update');
    const res = await roster.put(`/api/project_roles/${role.id}`, {
      project_role: { name: '  ', config: RECIPE_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the new name belongs to another role', async () => {
    await createRole('Taken project name');
    const role = await createRole('Renamed project role');
    const res = await roster.put(`/api/project_roles/${role.id}`, {
      project_role: { name: 'Taken project name', config: RECIPE_ALL },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.put('/api/project_roles/pr-doesNotExist', {
      project_role: { name: 'Ghost', config: RECIPE_ALL },
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('DELETE /api/project_roles/:id', () => {
  it('deletes an unassigned role', async () => {
    const role = await createRole('Deleted project role');
    const res = await roster.delete(`/api/project_roles/${role.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await roster.get(`/api/project_roles/${role.id}`)).status).toBe(404);
  });

  it('returns 400 with the reference text while a collaborator holds a grant of the role', async () => {
    const role = await createRole('Granted project role');
    const member = await createMember(roster, { email: 'project.granted@example.com' });
    const project = await createProject();
    await grant(project.id, { type: 'User', id: member.id }, role.id);
    const res = await roster.delete(`/api/project_roles/${role.id}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: ROLE_IN_USE }] });
    expect((await roster.get(`/api/project_roles/${role.id}`)).status).toBe(200);
  });

  it('returns 400 while a group holds a grant of the role', async () => {
    const role = await createRole('Group granted project role');
    const group = await roster.post('/api/user_groups', {
      user_group: { name: 'Project role holders' },
    });
    const project = await createProject();
    await grant(project.id, { type: 'UserGroup', id: group.body.data.id }, role.id);
    const res = await roster.delete(`/api/project_roles/${role.id}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: ROLE_IN_USE }] });
  });

  it('deletes the role once its grants are gone', async () => {
    const role = await createRole('Released project role');
    const member = await createMember(roster, { email: 'project.released@example.com' });
    const project = await createProject();
    await grant(project.id, { type: 'User', id: member.id }, role.id);
    const grants = await roster.get(`/api/projects/${project.id}/project_grants`);
    expect((await roster.delete(`/api/project_grants/${grants.body.data[0].id}`)).status).toBe(204);
    expect((await roster.delete(`/api/project_roles/${role.id}`)).status).toBe(204);
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.delete('/api/project_roles/pr-doesNotExist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('members_count of project roles', () => {
  it('counts each collaborator or group holding the role once, whatever the number of projects', async () => {
    const role = await createRole('Counted project role');
    const one = await createMember(roster, { email: 'project.count.one@example.com' });
    const two = await createMember(roster, { email: 'project.count.two@example.com' });
    const first = await createProject('dev');
    const second = await createProject('prod');
    await grant(first.id, { type: 'User', id: one.id }, role.id);
    expect((await roster.get(`/api/project_roles/${role.id}`)).body.data.members_count).toBe(1);
    await grant(second.id, { type: 'User', id: one.id }, role.id);
    expect((await roster.get(`/api/project_roles/${role.id}`)).body.data.members_count).toBe(1);
    await grant(second.id, { type: 'User', id: two.id }, role.id);
    expect((await roster.get(`/api/project_roles/${role.id}`)).body.data.members_count).toBe(2);
    const group = await roster.post('/api/user_groups', {
      user_group: { name: 'Counted holders' },
    });
    await grant(first.id, { type: 'UserGroup', id: group.body.data.id }, role.id);
    const listed = await roster.get('/api/project_roles?name=Counted%20project%20role');
    expect(listed.body.data[0].members_count).toBe(3);
  });
});
