/**
 * End-user groups: created within one environment, never empty, unique names per environment,
 * the system group Everyone, membership with joined times, and deletion (with a dry run) that
 * keeps users and leaves policies and feature grants clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let ann: number;
let ben: number;
let cid: number;
let prodOnly: number;

beforeAll(async () => {
  roster = await startRoster();
  const make = async (email: string, environment_types: string[]) =>
    (await roster.post('/api/end_users', { name: email.split('@')[0], email, environment_types }))
      .body.data.id as number;
  ann = await make('ann@groups.example.com', ['dev', 'prod']);
  ben = await make('ben@groups.example.com', ['dev']);
  cid = await make('cid@groups.example.com', ['dev']);
  prodOnly = await make('pat@groups.example.com', ['prod']);
});
afterAll(async () => {
  await roster.close();
});

function createGroup(body: Record<string, unknown>) {
  return roster.post('/api/end_user_groups', { environment_type: 'dev', ...body });
}

const error = (title: string) => ({ errors: [{ code: 'bad_request', title }] });

describe('POST /api/end_user_groups', () => {
  it('creates a group in one environment with its members, roles and managed_by', async () => {
    const res = await createGroup({
      name: 'Engineering',
      description: 'Builders',
      end_user_ids: [ann, ben],
      roles: ['Read Only', 'Admin'],
      managed_by: 'external',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Engineering',
        description: 'Builders',
        environment_type: 'dev',
        managed_by: 'external',
        roles: ['Read Only', 'Admin'],
        system: false,
        users_count: 2,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const events = await roster.get(
      `/api/audit_events?action=end_user_group.created&target_id=${res.body.data.id}`,
    );
    expect(events.body.data).toHaveLength(1);
  });

  it('returns 400 when the group would have no members', async () => {
    const empty = await createGroup({ name: 'Nobody', end_user_ids: [] });
    expect(empty.status).toBe(400);
    expect(empty.body).toEqual(
      error('An end-user group must have at least one member: give end_user_ids'),
    );
    const missing = await createGroup({ name: 'Nobody' });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual(
      error('An end-user group must have at least one member: give end_user_ids'),
    );
  });

  it('returns 400 when the name is taken in the environment, whatever its case, but allows it in another', async () => {
    await createGroup({ name: 'Support', end_user_ids: [ben] });
    const dup = await createGroup({ name: ' support ', end_user_ids: [cid] });
    expect(dup.status).toBe(400);
    expect(dup.body).toEqual(error('Name has already been taken in this environment'));
    const prod = await roster.post('/api/end_user_groups', {
      environment_type: 'prod',
      name: 'Support',
      end_user_ids: [prodOnly],
    });
    expect(prod.status).toBe(201);
    expect(prod.body.data.environment_type).toBe('prod');
  });

  it('returns 400 when the name is Everyone (the system group’s)', async () => {
    const res = await createGroup({ name: 'everyone', end_user_ids: [ben] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(error('Name has already been taken in this environment'));
  });

  it('returns 400 when the name is blank or too long, or the description is too long', async () => {
    expect((await createGroup({ name: '   ', end_user_ids: [ben] })).body).toEqual(
      error("Name can't be blank"),
    );
    const long = await createGroup({ name: 'x'.repeat(201), end_user_ids: [ben] });
    expect(long.status).toBe(400);
    expect(long.body).toEqual(error('name must NOT have more than 200 characters'));
    const description = await createGroup({
      name: 'Described',
      description: 'd'.repeat(301),
      end_user_ids: [ben],
    });
    expect(description.status).toBe(400);
    // The nullable schema adds its anyOf branches to the message (the shared error handler's wording).
    expect(description.body.errors[0].title).toMatch(
      /^description must NOT have more than 300 characters/,
    );
    expect(
      (
        await createGroup({
          name: 'x'.repeat(200),
          description: 'd'.repeat(300),
          end_user_ids: [ben],
        })
      ).status,
    ).toBe(201);
  });

  it('returns 400 for a role outside Admin and Read Only, or an unknown managed_by', async () => {
    const role = await createGroup({ name: 'Roles', end_user_ids: [ben], roles: ['Owner'] });
    expect(role.status).toBe(400);
    expect(role.body.errors[0].title).toMatch(/^roles\/0 |^roles\.0 /);
    const managed = await createGroup({
      name: 'Managed',
      end_user_ids: [ben],
      managed_by: 'robots',
    });
    expect(managed.status).toBe(400);
  });

  it('returns 400 when a member has no access to the group’s environment', async () => {
    const res = await createGroup({ name: 'Mixed', end_user_ids: [ben, prodOnly] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(
        'End users without access to the DEV environment can’t join its groups: pat@groups.example.com',
      ),
    );
  });

  it('returns 400 for unknown members and environments', async () => {
    expect((await createGroup({ name: 'Ghosts', end_user_ids: [987654] })).body).toEqual(
      error('End users not found: 987654'),
    );
    const env = await roster.post('/api/end_user_groups', {
      environment_type: 'staging',
      name: 'Stage',
      end_user_ids: [ben],
    });
    expect(env.body).toEqual(error('Environment staging not found'));
  });
});

describe('Everyone', () => {
  it('exists in every environment and holds every user with access to it', async () => {
    const res = await roster.get('/api/end_user_groups?name=everyone');
    expect(res.status).toBe(200);
    expect(
      res.body.data.map((g: { environment_type: string; users_count: number; system: boolean }) => [
        g.environment_type,
        g.users_count,
        g.system,
      ]),
    ).toEqual([
      ['dev', 3, true],
      ['test', 0, true],
      ['prod', 2, true],
    ]);
    const prod = res.body.data[2];
    const members = await roster.get(`/api/end_user_groups/${prod.id}/members`);
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual([
      'ann@groups.example.com',
      'pat@groups.example.com',
    ]);
    expect(members.body.total).toBe(2);
    expect(members.body.data.map((m: { source: string }) => m.source)).toEqual([
      'manual',
      'manual',
    ]);
  });

  it('returns 400 when changing, deleting or editing the members of Everyone', async () => {
    const list = await roster.get('/api/end_user_groups?environment_type=dev&name=everyone');
    const id = list.body.data[0].id;
    const message = error(
      'Everyone holds every end user with access to its environment; it can’t be changed or deleted',
    );
    expect((await roster.delete(`/api/end_user_groups/${id}`)).body).toEqual(message);
    expect((await roster.put(`/api/end_user_groups/${id}`, { name: 'All' })).body).toEqual(message);
    expect(
      (await roster.post(`/api/end_user_groups/${id}/members`, { end_user_ids: [ben] })).body,
    ).toEqual(message);
    expect(
      (
        await roster.request('DELETE', `/api/end_user_groups/${id}/members`, {
          body: { end_user_ids: [ben] },
        })
      ).body,
    ).toEqual(message);
  });
});

describe('members', () => {
  it('adds members, lists them with the time they joined, and removes them', async () => {
    const group = await createGroup({ name: 'Joiners', end_user_ids: [ann] });
    const id = group.body.data.id;
    roster.clock.advance(60_000);
    const added = await roster.post(`/api/end_user_groups/${id}/members`, {
      end_user_ids: [ben, cid, ben],
    });
    expect(added.status).toBe(200);
    expect(added.body.data.users_count).toBe(3);
    const members = await roster.get(`/api/end_user_groups/${id}/members`);
    expect(members.body.total).toBe(3);
    expect(members.body.data.map((m: { id: number }) => m.id)).toEqual([ann, ben, cid]);
    expect(members.body.data[0]).toEqual({
      id: ann,
      name: 'ann',
      email: 'ann@groups.example.com',
      avatar_url: null,
      status: 'active',
      joined_at: group.body.data.created_at,
      source: 'manual',
    });
    expect(members.body.data[1].joined_at > members.body.data[0].joined_at).toBe(true);

    const removed = await roster.request('DELETE', `/api/end_user_groups/${id}/members`, {
      body: { end_user_ids: [ann, cid] },
    });
    expect(removed.status).toBe(200);
    expect(removed.body.data.users_count).toBe(1);
    const events = await roster.get(`/api/audit_events?target_type=end_user_group&target_id=${id}`);
    expect(events.body.data.map((e: { action: string }) => e.action)).toEqual([
      'end_user_group.members_removed',
      'end_user_group.members_added',
      'end_user_group.created',
    ]);
  });

  it('returns 400 when removing the last member', async () => {
    const group = await createGroup({ name: 'Solo', end_user_ids: [ben] });
    const res = await roster.request(
      'DELETE',
      `/api/end_user_groups/${group.body.data.id}/members`,
      { body: { end_user_ids: [ben] } },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(
        'An end-user group must have at least one member: you can’t remove the last member of Solo. Add another member first, or delete the group.',
      ),
    );
    const pair = await createGroup({ name: 'Pair', end_user_ids: [ben, cid] });
    const both = await roster.request(
      'DELETE',
      `/api/end_user_groups/${pair.body.data.id}/members`,
      { body: { end_user_ids: [ben, cid] } },
    );
    expect(both.status).toBe(400);
    expect(
      (await roster.get(`/api/end_user_groups/${pair.body.data.id}`)).body.data.users_count,
    ).toBe(2);
  });

  it('returns 400 when adding a user without access to the group’s environment', async () => {
    const group = await createGroup({ name: 'Dev only', end_user_ids: [ben] });
    const res = await roster.post(`/api/end_user_groups/${group.body.data.id}/members`, {
      end_user_ids: [prodOnly],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      error(
        'End users without access to the DEV environment can’t join its groups: pat@groups.example.com',
      ),
    );
  });
});

describe('PUT /api/end_user_groups/:id', () => {
  it('edits name, description, managed_by and roles, and keeps the ID', async () => {
    const group = await createGroup({ name: 'Editable', end_user_ids: [ben] });
    const res = await roster.put(`/api/end_user_groups/${group.body.data.id}`, {
      name: 'Edited',
      description: 'now described',
      roles: ['Admin', 'Admin'],
      managed_by: 'external',
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      id: group.body.data.id,
      name: 'Edited',
      description: 'now described',
      roles: ['Admin'],
      managed_by: 'external',
    });
    const taken = await roster.put(`/api/end_user_groups/${group.body.data.id}`, {
      name: 'Engineering',
    });
    expect(taken.body).toEqual(error('Name has already been taken in this environment'));
  });
});

describe('DELETE /api/end_user_groups/:id', () => {
  it('answers with dry_run=true who would lose what, and deletes nothing', async () => {
    const group = await createGroup({ name: 'Doomed', end_user_ids: [ben, cid] });
    const keep = await createGroup({ name: 'Keepers', end_user_ids: [cid] });
    const id = group.body.data.id;
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Dry assistant',
    });
    const fid = feature.body.data.id;
    await roster.post(`/api/features/${fid}/access`, {
      end_user_group_ids: [id, keep.body.data.id],
    });
    const policy = await roster.post('/api/policies', {
      name: 'Doomed may',
      environment_type: 'dev',
      feature_id: fid,
      scope: { type: 'groups', ids: [id] },
      effect: 'allow',
    });

    const dry = await roster.delete(`/api/end_user_groups/${id}?dry_run=true`);
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      data: {
        dry_run: true,
        group: { id, name: 'Doomed', environment_type: 'dev' },
        feature_grants: [
          { id: fid, name: 'Dry assistant', kind: 'assistant', environment_type: 'dev' },
        ],
        policies: [{ id: policy.body.data.id, name: 'Doomed may', effect: 'allow' }],
        users: [
          {
            id: ben,
            name: 'ben',
            email: 'ben@groups.example.com',
            loses: [
              { type: 'feature_grant', id: fid, name: 'Dry assistant', effect: null },
              { type: 'policy', id: policy.body.data.id, name: 'Doomed may', effect: 'allow' },
            ],
          },
          {
            id: cid,
            name: 'cid',
            email: 'cid@groups.example.com',
            loses: [
              { type: 'policy', id: policy.body.data.id, name: 'Doomed may', effect: 'allow' },
            ],
          },
        ],
      },
    });
    expect((await roster.get(`/api/end_user_groups/${id}`)).status).toBe(200);
  });

  it('deletes the group, keeps its users, and removes it from every policy and feature grant', async () => {
    const group = await createGroup({ name: 'Removed', end_user_ids: [ben] });
    const other = await createGroup({ name: 'Remaining', end_user_ids: [cid] });
    const id = group.body.data.id;
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'Cleanup MCP',
    });
    const fid = feature.body.data.id;
    await roster.post(`/api/features/${fid}/access`, {
      end_user_group_ids: [id, other.body.data.id],
    });
    const policy = await roster.post('/api/policies', {
      name: 'Cleanup deny',
      environment_type: 'dev',
      feature_id: fid,
      scope: { type: 'groups', ids: [id, other.body.data.id] },
      effect: 'deny',
    });
    const benAsk = { end_user_id: ben, environment_type: 'dev', feature_id: fid };
    expect((await roster.post('/api/end_users/decisions', benAsk)).body.data.decision).toBe('deny');

    const res = await roster.delete(`/api/end_user_groups/${id}`);
    expect(res.status).toBe(204);
    expect((await roster.get(`/api/end_user_groups/${id}`)).status).toBe(404);
    expect((await roster.get(`/api/end_users/${ben}`)).status).toBe(200);
    const grants = await roster.get(`/api/features/${fid}/access`);
    expect(
      grants.body.data.map((g: { end_user_group: { id: number } }) => g.end_user_group.id),
    ).toEqual([other.body.data.id]);
    const after = await roster.get(`/api/policies/${policy.body.data.id}`);
    expect(after.body.data.scope).toEqual({ type: 'groups', ids: [other.body.data.id] });
    // Ben was denied only through the deleted group, and granted only through it.
    expect((await roster.post('/api/end_users/decisions', benAsk)).body.data).toEqual({
      decision: 'deny',
      reasons: [
        {
          type: 'no_access',
          message:
            'No policy or grant gives ben@groups.example.com access to feature "Cleanup MCP"',
        },
      ],
      approval_request_id: null,
    });
    const events = await roster.get(
      `/api/audit_events?action=end_user_group.deleted&target_id=${id}`,
    );
    expect(events.body.data).toHaveLength(1);
  });

  it('returns 404 for an unknown group', async () => {
    const res = await roster.delete('/api/end_user_groups/999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      errors: [{ code: 'not_found', title: 'End-user group not found' }],
    });
  });
});

describe('GET /api/end_user_groups', () => {
  it('filters by environment and sorts by users', async () => {
    const res = await roster.get(
      '/api/end_user_groups?environment_type=prod&sort=users&direction=desc',
    );
    expect(res.status).toBe(200);
    expect(
      res.body.data.map((g: { name: string; users_count: number }) => [g.name, g.users_count]),
    ).toEqual([
      ['Everyone', 2],
      ['Support', 1],
    ]);
  });

  it('filters by role, with the total counting only the groups that have it', async () => {
    const names = ['Role Admins', 'Role Readers', 'Role Both', 'Role None'];
    const roles = [['Admin'], ['Read Only'], ['Read Only', 'Admin'], []];
    for (const [i, name] of names.entries()) {
      expect((await createGroup({ name, end_user_ids: [cid], roles: roles[i] })).status).toBe(201);
    }
    const listed = async (query: string) => {
      const res = await roster.get(
        `/api/end_user_groups?environment_type=dev&name=role%20&${query}`,
      );
      expect(res.status).toBe(200);
      return { names: res.body.data.map((g: { name: string }) => g.name), total: res.body.total };
    };
    expect(await listed('role=Admin&sort=name')).toEqual({
      names: ['Role Admins', 'Role Both'],
      total: 2,
    });
    expect(await listed('role=Read%20Only&sort=name')).toEqual({
      names: ['Role Both', 'Role Readers'],
      total: 2,
    });
    expect(await listed('sort=name')).toMatchObject({ total: 4 });
    // A page smaller than the matches: the total is still every group with the role.
    expect(await listed('role=Admin&sort=name&page[size]=1')).toEqual({
      names: ['Role Admins'],
      total: 2,
    });
    const bad = await roster.get('/api/end_user_groups?role=admin');
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].title).toMatch(/role/);
  });
});

describe('workspace isolation', () => {
  it('keeps groups invisible to another workspace', async () => {
    const group = await createGroup({ name: 'Secret', end_user_ids: [ben] });
    const created = await roster.post(
      '/platform/workspaces',
      { name: 'Elsewhere' },
      PLATFORM_TOKEN,
    );
    const token = created.body.data.admin_token;
    const list = await roster.get('/api/end_user_groups?name=secret', token);
    expect(list.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    expect((await roster.get(`/api/end_user_groups/${group.body.data.id}`, token)).status).toBe(
      404,
    );
    expect((await roster.delete(`/api/end_user_groups/${group.body.data.id}`, token)).status).toBe(
      404,
    );
    const other = await roster.post(
      '/api/end_users',
      { name: 'o', email: 'o@else.example.com', environment_types: ['dev'] },
      token,
    );
    const steal = await roster.post(
      `/api/end_user_groups/${group.body.data.id}/members`,
      { end_user_ids: [other.body.data.id] },
      token,
    );
    expect(steal.status).toBe(404);
    const cross = await roster.post(
      '/api/end_user_groups',
      { environment_type: 'dev', name: 'Cross', end_user_ids: [ben] },
      token,
    );
    expect(cross.status).toBe(400);
    expect(cross.body).toEqual(error(`End users not found: ${ben}`));
  });
});
