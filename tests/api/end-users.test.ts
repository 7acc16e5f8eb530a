/**
 * End-user directory: create, list (search, sort, filter, pages), detail, edit, delete,
 * environment access, lock and unlock, portal invitations, workspace isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;

beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

async function createUser(
  email: string,
  environment_types: string[] = ['dev'],
  extra: Record<string, unknown> = {},
) {
  const res = await roster.post('/api/end_users', {
    name: email.split('@')[0],
    email,
    environment_types,
    ...extra,
  });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${res.text}`);
  return res.body.data as { id: number; email: string; name: string };
}

async function everyoneOf(environment: string): Promise<{ id: number; users_count: number }> {
  const res = await roster.get(`/api/end_user_groups?environment_type=${environment}`);
  return res.body.data.find((g: { system: boolean }) => g.system);
}

async function decide(body: Record<string, unknown>) {
  return roster.post('/api/end_users/decisions', body);
}

describe('POST /api/end_users', () => {
  it('creates an active, manual end user with its environments', async () => {
    const res = await roster.post('/api/end_users', {
      name: 'Ada',
      email: 'Ada@Create.example.com',
      environment_types: ['dev', 'prod'],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Ada',
        email: 'Ada@Create.example.com',
        avatar_url: null,
        external_id: null,
        status: 'active',
        mfa_enabled: false,
        source: 'manual',
        environment_types: ['dev', 'prod'],
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const events = await roster.get(
      `/api/audit_events?action=end_user.created&target_id=${res.body.data.id}`,
    );
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0].target).toEqual({
      type: 'end_user',
      id: String(res.body.data.id),
      name: 'Ada',
    });
  });

  it('returns 400 when the email is already taken, whatever its case', async () => {
    await createUser('dup@create.example.com');
    const res = await roster.post('/api/end_users', {
      name: 'Dup',
      email: 'DUP@create.example.com',
      environment_types: ['dev'],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title:
            'Email has already been taken: DUP@create.example.com is already an end user in this workspace',
        },
      ],
    });
  });

  it('returns 400 when the name is blank', async () => {
    const res = await roster.post('/api/end_users', {
      name: '  ',
      email: 'blank@create.example.com',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: "Name can't be blank" }] });
  });

  it('returns 400 when the email is not an email', async () => {
    const res = await roster.post('/api/end_users', { name: 'X', email: 'not-an-email' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].title).toMatch(/^email must match pattern/);
  });

  it('returns 400 when an environment does not exist', async () => {
    const res = await roster.post('/api/end_users', {
      name: 'X',
      email: 'x@env.example.com',
      environment_types: ['staging'],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Environment staging not found' }],
    });
  });
});

describe('GET /api/end_users', () => {
  let ids: number[];
  beforeAll(async () => {
    const a = await createUser('carol@list.example.org', ['dev'], { mfa_enabled: true });
    roster.clock.advance(1000);
    const b = await createUser('alice@list.example.org', ['dev']);
    roster.clock.advance(1000);
    const c = await createUser('bob@list.example.org', ['prod'], { mfa_enabled: true });
    ids = [a.id, b.id, c.id];
    await roster.post(`/api/end_users/${b.id}/lock`);
  });

  it('searches by email (contains, case-insensitive)', async () => {
    const res = await roster.get('/api/end_users?email=LIST.EXAMPLE.ORG');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual(ids);
    expect(res.body.page).toEqual({ number: 1, size: 100 });
  });

  it('sorts by email in both directions', async () => {
    const asc = await roster.get('/api/end_users?email=list.example.org&sort=email');
    expect(asc.body.data.map((u: { email: string }) => u.email)).toEqual([
      'alice@list.example.org',
      'bob@list.example.org',
      'carol@list.example.org',
    ]);
    const desc = await roster.get(
      '/api/end_users?email=list.example.org&sort=email&direction=desc',
    );
    expect(desc.body.data.map((u: { email: string }) => u.email)).toEqual([
      'carol@list.example.org',
      'bob@list.example.org',
      'alice@list.example.org',
    ]);
  });

  it('sorts by MFA, then email', async () => {
    const res = await roster.get('/api/end_users?email=list.example.org&sort=mfa&direction=desc');
    expect(res.body.data.map((u: { email: string }) => u.email)).toEqual([
      'carol@list.example.org',
      'bob@list.example.org',
      'alice@list.example.org',
    ]);
  });

  it('sorts by creation time, newest first', async () => {
    const res = await roster.get(
      '/api/end_users?email=list.example.org&sort=created_at&direction=desc',
    );
    expect(res.body.data.map((u: { id: number }) => u.id)).toEqual([...ids].reverse());
  });

  it('filters by status and by environment', async () => {
    const locked = await roster.get('/api/end_users?email=list.example.org&status=locked');
    expect(locked.body.data.map((u: { email: string }) => u.email)).toEqual([
      'alice@list.example.org',
    ]);
    expect(locked.body.total).toBe(1);
    const prod = await roster.get('/api/end_users?email=list.example.org&environment_type=prod');
    expect(prod.body.data.map((u: { email: string }) => u.email)).toEqual(['bob@list.example.org']);
  });

  it('pages with page[number] and page[size]', async () => {
    const res = await roster.get(
      '/api/end_users?email=list.example.org&sort=email&page[number]=2&page[size]=2',
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [expect.objectContaining({ email: 'carol@list.example.org' })],
      total: 3,
      page: { number: 2, size: 2 },
    });
  });

  it('returns 400 for an unknown sort or status', async () => {
    const sort = await roster.get('/api/end_users?sort=name');
    expect(sort.status).toBe(400);
    expect(sort.body.errors[0].code).toBe('bad_request');
    expect(sort.body.errors[0].title).toMatch(/^querystring\/sort|^sort /);
    const status = await roster.get('/api/end_users?status=sleeping');
    expect(status.status).toBe(400);
  });
});

describe('GET /api/end_users/:id', () => {
  it('shows the groups (Everyone included), feature access and recent activity', async () => {
    const user = await createUser('detail@detail.example.com', ['dev']);
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Detail team',
      end_user_ids: [user.id],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Detail assistant',
    });
    await roster.post(`/api/features/${feature.body.data.id}/access`, {
      end_user_group_ids: [group.body.data.id],
    });
    await roster.post(`/api/end_users/${user.id}/lock`);

    const res = await roster.get(`/api/end_users/${user.id}`);
    expect(res.status).toBe(200);
    const everyone = await everyoneOf('dev');
    expect(res.body.data.status).toBe('locked');
    expect(res.body.data.groups).toEqual([
      {
        id: everyone.id,
        name: 'Everyone',
        environment_type: 'dev',
        system: true,
        joined_at: expect.any(String),
      },
      {
        id: group.body.data.id,
        name: 'Detail team',
        environment_type: 'dev',
        system: false,
        joined_at: expect.any(String),
      },
    ]);
    expect(res.body.data.feature_access).toEqual([
      {
        feature: {
          id: feature.body.data.id,
          name: 'Detail assistant',
          kind: 'assistant',
          environment_type: 'dev',
        },
        via: 'group',
        group: { id: group.body.data.id, name: 'Detail team' },
      },
    ]);
    expect(res.body.data.recent_activity.map((a: { action: string }) => a.action)).toEqual([
      'end_user.locked',
      'end_user.created',
    ]);
  });

  it('returns 404 for an unknown end user', async () => {
    const res = await roster.get('/api/end_users/999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ code: 'not_found', title: 'End user not found' }] });
  });
});

describe('PUT and PATCH /api/end_users/:id', () => {
  it('renames the user and replaces its groups', async () => {
    const user = await createUser('edit@edit.example.com');
    const other = await createUser('edit-other@edit.example.com');
    const first = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Edit A',
      end_user_ids: [user.id, other.id],
    });
    const second = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Edit B',
      end_user_ids: [other.id],
    });

    const res = await roster.put(`/api/end_users/${user.id}`, {
      name: 'Edited',
      end_user_group_ids: [second.body.data.id],
    });
    expect(res.status).toBe(200);
    expect(res.body.data.name).toBe('Edited');
    const detail = await roster.get(`/api/end_users/${user.id}`);
    expect(
      detail.body.data.groups
        .filter((g: { system: boolean }) => !g.system)
        .map((g: { name: string }) => g.name),
    ).toEqual(['Edit B']);
    const firstGroup = await roster.get(`/api/end_user_groups/${first.body.data.id}`);
    expect(firstGroup.body.data.users_count).toBe(1);

    const patched = await roster.request('PATCH', `/api/end_users/${user.id}`, {
      body: { mfa_enabled: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ name: 'Edited', mfa_enabled: true });
  });

  it('returns 400 when the edit would remove the last member of a group', async () => {
    const user = await createUser('edit-last@edit.example.com');
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Edit solo',
      end_user_ids: [user.id],
    });
    const res = await roster.put(`/api/end_users/${user.id}`, { end_user_group_ids: [] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title:
            'edit-last@edit.example.com is the last member of group Edit solo; an end-user group must have at least one member. Add another member first or delete the group.',
        },
      ],
    });
    const after = await roster.get(`/api/end_user_groups/${group.body.data.id}`);
    expect(after.body.data.users_count).toBe(1);
  });

  it('returns 400 when a group is in an environment the user cannot access', async () => {
    const devUser = await createUser('edit-env@edit.example.com', ['dev']);
    const prodUser = await createUser('edit-prod@edit.example.com', ['prod']);
    const prodGroup = await roster.post('/api/end_user_groups', {
      environment_type: 'prod',
      name: 'Prod people',
      end_user_ids: [prodUser.id],
    });
    const res = await roster.put(`/api/end_users/${devUser.id}`, {
      end_user_group_ids: [prodGroup.body.data.id],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: 'Group Prod people is in the PROD environment, which the user has no access to',
        },
      ],
    });
  });
});

describe('DELETE /api/end_users/:id', () => {
  it('deletes the user, who loses all access at once', async () => {
    const user = await createUser('gone@delete.example.com');
    const keeper = await createUser('keeper@delete.example.com');
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Delete crew',
      end_user_ids: [user.id, keeper.id],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'chat_app',
      name: 'Delete chat',
    });
    await roster.post(`/api/features/${feature.body.data.id}/access`, { end_user_ids: [user.id] });
    const allowed = await decide({
      end_user_id: user.id,
      environment_type: 'dev',
      feature_id: feature.body.data.id,
    });
    expect(allowed.body.data.decision).toBe('allow');

    const res = await roster.delete(`/api/end_users/${user.id}`);
    expect(res.status).toBe(204);
    expect((await roster.get(`/api/end_users/${user.id}`)).status).toBe(404);
    const grants = await roster.get(`/api/features/${feature.body.data.id}/access`);
    expect(grants.body.data).toEqual([]);
    const members = await roster.get(`/api/end_user_groups/${group.body.data.id}/members`);
    expect(members.body.data.map((m: { id: number }) => m.id)).toEqual([keeper.id]);
    const after = await decide({
      email: 'gone@delete.example.com',
      environment_type: 'dev',
      feature_id: feature.body.data.id,
    });
    expect(after.status).toBe(404);
    expect(after.body).toEqual({ errors: [{ code: 'not_found', title: 'End user not found' }] });
    const events = await roster.get(
      `/api/audit_events?action=end_user.deleted&target_id=${user.id}`,
    );
    expect(events.body.data).toHaveLength(1);
  });
});

describe('PUT /api/end_users/:id/environments', () => {
  it('returns 400 when revoking without confirm: true, and changes nothing', async () => {
    const user = await createUser('noconfirm@env.example.com', ['dev', 'prod']);
    const res = await roster.put(`/api/end_users/${user.id}/environments`, {
      environment_type: 'prod',
      access: false,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title:
            'Revoking access to the PROD environment removes the user from its groups and feature grants: send "confirm": true to revoke',
        },
      ],
    });
    const unconfirmed = await roster.put(`/api/end_users/${user.id}/environments`, {
      environment_type: 'prod',
      access: false,
      confirm: false,
    });
    expect(unconfirmed.status).toBe(400);
    expect((await roster.get(`/api/end_users/${user.id}`)).body.data.environment_types).toEqual([
      'dev',
      'prod',
    ]);
  });

  it('revokes with confirm: removes the user from the environment’s groups and grants, and audits it', async () => {
    const user = await createUser('revoke@env.example.com', ['dev', 'test']);
    const stay = await createUser('stay@env.example.com', ['test']);
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'test',
      name: 'Test crew',
      end_user_ids: [user.id, stay.id],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'test',
      kind: 'mcp_server',
      name: 'Test MCP',
    });
    await roster.post(`/api/features/${feature.body.data.id}/access`, { end_user_ids: [user.id] });
    const everyoneBefore = await everyoneOf('test');

    const res = await roster.put(`/api/end_users/${user.id}/environments`, {
      environment_type: 'test',
      access: false,
      confirm: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.environment_types).toEqual(['dev']);
    const members = await roster.get(`/api/end_user_groups/${group.body.data.id}/members`);
    expect(members.body.data.map((m: { id: number }) => m.id)).toEqual([stay.id]);
    expect((await roster.get(`/api/features/${feature.body.data.id}/access`)).body.data).toEqual(
      [],
    );
    expect((await everyoneOf('test')).users_count).toBe(everyoneBefore.users_count - 1);
    const decision = await decide({
      end_user_id: user.id,
      environment_type: 'test',
      feature_id: feature.body.data.id,
    });
    expect(decision.body.data).toEqual({
      decision: 'deny',
      reasons: [
        {
          type: 'no_environment_access',
          message: 'revoke@env.example.com has no access to the TEST environment',
        },
      ],
      approval_request_id: null,
    });
    const events = await roster.get(
      `/api/audit_events?action=end_user.environment_revoked&target_id=${user.id}`,
    );
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0].before).toEqual({
      environment_type: 'test',
      group_ids: [group.body.data.id],
      feature_ids: [feature.body.data.id],
    });
  });

  it('grants an environment, which puts the user in its Everyone group', async () => {
    const user = await createUser('grant@env.example.com', []);
    const before = await everyoneOf('prod');
    const res = await roster.put(`/api/end_users/${user.id}/environments`, {
      environment_type: 'prod',
      access: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.environment_types).toEqual(['prod']);
    expect((await everyoneOf('prod')).users_count).toBe(before.users_count + 1);
    const members = await roster.get(`/api/end_user_groups/${before.id}/members`);
    expect(members.body.data.map((m: { email: string }) => m.email)).toContain(
      'grant@env.example.com',
    );
    const events = await roster.get(
      `/api/audit_events?action=end_user.environment_granted&target_id=${user.id}`,
    );
    expect(events.body.data).toHaveLength(1);
  });
});

describe('POST /api/end_users/:id/lock and /unlock', () => {
  it('denies a locked user whatever the policies say, keeps its groups, and unlocking restores access', async () => {
    const user = await createUser('locked@lock.example.com');
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Lock crew',
      end_user_ids: [user.id],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Lock assistant',
    });
    await roster.post('/api/policies', {
      name: 'Lock crew may',
      environment_type: 'dev',
      feature_id: feature.body.data.id,
      scope: { type: 'groups', ids: [group.body.data.id] },
      effect: 'allow',
    });
    const ask = { end_user_id: user.id, environment_type: 'dev', feature_id: feature.body.data.id };
    expect((await decide(ask)).body.data.decision).toBe('allow');

    const locked = await roster.post(`/api/end_users/${user.id}/lock`);
    expect(locked.status).toBe(200);
    expect(locked.body.data.status).toBe('locked');
    const denied = await decide(ask);
    expect(denied.status).toBe(200);
    expect(denied.body).toEqual({
      data: {
        decision: 'deny',
        reasons: [
          {
            type: 'locked',
            message:
              'locked@lock.example.com is locked: every call is denied until the user is unlocked',
          },
        ],
        approval_request_id: null,
      },
    });
    const members = await roster.get(`/api/end_user_groups/${group.body.data.id}/members`);
    expect(members.body.data.map((m: { id: number; status: string }) => [m.id, m.status])).toEqual([
      [user.id, 'locked'],
    ]);

    const again = await roster.post(`/api/end_users/${user.id}/lock`);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      errors: [{ code: 'bad_request', title: 'The end user is already locked' }],
    });

    const unlocked = await roster.post(`/api/end_users/${user.id}/unlock`);
    expect(unlocked.status).toBe(200);
    expect(unlocked.body.data.status).toBe('active');
    expect((await decide(ask)).body.data.decision).toBe('allow');
    const events = await roster.get(
      `/api/audit_events?target_type=end_user&target_id=${user.id}&action=end_user.locked`,
    );
    expect(events.body.data).toHaveLength(1);
  });

  it('returns 400 when unlocking a user that is not locked', async () => {
    const user = await createUser('notlocked@lock.example.com');
    const res = await roster.post(`/api/end_users/${user.id}/unlock`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'The end user is not locked; it is active' }],
    });
  });
});

describe('portal invitations', () => {
  function tokenFrom(text: string): string {
    const match = /\/end-user-invitations\/([A-Za-z0-9_-]+)/.exec(text);
    if (match?.[1] === undefined) throw new Error('no link in mail');
    return match[1];
  }

  it('invites a user into groups, mails a link, and accepting activates it and puts it in Everyone', async () => {
    const member = await createUser('portal-member@invite.example.com', ['dev']);
    const group = await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Portal team',
      end_user_ids: [member.id],
    });
    const everyoneBefore = await everyoneOf('dev');

    const res = await roster.post('/api/end_users/invitations', {
      name: 'Paula',
      email: 'paula@invite.example.com',
      environment_types: ['dev'],
      end_user_group_ids: [group.body.data.id],
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      name: 'Paula',
      email: 'paula@invite.example.com',
      status: 'invited',
      source: 'invitation',
      environment_types: ['dev'],
    });
    const id = res.body.data.id;
    // Not in Everyone until accepted; already in the named group.
    expect((await everyoneOf('dev')).users_count).toBe(everyoneBefore.users_count);
    const groupMembers = await roster.get(`/api/end_user_groups/${group.body.data.id}/members`);
    expect(groupMembers.body.data.map((m: { id: number }) => m.id)).toEqual([member.id, id]);

    const mail = (await roster.outbox()).filter((m) => m.to === 'paula@invite.example.com');
    expect(mail).toHaveLength(1);
    expect(mail[0]?.text).toContain('http://roster.test/end-user-invitations/');
    const token = tokenFrom(mail[0]?.text ?? '');

    const accepted = await roster.post(`/end-user-invitations/${token}/accept`, {}, null);
    expect(accepted.status).toBe(200);
    expect(accepted.body.data).toMatchObject({ id, status: 'active', source: 'invitation' });
    expect((await everyoneOf('dev')).users_count).toBe(everyoneBefore.users_count + 1);
    const detail = await roster.get(`/api/end_users/${id}`);
    expect(detail.body.data.groups.map((g: { name: string }) => g.name)).toEqual([
      'Everyone',
      'Portal team',
    ]);

    const twice = await roster.post(`/end-user-invitations/${token}/accept`, {}, null);
    expect(twice.status).toBe(410);
    expect(twice.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has already been accepted' }],
    });
  });

  it('denies an invited user until the invitation is accepted', async () => {
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'apps_portal',
      name: 'Invite portal',
    });
    const everyone = await everyoneOf('dev');
    await roster.post(`/api/features/${feature.body.data.id}/access`, {
      end_user_group_ids: [everyone.id],
    });
    const invited = await roster.post('/api/end_users/invitations', {
      name: 'Ivo',
      email: 'ivo@invite.example.com',
      environment_types: ['dev'],
    });
    const ask = {
      email: 'ivo@invite.example.com',
      environment_type: 'dev',
      feature_id: feature.body.data.id,
    };
    const before = await decide(ask);
    expect(before.body.data).toEqual({
      decision: 'deny',
      reasons: [
        {
          type: 'status',
          message: 'ivo@invite.example.com is invited: only active users get access',
        },
      ],
      approval_request_id: null,
    });
    const token = tokenFrom(
      (await roster.outbox()).filter((m) => m.to === 'ivo@invite.example.com')[0]?.text ?? '',
    );
    await roster.post(`/end-user-invitations/${token}/accept`, {}, null);
    const after = await decide(ask);
    expect(after.body.data.decision).toBe('allow');
    expect(after.body.data.reasons).toEqual([
      {
        type: 'feature_grant',
        message: 'Feature "Invite portal" is granted to group Everyone',
        grant_id: expect.any(Number),
        group: { id: everyone.id, name: 'Everyone' },
      },
    ]);
    expect(invited.status).toBe(201);
  });

  it('returns 404 for an unknown invitation link and 410 for an expired one', async () => {
    const unknown = await roster.post(
      '/end-user-invitations/eui_doesnotexist_0000/accept',
      {},
      null,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      errors: [{ code: 'not_found', title: 'Invitation not found' }],
    });

    await roster.post('/api/end_users/invitations', {
      name: 'Late',
      email: 'late@invite.example.com',
      environment_types: ['dev'],
    });
    const token = tokenFrom(
      (await roster.outbox()).filter((m) => m.to === 'late@invite.example.com')[0]?.text ?? '',
    );
    roster.clock.advance(8 * 24 * 60 * 60 * 1000);
    const expired = await roster.post(`/end-user-invitations/${token}/accept`, {}, null);
    expect(expired.status).toBe(410);
    expect(expired.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has expired' }],
    });
  });

  it('returns 400 when the email already belongs to an end user', async () => {
    await createUser('exists@invite.example.com');
    const res = await roster.post('/api/end_users/invitations', {
      name: 'Again',
      email: 'Exists@invite.example.com',
      environment_types: ['dev'],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].title).toBe(
      'Email has already been taken: Exists@invite.example.com is already an end user in this workspace',
    );
  });
});

describe('workspace isolation', () => {
  it('keeps end users invisible to another workspace', async () => {
    const user = await createUser('private@isolation.example.com');
    const created = await roster.post('/platform/workspaces', { name: 'Other' }, PLATFORM_TOKEN);
    expect(created.status).toBe(201);
    const token = created.body.data.admin_token;
    const list = await roster.get('/api/end_users', token);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    expect((await roster.get(`/api/end_users/${user.id}`, token)).status).toBe(404);
    expect((await roster.post(`/api/end_users/${user.id}/lock`, undefined, token)).status).toBe(
      404,
    );
    expect((await roster.delete(`/api/end_users/${user.id}`, token)).status).toBe(404);
    // The same email is free in the other workspace.
    const same = await roster.post(
      '/api/end_users',
      { name: 'Twin', email: 'private@isolation.example.com', environment_types: ['dev'] },
      token,
    );
    expect(same.status).toBe(201);
    expect((await roster.get(`/api/end_users/${user.id}`)).body.data.status).toBe('active');
  });
});
