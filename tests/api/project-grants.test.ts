/**
 * Project grants: PUT/GET /api/projects/:id/project_grants, GET/PUT/DELETE /api/project_grants/:id,
 * the member and group grant lists, and the API client scope that limits them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, invitationTokenFor, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;

interface ProjectInfo {
  id: number;
  name: string;
  environment: { id: number; type: string };
}
interface Person {
  id: number;
  name: string;
  email: string;
}

let developers: { id: string; name: string };
let reviewers: { id: string; name: string };
let alice: Person;
let bob: Person;
let devGroup: { id: string; name: string };

beforeAll(async () => {
  roster = await startRoster();
  developers = await createProjectRole('Developers');
  reviewers = await createProjectRole('Reviewers');
  alice = await createMember(roster, { name: 'Alice', email: 'alice@example.com' });
  bob = await createMember(roster, { name: 'Bob', email: 'bob@example.com' });
  devGroup = await createGroup('Developers');
});
afterAll(async () => {
  await roster.close();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const GRANT_ID = /^pg-[A-Za-z0-9]{8}-[A-Za-z0-9]{7}$/;
const HOUR = 60 * 60 * 1000;

async function createProjectRole(name: string): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/project_roles', {
    project_role: { name, config: { folder: { privileges: ['create', 'view'] } } },
  });
  expect(res.status).toBe(200);
  return { id: res.body.data.id, name };
}

async function createGroup(name: string): Promise<{ id: string; name: string }> {
  const res = await roster.post('/api/user_groups', { user_group: { name } });
  expect(res.status).toBe(200);
  return { id: res.body.data.id, name };
}

async function createProject(name: string, environmentType = 'dev'): Promise<ProjectInfo> {
  const res = await roster.post('/api/projects', { name, environment_type: environmentType });
  expect(res.status).toBe(201);
  const { id, environment } = res.body.data;
  return { id, name, environment };
}

async function createClient(scope: {
  environment_types: string[];
  project_ids?: number[];
}): Promise<string> {
  const res = await roster.post('/api/api_clients', { name: `client ${Math.random()}`, ...scope });
  expect(res.status).toBe(201);
  return res.body.data.token;
}

function userGrant(member: Person, roleId: string, extra: Record<string, unknown> = {}) {
  return {
    assignment_type: 'User',
    assignment_id: String(member.id),
    project_role_id: roleId,
    ...extra,
  };
}
function groupGrant(groupId: string, roleId: string, extra: Record<string, unknown> = {}) {
  return {
    assignment_type: 'UserGroup',
    assignment_id: groupId,
    project_role_id: roleId,
    ...extra,
  };
}

async function upsert(projectId: number, grants: unknown[], token?: string) {
  return roster.put(`/api/projects/${projectId}/project_grants`, { project_grants: grants }, token);
}

/** Upserts one grant and returns its ID, read back from the project's grant list. */
async function grantOne(
  project: ProjectInfo,
  grant: ReturnType<typeof userGrant>,
): Promise<string> {
  const res = await upsert(project.id, [grant]);
  expect(res.status).toBe(200);
  const list = await roster.get(`/api/projects/${project.id}/project_grants`);
  const found = list.body.data.find(
    (g: {
      project_role: { id: string };
      user: { id: number } | null;
      user_group: { id: string } | null;
    }) =>
      g.project_role.id === grant.project_role_id &&
      (grant.assignment_type === 'User'
        ? g.user?.id === Number(grant.assignment_id)
        : g.user_group?.id === grant.assignment_id),
  );
  expect(found).toBeDefined();
  return found.id;
}

async function projectGrants(projectId: number) {
  const res = await roster.get(`/api/projects/${projectId}/project_grants`);
  expect(res.status).toBe(200);
  return res.body;
}

describe('PUT /api/projects/:id/project_grants', () => {
  it('adds the grants of the reference sample body and answers {"data":null}', async () => {
    const project = await createProject('Sample');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id),
      groupGrant(devGroup.id, developers.id),
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });

    const list = await projectGrants(project.id);
    expect(list).toEqual({
      data: [
        {
          id: expect.stringMatching(GRANT_ID),
          project_role: { id: developers.id, name: 'Developers' },
          user: { id: alice.id, name: 'Alice', email: 'alice@example.com' },
          user_group: null,
          expires_at: null,
          expired: false,
        },
        {
          id: expect.stringMatching(GRANT_ID),
          project_role: { id: developers.id, name: 'Developers' },
          user: null,
          user_group: { id: devGroup.id, name: 'Developers', system: false },
          expires_at: null,
          expired: false,
        },
      ],
      total: 2,
      page: { number: 1, size: 100 },
    });
  });

  it('accepts a numeric assignment_id for a user', async () => {
    const project = await createProject('Numeric assignee');
    const res = await upsert(project.id, [
      { assignment_type: 'User', assignment_id: bob.id, project_role_id: reviewers.id },
    ]);
    expect(res.status).toBe(200);
    const list = await projectGrants(project.id);
    expect(list.data.map((g: { user: Person }) => g.user.id)).toEqual([bob.id]);
  });

  it('lets an assignee hold several roles on one project', async () => {
    const project = await createProject('Two roles');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id),
      userGrant(alice, reviewers.id),
    ]);
    expect(res.status).toBe(200);
    const list = await projectGrants(project.id);
    expect(list.total).toBe(2);
    expect(
      list.data.map((g: { project_role: { name: string } }) => g.project_role.name).sort(),
    ).toEqual(['Developers', 'Reviewers']);
  });

  it('treats a repeated grant as the same grant, not a duplicate', async () => {
    const project = await createProject('Repeated');
    const first = await upsert(project.id, [userGrant(alice, developers.id)]);
    expect(first.status).toBe(200);
    const before = await projectGrants(project.id);
    const again = await upsert(project.id, [
      userGrant(alice, developers.id),
      userGrant(alice, developers.id),
    ]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ data: null });
    const after = await projectGrants(project.id);
    expect(after.total).toBe(1);
    expect(after.data[0].id).toBe(before.data[0].id);
  });

  it('accepts exactly 100 grants in one request', async () => {
    const project = await createProject('Hundred');
    const res = await upsert(
      project.id,
      Array.from({ length: 100 }, () => groupGrant(devGroup.id, reviewers.id)),
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
    expect((await projectGrants(project.id)).total).toBe(1);
  });

  it('returns 400 with the reference text when a request holds more than 100 grants', async () => {
    const project = await createProject('Too many');
    const res = await upsert(
      project.id,
      Array.from({ length: 101 }, () => userGrant(alice, developers.id)),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Max 100 project grants per request' }],
    });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 and writes nothing when one role of the batch is unknown', async () => {
    const project = await createProject('Unknown role');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id),
      userGrant(bob, 'pr-unknown-0000000'),
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Project role pr-unknown-0000000 not found' }],
    });
    expect(await projectGrants(project.id)).toEqual({
      data: [],
      total: 0,
      page: { number: 1, size: 100 },
    });
  });

  it('returns 400 and writes nothing when one user of the batch is unknown', async () => {
    const project = await createProject('Unknown user');
    const res = await upsert(project.id, [
      groupGrant(devGroup.id, developers.id),
      { assignment_type: 'User', assignment_id: '999999', project_role_id: developers.id },
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: 'User 999999 not found' }] });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 for a user ID that is not a number, naming only that ID', async () => {
    const project = await createProject('Odd user id');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id),
      { assignment_type: 'User', assignment_id: 'abc', project_role_id: developers.id },
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: 'User abc not found' }] });
    const loose = await upsert(project.id, [
      { assignment_type: 'User', assignment_id: ` ${alice.id}`, project_role_id: developers.id },
    ]);
    expect(loose.status).toBe(400);
    expect(loose.body).toEqual({
      errors: [{ code: 'bad_request', title: `User  ${alice.id} not found` }],
    });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 and writes nothing when one group of the batch is unknown', async () => {
    const project = await createProject('Unknown group');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id),
      groupGrant('am-unknown-0000000', developers.id),
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'User group am-unknown-0000000 not found' }],
    });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 for a collaborator or group of another workspace', async () => {
    const other = await roster.request('POST', '/platform/workspaces', {
      body: { name: 'Elsewhere' },
      token: 'platform_test_token_0123456789',
    });
    expect(other.status).toBe(201);
    const otherToken = other.body.data.admin_token;
    const invited = await roster.post(
      '/api/member_invitations',
      {
        name: 'Stranger',
        email: 'stranger@example.com',
        env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
      },
      otherToken,
    );
    expect(invited.status).toBe(200);
    const accepted = await roster.post(
      `/invitations/${await invitationTokenFor(roster, 'stranger@example.com')}/accept`,
      {},
      null,
    );
    expect(accepted.status).toBe(201);
    const stranger = accepted.body.data;
    const theirGroup = await roster.post(
      '/api/user_groups',
      { user_group: { name: 'Theirs' } },
      otherToken,
    );
    expect(theirGroup.status).toBe(200);

    const project = await createProject('Foreign assignee');
    const user = await upsert(project.id, [userGrant(stranger, developers.id)]);
    expect(user.status).toBe(400);
    expect(user.body).toEqual({
      errors: [{ code: 'bad_request', title: `User ${stranger.id} not found` }],
    });
    const group = await upsert(project.id, [groupGrant(theirGroup.body.data.id, developers.id)]);
    expect(group.status).toBe(400);
    expect(group.body).toEqual({
      errors: [{ code: 'bad_request', title: `User group ${theirGroup.body.data.id} not found` }],
    });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 for an unknown assignment type', async () => {
    const project = await createProject('Odd type');
    const res = await upsert(project.id, [
      { assignment_type: 'Robot', assignment_id: '1', project_role_id: developers.id },
    ]);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { code: 'bad_request', title: expect.stringContaining('assignment_type') },
    ]);
  });

  it('returns 400 when project_grants is missing', async () => {
    const project = await createProject('No body');
    const res = await roster.put(`/api/projects/${project.id}/project_grants`, {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'project_grants is required' }],
    });
  });

  it('returns 404 for an unknown project', async () => {
    const res = await upsert(999999, [userGrant(alice, developers.id)]);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });

  it('records a project_grants.upserted audit event', async () => {
    const project = await createProject('Audited grants');
    expect((await upsert(project.id, [userGrant(bob, developers.id)])).status).toBe(200);
    const res = await roster.get(
      `/api/audit_events?action=project_grants.upserted&target_id=${project.id}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ target: { type: 'project', id: String(project.id) } });
  });
});

describe('time-bound grants', () => {
  it('stores expires_at and shows the grant as not expired', async () => {
    const project = await createProject('Timed');
    const expiresAt = new Date(roster.clock.now().getTime() + 2 * HOUR).toISOString();
    const res = await upsert(project.id, [
      userGrant(alice, developers.id, { expires_at: expiresAt }),
    ]);
    expect(res.status).toBe(200);
    const list = await projectGrants(project.id);
    expect(list.data[0]).toMatchObject({ expires_at: expiresAt, expired: false });
  });

  it('returns 400 and writes nothing when expires_at is in the past', async () => {
    const project = await createProject('Past expiry');
    const past = new Date(roster.clock.now().getTime() - HOUR).toISOString();
    const res = await upsert(project.id, [
      userGrant(bob, developers.id),
      userGrant(alice, developers.id, { expires_at: past }),
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'expires_at must be in the future' }],
    });
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('returns 400 when expires_at is not a date-time', async () => {
    const project = await createProject('Bad expiry');
    const res = await upsert(project.id, [
      userGrant(alice, developers.id, { expires_at: 'tomorrow' }),
    ]);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { code: 'bad_request', title: expect.stringContaining('expires_at') },
    ]);
  });

  it('shows "expired": true once the clock passes expires_at', async () => {
    const project = await createProject('Expiring');
    const expiresAt = new Date(roster.clock.now().getTime() + HOUR).toISOString();
    const grantId = await grantOne(
      project,
      userGrant(bob, reviewers.id, { expires_at: expiresAt }),
    );
    const before = await roster.get(`/api/project_grants/${grantId}`);
    expect(before.body.data).toMatchObject({ expires_at: expiresAt, expired: false });

    roster.clock.advance(2 * HOUR);

    const after = await roster.get(`/api/project_grants/${grantId}`);
    expect(after.status).toBe(200);
    expect(after.body.data).toMatchObject({ expires_at: expiresAt, expired: true });
    const list = await projectGrants(project.id);
    expect(list.data[0]).toMatchObject({ id: grantId, expired: true });
  });
});

describe('GET /api/projects/:id/project_grants', () => {
  it('pages the grants', async () => {
    const project = await createProject('Paged grants');
    expect(
      (
        await upsert(project.id, [
          userGrant(alice, developers.id),
          userGrant(bob, developers.id),
          groupGrant(devGroup.id, developers.id),
        ])
      ).status,
    ).toBe(200);
    const all = await projectGrants(project.id);
    expect(all.total).toBe(3);
    const ids = all.data.map((g: { id: string }) => g.id);

    const second = await roster.get(
      `/api/projects/${project.id}/project_grants?page[number]=2&page[size]=2`,
    );
    expect(second.status).toBe(200);
    expect(second.body.data.map((g: { id: string }) => g.id)).toEqual([ids[2]]);
    expect(second.body.total).toBe(3);
    expect(second.body.page).toEqual({ number: 2, size: 2 });
  });

  it('returns 400 when the page size is over 100', async () => {
    const project = await createProject('Big page');
    const res = await roster.get(`/api/projects/${project.id}/project_grants?page[size]=101`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { code: 'bad_request', title: expect.stringContaining('page[size]') },
    ]);
  });

  it('returns 404 for an unknown project', async () => {
    const res = await roster.get('/api/projects/999999/project_grants');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('GET /api/project_grants/:id', () => {
  it('returns a user grant in the reference shape', async () => {
    const project = await createProject('Development');
    const grantId = await grantOne(project, userGrant(alice, developers.id));
    const res = await roster.get(`/api/project_grants/${grantId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: grantId,
        project: { id: project.id, name: 'Development', environment: project.environment },
        project_role: { id: developers.id, name: 'Developers' },
        user_group: null,
        user: { id: alice.id, name: 'Alice', email: 'alice@example.com' },
        expires_at: null,
        expired: false,
        created_at: expect.stringMatching(ISO),
        updated_at: expect.stringMatching(ISO),
      },
    });
  });

  it('returns a group grant in the reference shape', async () => {
    const project = await createProject('Group grant', 'prod');
    const grantId = await grantOne(project, groupGrant(devGroup.id, reviewers.id));
    const res = await roster.get(`/api/project_grants/${grantId}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: grantId,
      project: {
        id: project.id,
        name: 'Group grant',
        environment: { id: project.environment.id, type: 'prod' },
      },
      project_role: { id: reviewers.id, name: 'Reviewers' },
      user_group: { id: devGroup.id, name: 'Developers', system: false },
      user: null,
    });
  });

  it('returns 404 for an unknown grant', async () => {
    const res = await roster.get('/api/project_grants/pg-unknown-0000000');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('PUT /api/project_grants/:id', () => {
  it('changes the role of the grant', async () => {
    const project = await createProject('Role change');
    const grantId = await grantOne(project, userGrant(bob, developers.id));
    const res = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: reviewers.id },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: grantId,
      project: { id: project.id, name: 'Role change' },
      project_role: { id: reviewers.id, name: 'Reviewers' },
      user: { id: bob.id, name: 'Bob', email: 'bob@example.com' },
      user_group: null,
    });
    const read = await roster.get(`/api/project_grants/${grantId}`);
    expect(read.body.data.project_role).toEqual({ id: reviewers.id, name: 'Reviewers' });
  });

  it('keeps the grant when the role is set to the one it already has', async () => {
    const project = await createProject('Same role');
    const grantId = await grantOne(project, groupGrant(devGroup.id, developers.id));
    const res = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: developers.id },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.project_role).toEqual({ id: developers.id, name: 'Developers' });
  });

  it('returns 400 "Assignment has already been taken" when the assignee already holds that role on the project', async () => {
    const project = await createProject('Taken');
    const first = await grantOne(project, userGrant(alice, developers.id));
    const second = await grantOne(project, userGrant(alice, reviewers.id));
    const res = await roster.put(`/api/project_grants/${second}`, {
      project_grant: { project_role_id: developers.id },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Assignment has already been taken' }],
    });
    const unchanged = await roster.get(`/api/project_grants/${second}`);
    expect(unchanged.body.data.project_role).toEqual({ id: reviewers.id, name: 'Reviewers' });
    expect((await roster.get(`/api/project_grants/${first}`)).status).toBe(200);
  });

  it('returns 400 "Assignment has already been taken" for a group that already holds that role', async () => {
    const project = await createProject('Taken by group');
    await grantOne(project, groupGrant(devGroup.id, developers.id));
    const second = await grantOne(project, groupGrant(devGroup.id, reviewers.id));
    const res = await roster.put(`/api/project_grants/${second}`, {
      project_grant: { project_role_id: developers.id },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Assignment has already been taken' }],
    });
  });

  it('allows the role another assignee holds on the project', async () => {
    const project = await createProject('Shared role');
    await grantOne(project, userGrant(alice, developers.id));
    const bobs = await grantOne(project, userGrant(bob, reviewers.id));
    const res = await roster.put(`/api/project_grants/${bobs}`, {
      project_grant: { project_role_id: developers.id },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.project_role.id).toBe(developers.id);
  });

  it('returns 400 for an unknown role', async () => {
    const project = await createProject('Unknown new role');
    const grantId = await grantOne(project, userGrant(alice, developers.id));
    const res = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: 'pr-unknown-0000000' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Project role pr-unknown-0000000 not found' }],
    });
  });

  it('returns 400 when project_role_id is missing', async () => {
    const project = await createProject('Missing role id');
    const grantId = await grantOne(project, userGrant(alice, developers.id));
    const res = await roster.put(`/api/project_grants/${grantId}`, { project_grant: {} });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'project_grant.project_role_id is required' }],
    });
  });

  it('sets and clears expires_at', async () => {
    const project = await createProject('Expiry change');
    const grantId = await grantOne(project, userGrant(bob, developers.id));
    const expiresAt = new Date(roster.clock.now().getTime() + 3 * HOUR).toISOString();
    const set = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: developers.id, expires_at: expiresAt },
    });
    expect(set.status).toBe(200);
    expect(set.body.data).toMatchObject({ expires_at: expiresAt, expired: false });
    // Without expires_at the expiry stays; with null it is cleared.
    const kept = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: reviewers.id },
    });
    expect(kept.body.data).toMatchObject({
      project_role: { id: reviewers.id },
      expires_at: expiresAt,
    });
    const cleared = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: { project_role_id: reviewers.id, expires_at: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.data).toMatchObject({ expires_at: null, expired: false });
  });

  it('returns 400 when the new expires_at is in the past', async () => {
    const project = await createProject('Expiry past');
    const grantId = await grantOne(project, userGrant(bob, developers.id));
    const res = await roster.put(`/api/project_grants/${grantId}`, {
      project_grant: {
        project_role_id: developers.id,
        expires_at: new Date(roster.clock.now().getTime() - HOUR).toISOString(),
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'expires_at must be in the future' }],
    });
    expect((await roster.get(`/api/project_grants/${grantId}`)).body.data.expires_at).toBeNull();
  });

  it('returns 404 for an unknown grant', async () => {
    const res = await roster.put('/api/project_grants/pg-unknown-0000000', {
      project_grant: { project_role_id: developers.id },
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('DELETE /api/project_grants/:id', () => {
  it('deletes the grant: 204, then 404', async () => {
    const project = await createProject('Revoked');
    const grantId = await grantOne(project, userGrant(alice, developers.id));
    const res = await roster.delete(`/api/project_grants/${grantId}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const read = await roster.get(`/api/project_grants/${grantId}`);
    expect(read.status).toBe(404);
    expect(read.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
    const again = await roster.delete(`/api/project_grants/${grantId}`);
    expect(again.status).toBe(404);
    expect((await projectGrants(project.id)).total).toBe(0);
  });
});

describe('grants of deleted assignees', () => {
  it('deletes a group’s grants with the group', async () => {
    const group = await createGroup('Short-lived group');
    const project = await createProject('Group deleted');
    const grantId = await grantOne(project, groupGrant(group.id, developers.id));
    expect((await roster.delete(`/api/user_groups/${group.id}`)).status).toBe(204);
    expect((await roster.get(`/api/project_grants/${grantId}`)).status).toBe(404);
    expect((await projectGrants(project.id)).total).toBe(0);
  });

  it('deletes a collaborator’s grants with the collaborator', async () => {
    const erin = await createMember(roster, { name: 'Erin', email: 'erin@example.com' });
    const project = await createProject('Member deleted');
    const grantId = await grantOne(project, userGrant(erin, developers.id));
    expect((await roster.delete(`/api/members/${erin.id}`)).status).toBe(204);
    expect((await roster.get(`/api/project_grants/${grantId}`)).status).toBe(404);
    expect((await projectGrants(project.id)).total).toBe(0);
  });
});

describe('GET /api/members/:id/project_grants', () => {
  let carol: Person;
  let group: { id: string; name: string };
  let devProject: ProjectInfo;
  let prodProject: ProjectInfo;
  let groupProject: ProjectInfo;

  beforeAll(async () => {
    group = await createGroup('Carol’s team');
    carol = await createMember(roster, {
      name: 'Carol',
      email: 'carol@example.com',
      user_group_ids: [group.id],
    });
    devProject = await createProject('Carol dev', 'dev');
    prodProject = await createProject('Carol prod', 'prod');
    groupProject = await createProject('Carol through group', 'dev');
    expect((await upsert(devProject.id, [userGrant(carol, developers.id)])).status).toBe(200);
    expect((await upsert(prodProject.id, [userGrant(carol, reviewers.id)])).status).toBe(200);
    expect((await upsert(groupProject.id, [groupGrant(group.id, developers.id)])).status).toBe(200);
  });

  it('lists the direct grants only, in the reference shape', async () => {
    const res = await roster.get(`/api/members/${carol.id}/project_grants`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          id: expect.stringMatching(GRANT_ID),
          project: { id: devProject.id, name: 'Carol dev', environment: devProject.environment },
          project_role: { id: developers.id, name: 'Developers' },
          expires_at: null,
          expired: false,
        },
        {
          id: expect.stringMatching(GRANT_ID),
          project: { id: prodProject.id, name: 'Carol prod', environment: prodProject.environment },
          project_role: { id: reviewers.id, name: 'Reviewers' },
          expires_at: null,
          expired: false,
        },
      ],
      total: 2,
      page: { number: 1, size: 100 },
    });
  });

  it('pages the grants', async () => {
    const res = await roster.get(
      `/api/members/${carol.id}/project_grants?page[number]=2&page[size]=1`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { project: { id: number } }) => g.project.id)).toEqual([
      prodProject.id,
    ]);
    expect(res.body.total).toBe(2);
    expect(res.body.page).toEqual({ number: 2, size: 1 });
  });

  it('returns 404 for an unknown collaborator', async () => {
    const res = await roster.get('/api/members/999999/project_grants');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });

  it('lists a group’s grants at GET /api/user_groups/:id/project_grants', async () => {
    const res = await roster.get(`/api/user_groups/${group.id}/project_grants`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          id: expect.stringMatching(GRANT_ID),
          project: {
            id: groupProject.id,
            name: 'Carol through group',
            environment: groupProject.environment,
          },
          project_role: { id: developers.id, name: 'Developers' },
          expires_at: null,
          expired: false,
        },
      ],
      total: 1,
      page: { number: 1, size: 100 },
    });
  });

  it('pages a group’s grants', async () => {
    const second = await createProject('Carol through group 2');
    expect((await upsert(second.id, [groupGrant(group.id, reviewers.id)])).status).toBe(200);
    const res = await roster.get(
      `/api/user_groups/${group.id}/project_grants?page[number]=2&page[size]=1`,
    );
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { project: { id: number } }) => g.project.id)).toEqual([
      second.id,
    ]);
    expect(res.body.total).toBe(2);
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.get('/api/user_groups/am-unknown-0000000/project_grants');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
  });
});

describe('API client scope', () => {
  let devProject: ProjectInfo;
  let otherDevProject: ProjectInfo;
  let testProject: ProjectInfo;
  let devGrant: string;
  let otherDevGrant: string;
  let testToken: string;
  let projectToken: string;
  let dave: Person;

  beforeAll(async () => {
    dave = await createMember(roster, { name: 'Dave', email: 'dave@example.com' });
    devProject = await createProject('Scope dev', 'dev');
    otherDevProject = await createProject('Scope other dev', 'dev');
    testProject = await createProject('Scope test', 'test');
    devGrant = await grantOne(devProject, userGrant(dave, developers.id));
    otherDevGrant = await grantOne(otherDevProject, userGrant(dave, developers.id));
    testToken = await createClient({ environment_types: ['test'] });
    projectToken = await createClient({ environment_types: ['dev'], project_ids: [devProject.id] });
  });

  const devForbidden = {
    errors: [{ code: 'forbidden', title: 'This API client has no access to the DEV environment' }],
  };

  it('lets a TEST client manage grants of TEST projects', async () => {
    const res = await upsert(testProject.id, [userGrant(dave, reviewers.id)], testToken);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: null });
    const list = await roster.get(`/api/projects/${testProject.id}/project_grants`, testToken);
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(1);
    const grantId = list.body.data[0].id;
    const read = await roster.get(`/api/project_grants/${grantId}`, testToken);
    expect(read.status).toBe(200);
    const change = await roster.put(
      `/api/project_grants/${grantId}`,
      { project_grant: { project_role_id: developers.id } },
      testToken,
    );
    expect(change.status).toBe(200);
    const removal = await roster.delete(`/api/project_grants/${grantId}`, testToken);
    expect(removal.status).toBe(204);
  });

  it('answers 403 to a TEST client on the grants of a DEV project, and changes nothing', async () => {
    const add = await upsert(devProject.id, [userGrant(dave, reviewers.id)], testToken);
    expect(add.status).toBe(403);
    expect(add.body).toEqual(devForbidden);
    const list = await roster.get(`/api/projects/${devProject.id}/project_grants`, testToken);
    expect(list.status).toBe(403);
    expect(list.body).toEqual(devForbidden);
    const read = await roster.get(`/api/project_grants/${devGrant}`, testToken);
    expect(read.status).toBe(403);
    expect(read.body).toEqual(devForbidden);
    const change = await roster.put(
      `/api/project_grants/${devGrant}`,
      { project_grant: { project_role_id: reviewers.id } },
      testToken,
    );
    expect(change.status).toBe(403);
    expect(change.body).toEqual(devForbidden);
    const removal = await roster.delete(`/api/project_grants/${devGrant}`, testToken);
    expect(removal.status).toBe(403);
    expect(removal.body).toEqual(devForbidden);

    const after = await projectGrants(devProject.id);
    expect(after.total).toBe(1);
    expect(after.data[0]).toMatchObject({ id: devGrant, project_role: { id: developers.id } });
  });

  it('answers 403 to a TEST client on the collaborator grant list (collaborators need DEV)', async () => {
    const res = await roster.get(`/api/members/${dave.id}/project_grants`, testToken);
    expect(res.status).toBe(403);
    expect(res.body).toEqual(devForbidden);
  });

  it('answers 403, not 404, to a client without DEV asking about an unknown collaborator or group', async () => {
    const member = await roster.get('/api/members/999999/project_grants', testToken);
    expect(member.status).toBe(403);
    expect(member.body).toEqual(devForbidden);
    const group = await roster.get('/api/user_groups/am-unknown-0000000/project_grants', testToken);
    expect(group.status).toBe(403);
    expect(group.body).toEqual(devForbidden);
  });

  it('limits a client assigned to projects to the grants of those projects', async () => {
    const own = await upsert(devProject.id, [userGrant(alice, reviewers.id)], projectToken);
    expect(own.status).toBe(200);
    const otherForbidden = {
      errors: [
        {
          code: 'forbidden',
          title: `This API client has no access to project ${otherDevProject.id}`,
        },
      ],
    };
    const add = await upsert(otherDevProject.id, [userGrant(alice, reviewers.id)], projectToken);
    expect(add.status).toBe(403);
    expect(add.body).toEqual(otherForbidden);
    const read = await roster.get(`/api/project_grants/${otherDevGrant}`, projectToken);
    expect(read.status).toBe(403);
    expect(read.body).toEqual(otherForbidden);
    const removal = await roster.delete(`/api/project_grants/${otherDevGrant}`, projectToken);
    expect(removal.status).toBe(403);
    expect((await roster.get(`/api/project_grants/${otherDevGrant}`)).status).toBe(200);
  });

  it('shows a client assigned to projects only the grants of those projects in a collaborator’s list', async () => {
    const res = await roster.get(`/api/members/${dave.id}/project_grants`, projectToken);
    expect(res.status).toBe(200);
    expect(res.body.data.map((g: { id: string }) => g.id)).toEqual([devGrant]);
    expect(res.body.total).toBe(1);
    const admin = await roster.get(`/api/members/${dave.id}/project_grants`);
    expect(admin.body.data.map((g: { id: string }) => g.id)).toEqual([devGrant, otherDevGrant]);
  });
});
