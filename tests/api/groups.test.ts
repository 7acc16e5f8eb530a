/**
 * Collaborator groups (/api/user_groups): CRUD, the system group "All collaborators", members
 * (collaborators and pending invitees) and a group's project grants, as spec 003 describes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let systemGroupId: string;

beforeAll(async () => {
  roster = await startRoster();
  const groups = await roster.get('/api/user_groups?name=All%20collaborators');
  systemGroupId = groups.body.data[0].id;
});
afterAll(async () => {
  await roster.close();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const badRequest = (title: string) => ({ errors: [{ code: 'bad_request', title }] });
const notFoundBody = { errors: [{ code: 'not_found', title: expect.any(String) }] };

async function createGroup(
  name: string,
  description?: string,
): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/user_groups', { user_group: { name, description } });
  if (res.status !== 200) throw new Error(`group create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

let projectSeq = 0;
async function createProject(environmentType = 'dev'): Promise<{ id: number; name: string }> {
  projectSeq += 1;
  const res = await roster.post('/api/projects', {
    name: `Group project ${projectSeq}`,
    environment_type: environmentType,
  });
  if (res.status !== 201) throw new Error(`project create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

let roleSeq = 0;
async function createProjectRole(): Promise<{ id: string; name: string }> {
  roleSeq += 1;
  const res = await roster.post('/api/project_roles', {
    project_role: { name: `Group role ${roleSeq}`, config: { recipe: { privileges: 'all' } } },
  });
  if (res.status !== 200) throw new Error(`project role create failed: ${res.status} ${res.text}`);
  return res.body.data;
}

async function grantToGroup(projectId: number, groupId: string, roleId: string): Promise<void> {
  const res = await roster.put(`/api/projects/${projectId}/project_grants`, {
    project_grants: [
      { assignment_type: 'UserGroup', assignment_id: groupId, project_role_id: roleId },
    ],
  });
  if (res.status !== 200) throw new Error(`grant failed: ${res.status} ${res.text}`);
}

describe('POST /api/user_groups', () => {
  it('creates a group and answers with the reference shape', async () => {
    const res = await roster.post('/api/user_groups', {
      user_group: { name: 'Developers', description: 'Group for developers' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: expect.stringMatching(/^am-[A-Za-z0-9_-]+$/),
        name: 'Developers',
        description: 'Group for developers',
        members_count: 0,
        system: false,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
    expect(Object.keys(res.body.data)).toEqual([
      'id',
      'name',
      'description',
      'members_count',
      'system',
      'created_at',
      'updated_at',
    ]);
  });

  it('creates a group without a description as description null', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: 'No description' } });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      name: 'No description',
      description: null,
      members_count: 0,
      system: false,
    });
  });

  it('returns 400 when the group name is blank', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: '' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the group name is only whitespace', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: '   ' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the group name is missing', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { description: 'nameless' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the user_group object is missing', async () => {
    const res = await roster.post('/api/user_groups', {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_group is required'));
  });

  it('accepts a name of exactly 200 characters', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: 'n'.repeat(200) } });
    expect(res.status).toBe(200);
    expect(res.body.data.name).toBe('n'.repeat(200));
  });

  it('returns 400 when the group name is over 200 characters', async () => {
    const res = await roster.post('/api/user_groups', { user_group: { name: 'x'.repeat(201) } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_group.name must NOT have more than 200 characters'));
  });

  it('returns 400 when the description is over 300 characters', async () => {
    const res = await roster.post('/api/user_groups', {
      user_group: { name: 'Long description', description: 'd'.repeat(301) },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('user_group.description must NOT have more than 300 characters'),
    );
  });

  it('returns 400 when another group already has the name, in any letter case', async () => {
    await createGroup('Duplicated');
    const res = await roster.post('/api/user_groups', { user_group: { name: 'DUPLICATED' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when the name is that of the system group', async () => {
    const res = await roster.post('/api/user_groups', {
      user_group: { name: 'All collaborators' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });
});

describe('GET /api/user_groups', () => {
  it('lists the system group first with the reference shape and page metadata', async () => {
    const res = await roster.get('/api/user_groups?page[number]=1&page[size]=100');
    expect(res.status).toBe(200);
    expect(res.body.data[0]).toEqual({
      id: systemGroupId,
      name: 'All collaborators',
      description: expect.toSatisfy((v: unknown) => v === null || typeof v === 'string'),
      members_count: expect.any(Number),
      system: true,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(res.body.total).toBe(res.body.data.length);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
  });

  it('filters groups by a part of their name, ignoring letter case', async () => {
    await createGroup('Filter Alpha team');
    await createGroup('Filter Beta team');
    const res = await roster.get('/api/user_groups?name=alpha');
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { name: string }) => g.name)).toEqual(['Filter Alpha team']);
    expect(res.body.total).toBe(1);
  });

  it('treats LIKE wildcards in the name filter as plain characters', async () => {
    await createGroup('Percent 100% group');
    const res = await roster.get('/api/user_groups?name=' + encodeURIComponent('%'));
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { name: string }) => g.name)).toEqual(['Percent 100% group']);
  });

  it('returns an empty page when no group matches the name filter', async () => {
    const res = await roster.get('/api/user_groups?name=no-such-group-anywhere');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
  });

  it('paginates with page[number] and page[size]', async () => {
    await createGroup('Paged one');
    await createGroup('Paged two');
    await createGroup('Paged three');
    const first = await roster.get('/api/user_groups?name=paged&page[number]=1&page[size]=2');
    expect(first.status).toBe(200);
    expect(first.body.data.map((g: { name: string }) => g.name)).toEqual([
      'Paged one',
      'Paged two',
    ]);
    expect(first.body.total).toBe(3);
    expect(first.body.page).toEqual({ number: 1, size: 2 });
    const second = await roster.get('/api/user_groups?name=paged&page[number]=2&page[size]=2');
    expect(second.status).toBe(200);
    expect(second.body.data.map((g: { name: string }) => g.name)).toEqual(['Paged three']);
    expect(second.body.total).toBe(3);
    expect(second.body.page).toEqual({ number: 2, size: 2 });
  });

  it('accepts URL-encoded brackets in the page keys', async () => {
    const res = await roster.get('/api/user_groups?name=paged&page%5Bnumber%5D=2&page%5Bsize%5D=1');
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { name: string }) => g.name)).toEqual(['Paged two']);
    expect(res.body.page).toEqual({ number: 2, size: 1 });
  });

  it('returns 400 when page[size] is over 100', async () => {
    const res = await roster.get('/api/user_groups?page[size]=101');
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('page[size] must be <= 100'));
  });

  it('returns 400 when page[number] is not a number', async () => {
    const res = await roster.get('/api/user_groups?page[number]=abc');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect(res.body.errors[0].title).toMatch(/^page\[number\] /);
  });

  it('returns 401 without a token', async () => {
    const res = await roster.get('/api/user_groups', null);
    expect(res.status).toBe(401);
    expect(res.body.errors[0].code).toBe('unauthorized');
  });

  it('returns 403 to an API client without the DEV environment', async () => {
    const client = await roster.post('/api/api_clients', {
      name: 'Prod only (groups)',
      environment_types: ['prod'],
    });
    expect(client.status).toBeLessThan(300);
    const res = await roster.get('/api/user_groups', client.body.data.token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
  });
});

describe('GET /api/user_groups/:id', () => {
  it('returns the group with its members count', async () => {
    const group = await createGroup('Details', 'Group details');
    const member = await createMember(roster, { email: 'details.member@example.com' });
    await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [member.id] });
    const res = await roster.get(`/api/user_groups/${group.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: group.id,
        name: 'Details',
        description: 'Group details',
        members_count: 1,
        system: false,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.get('/api/user_groups/am-doesNotExist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('PUT /api/user_groups/:id', () => {
  it('updates the name and description', async () => {
    const group = await createGroup('Before update', 'Old');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'Developers Team', description: 'Team' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: group.id,
        name: 'Developers Team',
        description: 'Team',
        members_count: 0,
        system: false,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
    const fetched = await roster.get(`/api/user_groups/${group.id}`);
    expect(fetched.body.data).toMatchObject({ name: 'Developers Team', description: 'Team' });
  });

  it('keeps the description when the update leaves it out', async () => {
    const group = await createGroup('Keep description', 'Kept');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'Kept description' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Kept description', description: 'Kept' });
  });

  it('clears the description when it is null', async () => {
    const group = await createGroup('Clear description', 'Soon gone');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'Clear description', description: null },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name: 'Clear description', description: null });
  });

  it('keeps its own name when only the letter case changes', async () => {
    const group = await createGroup('case change');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'Case Change' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.name).toBe('Case Change');
  });

  it('returns 400 when the group name is blank', async () => {
    const group = await createGroup('Blank on update');
    const res = await roster.put(`/api/user_groups/${group.id}`, { user_group: { name: ' ' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
    const fetched = await roster.get(`/api/user_groups/${group.id}`);
    expect(fetched.body.data.name).toBe('Blank on update');
  });

  it('returns 400 when the group name is missing', async () => {
    const group = await createGroup('Missing on update');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { description: 'x' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest("Name can't be blank"));
  });

  it('returns 400 when the new name is over 200 characters', async () => {
    const group = await createGroup('Too long on update');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'y'.repeat(201) },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_group.name must NOT have more than 200 characters'));
  });

  it('returns 400 when the new name belongs to another group', async () => {
    await createGroup('Taken on update');
    const group = await createGroup('Renamed on update');
    const res = await roster.put(`/api/user_groups/${group.id}`, {
      user_group: { name: 'taken on update' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Name has already been taken'));
  });

  it('returns 400 when the group is the system group', async () => {
    const res = await roster.put(`/api/user_groups/${systemGroupId}`, {
      user_group: { name: 'Everyone' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('System groups can’t be changed.'));
    const fetched = await roster.get(`/api/user_groups/${systemGroupId}`);
    expect(fetched.body.data.name).toBe('All collaborators');
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.put('/api/user_groups/am-doesNotExist', {
      user_group: { name: 'Whatever' },
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('DELETE /api/user_groups/:id', () => {
  it('deletes the group with its memberships and project grants', async () => {
    const group = await createGroup('Doomed');
    // No access in DEV: a legacy role such as the default Analyst covers every DEV project.
    const member = await createMember(roster, {
      email: 'doomed.member@example.com',
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    expect(
      (await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [member.id] })).status,
    ).toBe(200);
    const project = await createProject();
    const role = await createProjectRole();
    await grantToGroup(project.id, group.id, role.id);
    const grantsBefore = await roster.get(`/api/projects/${project.id}/project_grants`);
    expect(grantsBefore.body.total).toBe(1);

    const res = await roster.delete(`/api/user_groups/${group.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    expect((await roster.get(`/api/user_groups/${group.id}`)).status).toBe(404);
    expect((await roster.get(`/api/user_groups/${group.id}/project_grants`)).status).toBe(404);
    const grantsAfter = await roster.get(`/api/projects/${project.id}/project_grants`);
    expect(grantsAfter.status).toBe(200);
    expect(grantsAfter.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    const memberAfter = await roster.get(`/api/members/${member.id}`);
    expect(memberAfter.body.data.user_groups).toEqual([
      { id: systemGroupId, name: 'All collaborators', system: true },
    ]);
    const role_ = await roster.get(`/api/project_roles/${role.id}`);
    expect(role_.body.data.members_count).toBe(0);
    const privileges = await roster.get(`/api/members/${member.id}/projects_privileges`);
    expect(privileges.body).toEqual({ data: [] });
  });

  it('records the deletion in the audit log', async () => {
    const group = await createGroup('Audited deletion');
    expect((await roster.delete(`/api/user_groups/${group.id}`)).status).toBe(204);
    const events = await roster.get(
      `/api/audit_events?action=user_group.deleted&target_id=${group.id}`,
    );
    expect(events.status).toBe(200);
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]).toMatchObject({
      action: 'user_group.deleted',
      target: { type: 'user_group', id: group.id },
    });
  });

  it('frees the name of a deleted group', async () => {
    const group = await createGroup('Reusable name');
    expect((await roster.delete(`/api/user_groups/${group.id}`)).status).toBe(204);
    const again = await roster.post('/api/user_groups', { user_group: { name: 'Reusable name' } });
    expect(again.status).toBe(200);
    expect(again.body.data.id).not.toBe(group.id);
  });

  it('returns 400 when the group is the system group, and keeps it', async () => {
    const res = await roster.delete(`/api/user_groups/${systemGroupId}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('You can’t delete a system group.'));
    expect((await roster.get(`/api/user_groups/${systemGroupId}`)).status).toBe(200);
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.delete('/api/user_groups/am-doesNotExist');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('the system group "All collaborators"', () => {
  it('holds every collaborator: members_count equals the number of collaborators', async () => {
    await createMember(roster, { email: 'everyone.one@example.com' });
    await createMember(roster, { email: 'everyone.two@example.com' });
    const members = await roster.get('/api/members');
    const group = await roster.get(`/api/user_groups/${systemGroupId}`);
    expect(group.status).toBe(200);
    expect(group.body.data.members_count).toBe(members.body.total);
    const groupMembers = await roster.get(`/api/user_groups/${systemGroupId}/members`);
    expect(groupMembers.status).toBe(200);
    expect(groupMembers.body.total).toBe(members.body.total);
    expect(
      groupMembers.body.data
        .map((m: { user_id: number }) => m.user_id)
        .sort((a: number, b: number) => a - b),
    ).toEqual(
      members.body.data.map((m: { id: number }) => m.id).sort((a: number, b: number) => a - b),
    );
  });

  it('lists every collaborator among the groups of each member', async () => {
    const member = await createMember(roster, { email: 'everyone.three@example.com' });
    const res = await roster.get(`/api/members/${member.id}`);
    expect(res.body.data.user_groups).toContainEqual({
      id: systemGroupId,
      name: 'All collaborators',
      system: true,
    });
  });

  it('returns 400 when adding members to the system group', async () => {
    const member = await createMember(roster, { email: 'everyone.four@example.com' });
    const res = await roster.post(`/api/user_groups/${systemGroupId}/members`, {
      user_ids: [member.id],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Every collaborator is in the system group; its members can’t be changed.'),
    );
  });

  it('returns 400 when removing members from the system group', async () => {
    const member = await createMember(roster, { email: 'everyone.five@example.com' });
    const res = await roster.delete(
      `/api/user_groups/${systemGroupId}/members?user_ids[]=${member.id}`,
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      badRequest('Every collaborator is in the system group; its members can’t be changed.'),
    );
    const group = await roster.get(`/api/user_groups/${systemGroupId}/members?text=everyone.five`);
    expect(group.body.total).toBe(1);
  });
});

describe('GET /api/user_groups/:id/members', () => {
  let groupId: string;
  let dani: { id: number };
  let alex: { id: number };
  let sam: { id: number };

  beforeAll(async () => {
    groupId = (await createGroup('Member listing')).id;
    dani = await createMember(roster, { name: 'Dani Listing', email: 'dani.listing@example.com' });
    alex = await createMember(roster, { name: 'Alex Listing', email: 'alex.listing@corp.example' });
    sam = await createMember(roster, { name: 'Sam Listing', email: 'sam.listing@example.com' });
    await roster.post(`/api/user_groups/${groupId}/members`, { user_ids: [dani.id] });
    await roster.post(`/api/user_groups/${groupId}/members`, { user_ids: [alex.id] });
    await roster.post(`/api/user_groups/${groupId}/members`, { user_ids: [sam.id] });
  });

  it('lists the members in the order they joined with the reference fields', async () => {
    const res = await roster.get(
      `/api/user_groups/${groupId}/members?page[number]=1&page[size]=100`,
    );
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
    expect(res.body.data[0]).toEqual({
      user_id: dani.id,
      member_invitation_id: null,
      name: 'Dani Listing',
      email: 'dani.listing@example.com',
      type: 'User',
      avatar_url: null,
      joined_at: expect.stringMatching(ISO),
      expires_at: null,
    });
    expect(res.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([
      dani.id,
      alex.id,
      sam.id,
    ]);
  });

  it('filters members by a part of their name', async () => {
    const res = await roster.get(`/api/user_groups/${groupId}/members?text=ALEX`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([alex.id]);
    expect(res.body.total).toBe(1);
  });

  it('filters members by a part of their email', async () => {
    const res = await roster.get(
      `/api/user_groups/${groupId}/members?text=${encodeURIComponent('@example.com')}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([dani.id, sam.id]);
    expect(res.body.total).toBe(2);
  });

  it('paginates the members', async () => {
    const res = await roster.get(`/api/user_groups/${groupId}/members?page[number]=2&page[size]=2`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([sam.id]);
    expect(res.body.total).toBe(3);
    expect(res.body.page).toEqual({ number: 2, size: 2 });
  });

  it('paginates the members with URL-encoded page keys', async () => {
    const res = await roster.get(
      `/api/user_groups/${groupId}/members?page%5Bnumber%5D=1&page%5Bsize%5D=1`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([dani.id]);
    expect(res.body.page).toEqual({ number: 1, size: 1 });
  });

  it('returns 400 when page[size] is over 100', async () => {
    const res = await roster.get(`/api/user_groups/${groupId}/members?page[size]=500`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('page[size] must be <= 100'));
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.get('/api/user_groups/am-doesNotExist/members');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('POST /api/user_groups/:id/members', () => {
  it('adds collaborators and answers {"data":null}', async () => {
    const group = await createGroup('Adding');
    const one = await createMember(roster, { email: 'adding.one@example.com' });
    const two = await createMember(roster, { email: 'adding.two@example.com' });
    const res = await roster.post(`/api/user_groups/${group.id}/members`, {
      user_ids: [one.id, two.id],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
    expect((await roster.get(`/api/user_groups/${group.id}`)).body.data.members_count).toBe(2);
    const member = await roster.get(`/api/members/${one.id}`);
    expect(member.body.data.user_groups).toEqual([
      { id: systemGroupId, name: 'All collaborators', system: true },
      { id: group.id, name: 'Adding', system: false },
    ]);
  });

  it('is harmless to add a collaborator who is already a member', async () => {
    const group = await createGroup('Re-adding');
    const one = await createMember(roster, { email: 'readding.one@example.com' });
    expect(
      (await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [one.id] })).status,
    ).toBe(200);
    const again = await roster.post(`/api/user_groups/${group.id}/members`, {
      user_ids: [one.id, one.id],
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ data: null });
    const members = await roster.get(`/api/user_groups/${group.id}/members`);
    expect(members.body.total).toBe(1);
    expect((await roster.get(`/api/user_groups/${group.id}`)).body.data.members_count).toBe(1);
  });

  it('returns 400 for an unknown user id and adds nobody', async () => {
    const group = await createGroup('Unknown user');
    const one = await createMember(roster, { email: 'unknown.user@example.com' });
    const res = await roster.post(`/api/user_groups/${group.id}/members`, {
      user_ids: [one.id, 999999],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('Users not found: 999999'));
    expect((await roster.get(`/api/user_groups/${group.id}/members`)).body.total).toBe(0);
  });

  it('returns 400 when user_ids is empty', async () => {
    const group = await createGroup('Empty add');
    const res = await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_ids must NOT have fewer than 1 items'));
  });

  it('returns 400 when user_ids is missing', async () => {
    const group = await createGroup('Missing add');
    const res = await roster.post(`/api/user_groups/${group.id}/members`, {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_ids is required'));
  });

  it('returns 404 for an unknown group', async () => {
    const one = await createMember(roster, { email: 'nogroup.add@example.com' });
    const res = await roster.post('/api/user_groups/am-doesNotExist/members', {
      user_ids: [one.id],
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('DELETE /api/user_groups/:id/members', () => {
  it('removes collaborators given as user_ids[] and answers 204', async () => {
    const group = await createGroup('Removing');
    const one = await createMember(roster, { email: 'removing.one@example.com' });
    const two = await createMember(roster, { email: 'removing.two@example.com' });
    const three = await createMember(roster, { email: 'removing.three@example.com' });
    await roster.post(`/api/user_groups/${group.id}/members`, {
      user_ids: [one.id, two.id, three.id],
    });
    const res = await roster.delete(
      `/api/user_groups/${group.id}/members?user_ids[]=${one.id}&user_ids[]=${two.id}`,
    );
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const members = await roster.get(`/api/user_groups/${group.id}/members`);
    expect(members.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([three.id]);
    expect((await roster.get(`/api/user_groups/${group.id}`)).body.data.members_count).toBe(1);
  });

  it('accepts URL-encoded brackets in user_ids%5B%5D', async () => {
    const group = await createGroup('Removing encoded');
    const one = await createMember(roster, { email: 'encoded.one@example.com' });
    await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [one.id] });
    const res = await roster.delete(
      `/api/user_groups/${group.id}/members?user_ids%5B%5D=${one.id}`,
    );
    expect(res.status).toBe(204);
    expect((await roster.get(`/api/user_groups/${group.id}/members`)).body.total).toBe(0);
  });

  it('is harmless to remove a collaborator who is not a member', async () => {
    const group = await createGroup('Removing stranger');
    const one = await createMember(roster, { email: 'stranger.one@example.com' });
    const res = await roster.delete(`/api/user_groups/${group.id}/members?user_ids[]=${one.id}`);
    expect(res.status).toBe(204);
  });

  it('records a removal that removed nobody nowhere, not even as a gap in the event IDs', async () => {
    // An event ID taken by a transaction that then rolls back is spent (PostgreSQL's sequences):
    // the log has a gap there, which every instance's change feed watches for a minute.
    const group = await createGroup('Removing nobody twice');
    const one = await createMember(roster, { email: 'stranger.two@example.com' });
    const before = await createGroup('Event before');
    const removed = await roster.delete(
      `/api/user_groups/${group.id}/members?user_ids[]=${one.id}&member_invitation_ids[]=999999`,
    );
    expect(removed.status).toBe(204);
    const after = await createGroup('Event after');
    const events = await roster.get('/api/audit_events?page[size]=3');
    expect(events.body.data.map((event: { action: string }) => event.action)).toEqual([
      'user_group.created',
      'user_group.created',
      'member_joined',
    ]);
    const [afterEvent, beforeEvent] = events.body.data as { id: number; target: { id: string } }[];
    expect([afterEvent.target.id, beforeEvent.target.id]).toEqual([after.id, before.id]);
    expect(afterEvent.id).toBe(beforeEvent.id + 1);
  });

  it('returns 400 when neither user_ids nor member_invitation_ids is given', async () => {
    const group = await createGroup('Removing nobody');
    const res = await roster.delete(`/api/user_groups/${group.id}/members`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(badRequest('user_ids or member_invitation_ids must be given'));
  });

  it('returns 400 when a user id is not a number', async () => {
    const group = await createGroup('Removing garbage');
    const res = await roster.delete(`/api/user_groups/${group.id}/members?user_ids[]=abc`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.delete('/api/user_groups/am-doesNotExist/members?user_ids[]=1');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});

describe('pending invitees in a group', () => {
  it('lists a pending invitee as a MemberInvitation and removes them by member_invitation_ids[]', async () => {
    const group = await createGroup('Invitees');
    const member = await createMember(roster, {
      name: 'Dani Invitees',
      email: 'dani.invitees@example.com',
    });
    await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [member.id] });
    const invited = await roster.post('/api/member_invitations', {
      name: 'Alex Pending',
      email: 'alex.pending@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Analyst', role_type: 'privilege_group' }],
      user_group_ids: [group.id],
    });
    expect(invited.status).toBe(200);

    const listed = await roster.get(`/api/user_groups/${group.id}/members`);
    expect(listed.status).toBe(200);
    expect(listed.body.total).toBe(2);
    const pending = listed.body.data.find((m: { type: string }) => m.type === 'MemberInvitation');
    expect(pending).toEqual({
      user_id: null,
      member_invitation_id: expect.any(Number),
      name: 'Alex Pending',
      email: 'alex.pending@example.com',
      type: 'MemberInvitation',
      avatar_url: null,
      joined_at: expect.stringMatching(ISO),
      expires_at: null,
    });
    expect((await roster.get(`/api/user_groups/${group.id}`)).body.data.members_count).toBe(2);

    const byText = await roster.get(`/api/user_groups/${group.id}/members?text=pending`);
    expect(byText.body.data.map((m: { type: string }) => m.type)).toEqual(['MemberInvitation']);

    const removed = await roster.delete(
      `/api/user_groups/${group.id}/members?member_invitation_ids[]=${pending.member_invitation_id}`,
    );
    expect(removed.status).toBe(204);
    const after = await roster.get(`/api/user_groups/${group.id}/members`);
    expect(
      after.body.data.map((m: { type: string; user_id: number }) => [m.type, m.user_id]),
    ).toEqual([['User', member.id]]);
    expect((await roster.get(`/api/user_groups/${group.id}`)).body.data.members_count).toBe(1);
  });

  it('removes collaborators and invitees in one request', async () => {
    const group = await createGroup('Mixed removal');
    const member = await createMember(roster, { email: 'mixed.member@example.com' });
    await roster.post(`/api/user_groups/${group.id}/members`, { user_ids: [member.id] });
    await roster.post('/api/member_invitations', {
      name: 'Mixed Pending',
      email: 'mixed.pending@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Operator' }],
      user_group_ids: [group.id],
    });
    const listed = await roster.get(`/api/user_groups/${group.id}/members`);
    const invitationId = listed.body.data.find(
      (m: { type: string }) => m.type === 'MemberInvitation',
    ).member_invitation_id;
    const res = await roster.delete(
      `/api/user_groups/${group.id}/members?user_ids%5B%5D=${member.id}&member_invitation_ids%5B%5D=${invitationId}`,
    );
    expect(res.status).toBe(204);
    expect((await roster.get(`/api/user_groups/${group.id}/members`)).body).toEqual({
      data: [],
      total: 0,
      page: { number: 1, size: 100 },
    });
  });

  it('makes the invitee a member of the group once they accept', async () => {
    const group = await createGroup('Accepting');
    const member = await createMember(roster, {
      email: 'accepting.member@example.com',
      user_group_ids: [group.id],
    });
    const listed = await roster.get(`/api/user_groups/${group.id}/members`);
    expect(listed.body.data).toEqual([
      expect.objectContaining({ user_id: member.id, member_invitation_id: null, type: 'User' }),
    ]);
  });
});

describe('GET /api/user_groups/:id/project_grants', () => {
  it('lists the project roles granted to the group', async () => {
    const group = await createGroup('Granted');
    const devProject = await createProject('dev');
    const prodProject = await createProject('prod');
    const role = await createProjectRole();
    await grantToGroup(devProject.id, group.id, role.id);
    await grantToGroup(prodProject.id, group.id, role.id);
    const res = await roster.get(
      `/api/user_groups/${group.id}/project_grants?page[number]=1&page[size]=100`,
    );
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
    expect(res.body.data).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^pg-/),
        project: {
          id: devProject.id,
          name: devProject.name,
          environment: { id: expect.any(Number), type: 'dev' },
        },
        project_role: { id: role.id, name: role.name },
      }),
      expect.objectContaining({
        id: expect.stringMatching(/^pg-/),
        project: {
          id: prodProject.id,
          name: prodProject.name,
          environment: { id: expect.any(Number), type: 'prod' },
        },
        project_role: { id: role.id, name: role.name },
      }),
    ]);
  });

  it('paginates the group grants', async () => {
    const group = await createGroup('Granted paged');
    const role = await createProjectRole();
    await grantToGroup((await createProject('dev')).id, group.id, role.id);
    await grantToGroup((await createProject('dev')).id, group.id, role.id);
    const res = await roster.get(`/api/user_groups/${group.id}/project_grants?page%5Bsize%5D=1`);
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.total).toBe(2);
    expect(res.body.page).toEqual({ number: 1, size: 1 });
  });

  it('returns an empty list for a group without grants', async () => {
    const group = await createGroup('Not granted');
    const res = await roster.get(`/api/user_groups/${group.id}/project_grants`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.get('/api/user_groups/am-doesNotExist/project_grants');
    expect(res.status).toBe(404);
    expect(res.body).toEqual(notFoundBody);
  });
});
