/** Legacy roles (/api/roles, role_type privilege_group): the four system roles and custom roles. */
import { LEGACY_SYSTEM_ROLES } from '@roster/contracts';
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

async function createRole(
  name: string,
  privileges: Record<string, string[]> = { Recipes: ['read'] },
) {
  const res = await roster.post('/api/roles', { role: { name, privileges } });
  if (res.status !== 200) throw new Error(`legacy role create failed: ${res.status} ${res.text}`);
  return res.body.data as { id: number; name: string };
}

async function systemRoleId(name: string): Promise<number> {
  const res = await roster.get(`/api/roles?name=${encodeURIComponent(name)}`);
  return res.body.data.find((r: { name: string }) => r.name === name).id;
}

describe('GET /api/roles', () => {
  it('lists the system roles Admin, Analyst, Operator and No access with their privileges', async () => {
    const res = await roster.get('/api/roles');
    expect(res.status).toBe(200);
    const system = res.body.data.filter((r: { system: boolean }) => r.system);
    expect(system.map((r: { name: string }) => r.name)).toEqual([
      'Admin',
      'Analyst',
      'Operator',
      'No access',
    ]);
    for (const role of system) {
      expect(role).toEqual({
        id: expect.any(Number),
        name: role.name,
        privileges: LEGACY_SYSTEM_ROLES[role.name],
        project_access: 'all',
        project_ids: [],
        system: true,
        members_count: expect.any(Number),
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      });
    }
    expect(res.body.page).toEqual({ number: 1, size: 100 });
  });

  it('shows the Operator privileges the reference API prints', async () => {
    const res = await roster.get('/api/roles?name=operator');
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0].privileges).toEqual({
      Recipes: ['read', 'run', 'read_run_history'],
      Folders: ['read'],
      Projects: ['read'],
      'Use in recipes': ['all'],
      'Test automation': ['read'],
    });
  });

  it('lists custom roles after the system roles', async () => {
    await createRole('Listed custom');
    const res = await roster.get('/api/roles');
    const names = res.body.data.map((r: { name: string }) => r.name);
    expect(names.indexOf('Listed custom')).toBeGreaterThan(names.indexOf('No access'));
  });

  it('paginates with page[number] and page[size]', async () => {
    const res = await roster.get('/api/roles?page[number]=2&page%5Bsize%5D=2');
    expect(res.status).toBe(200);
    expect(res.body.data.map((r: { name: string }) => r.name)).toEqual(['Operator', 'No access']);
    expect(res.body.page).toEqual({ number: 2, size: 2 });
  });

  it('counts the collaborators holding a role', async () => {
    const before: number = (await roster.get(`/api/roles/${await systemRoleId('Operator')}`)).body
      .data.members_count;
    await createMember(roster, {
      email: 'legacy.operator@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Operator' },
        { environment_type: 'prod', name: 'Operator' },
      ],
    });
    const after = (await roster.get(`/api/roles/${await systemRoleId('Operator')}`)).body.data
      .members_count;
    expect(after).toBe(before + 1);
  });
});

describe('GET /api/roles/:id', () => {
  it('returns a role', async () => {
    const role = await createRole('Single custom', { Recipes: ['read'], Folders: ['read'] });
    const res = await roster.get(`/api/roles/${role.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: role.id,
        name: 'Single custom',
        privileges: { Recipes: ['read'], Folders: ['read'] },
        project_access: 'all',
        project_ids: [],
        system: false,
        members_count: 0,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.get('/api/roles/987654');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('POST /api/roles', () => {
  it('creates a custom role', async () => {
    const res = await roster.post('/api/roles', {
      role: { name: 'HR_Developer', privileges: { Recipes: ['read'] } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'HR_Developer',
        privileges: { Recipes: ['read'] },
        project_access: 'all',
        project_ids: [],
        system: false,
        members_count: 0,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('makes the custom role assignable to collaborators', async () => {
    await createRole('Assignable custom', { Recipes: ['read', 'run'] });
    const member = await createMember(roster, {
      email: 'legacy.assignable@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Assignable custom', role_type: 'privilege_group' },
      ],
    });
    const privileges = await roster.get(`/api/members/${member.id}/privileges`);
    expect(privileges.body.data).toContainEqual({
      environment_type: 'dev',
      name: 'Assignable custom',
      role_type: 'privilege_group',
      privileges: { Recipes: ['read', 'run'] },
    });
  });

  it('returns 400 when the role name is blank', async () => {
    const res = await roster.post('/api/roles', { role: { name: '', privileges: {} } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the role name is over 200 characters', async () => {
    const res = await roster.post('/api/roles', {
      role: { name: 'l'.repeat(201), privileges: {} },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('role.name must NOT have more than 200 characters'));
  });

  it('returns 400 when the name is that of a system role', async () => {
    const res = await roster.post('/api/roles', { role: { name: 'admin', privileges: {} } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when the name is the NoAccess alias of No access', async () => {
    const res = await roster.post('/api/roles', { role: { name: 'NoAccess', privileges: {} } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when the privileges name an unknown category', async () => {
    const res = await roster.post('/api/roles', {
      role: { name: 'Unknown category', privileges: { Spaceships: ['fly'] } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Privileges have an unknown category: Spaceships'));
  });

  it('returns 400 when the privileges name an unknown privilege', async () => {
    const res = await roster.post('/api/roles', {
      role: { name: 'Unknown privilege', privileges: { Folders: ['view'] } },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Privileges have unknown names for Folders: view'));
  });

  it('returns 400 when privileges are missing', async () => {
    const res = await roster.post('/api/roles', { role: { name: 'No privileges' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('role.privileges is required'));
  });
});

describe('PUT /api/roles/:id', () => {
  it('updates a custom role', async () => {
    const role = await createRole('Before legacy update');
    const res = await roster.put(`/api/roles/${role.id}`, {
      role: {
        name: 'After legacy update',
        privileges: { Recipes: ['read'], 'Lookup tables': ['read'] },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      id: role.id,
      name: 'After legacy update',
      privileges: { Recipes: ['read'], 'Lookup tables': ['read'] },
      project_access: 'all',
      project_ids: [],
      system: false,
      members_count: 0,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
  });

  it('returns 400 when the role is a system role, and leaves it unchanged', async () => {
    const adminId = await systemRoleId('Admin');
    const res = await roster.put(`/api/roles/${adminId}`, {
      role: { name: 'Boss', privileges: {} },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('System roles can’t be changed.'));
    const admin = await roster.get(`/api/roles/${adminId}`);
    expect(admin.body.data).toMatchObject({ name: 'Admin', privileges: LEGACY_SYSTEM_ROLES.Admin });
  });

  it('returns 400 when the new name belongs to another role', async () => {
    const role = await createRole('Renamed legacy');
    const res = await roster.put(`/api/roles/${role.id}`, {
      role: { name: 'Analyst', privileges: {} },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when the role name is blank', async () => {
    const role = await createRole('Blank legacy update');
    const res = await roster.put(`/api/roles/${role.id}`, { role: { name: ' ', privileges: {} } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.put('/api/roles/987654', { role: { name: 'Ghost', privileges: {} } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('DELETE /api/roles/:id', () => {
  it('deletes an unassigned custom role', async () => {
    const role = await createRole('Deleted legacy');
    const res = await roster.delete(`/api/roles/${role.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await roster.get(`/api/roles/${role.id}`)).status).toBe(404);
  });

  it('returns 400 for each system role, and keeps them', async () => {
    for (const name of ['Admin', 'Analyst', 'Operator', 'No access']) {
      const res = await roster.delete(`/api/roles/${await systemRoleId(name)}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(badRequest('System roles can’t be deleted.'));
    }
    const listed = await roster.get('/api/roles');
    expect(listed.body.data.filter((r: { system: boolean }) => r.system)).toHaveLength(4);
  });

  it('returns 400 with the reference text while a collaborator is assigned the role', async () => {
    const role = await createRole('Assigned legacy');
    const member = await createMember(roster, { email: 'legacy.assigned@example.com' });
    const put = await roster.put(`/api/members/${member.id}`, {
      env_roles: [
        { environment_type: 'test', name: 'Assigned legacy', role_type: 'privilege_group' },
      ],
    });
    expect(put.status).toBe(200);
    expect((await roster.get(`/api/roles/${role.id}`)).body.data.members_count).toBe(1);
    const res = await roster.delete(`/api/roles/${role.id}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: ROLE_IN_USE }] });
    expect((await roster.get(`/api/roles/${role.id}`)).status).toBe(200);
  });

  it('returns 404 for an unknown role', async () => {
    const res = await roster.delete('/api/roles/987654');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: expect.any(String) }] });
  });
});

describe('project access of a custom role', () => {
  async function project(name: string, environmentType = 'dev'): Promise<number> {
    const res = await roster.post('/api/projects', { name, environment_type: environmentType });
    expect(res.status).toBe(201);
    return res.body.data.id as number;
  }

  it('selects projects with project_ids, lists them in ID order, and keeps them on an update that names neither', async () => {
    const second = await project('Selected B');
    const first = await project('Selected A', 'prod');
    const res = await roster.post('/api/roles', {
      role: { name: 'Selective', privileges: { Recipes: ['read'] }, project_ids: [second, first] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      project_access: 'selected',
      project_ids: [Math.min(first, second), Math.max(first, second)],
    });

    const renamed = await roster.put(`/api/roles/${res.body.data.id}`, {
      role: { name: 'Selective 2', privileges: { Recipes: ['read', 'run'] } },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({
      name: 'Selective 2',
      project_access: 'selected',
      project_ids: [Math.min(first, second), Math.max(first, second)],
    });

    const widened = await roster.put(`/api/roles/${res.body.data.id}`, {
      role: { name: 'Selective 2', privileges: { Recipes: ['read'] }, project_access: 'all' },
    });
    expect(widened.body.data).toMatchObject({ project_access: 'all', project_ids: [] });
    expect((await roster.get(`/api/roles/${res.body.data.id}`)).body.data).toMatchObject({
      project_access: 'all',
      project_ids: [],
    });
  });

  it('drops a deleted project from the selection', async () => {
    const doomed = await project('Selected doomed');
    const res = await roster.post('/api/roles', {
      role: { name: 'Selective doomed', privileges: {}, project_ids: [doomed] },
    });
    expect(res.status).toBe(200);
    expect((await roster.delete(`/api/projects/${doomed}`)).status).toBe(204);
    expect((await roster.get(`/api/roles/${res.body.data.id}`)).body.data).toMatchObject({
      project_access: 'selected',
      project_ids: [],
    });
  });

  it('returns 400 for an unknown project, and for project_ids with project_access all', async () => {
    const unknown = await roster.post('/api/roles', {
      role: { name: 'Selective unknown', privileges: {}, project_ids: [999999] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(badRequest('Project 999999 not found'));

    const known = await project('Selected known');
    const mixed = await roster.post('/api/roles', {
      role: {
        name: 'Selective mixed',
        privileges: {},
        project_access: 'all',
        project_ids: [known],
      },
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body).toEqual(badRequest('project_ids are only for project_access selected'));

    const wrong = await roster.post('/api/roles', {
      role: { name: 'Selective wrong', privileges: {}, project_access: 'some' },
    });
    expect(wrong.status).toBe(400);
    expect((await roster.get('/api/roles?name=Selective')).body.data).not.toContainEqual(
      expect.objectContaining({ name: 'Selective unknown' }),
    );
  });
});
