/**
 * The platform API: the operator creates workspaces with ROSTER_PLATFORM_TOKEN; each new workspace
 * comes with its furniture and an admin token that sees only that workspace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

/** The helper's roster, with another workspace's token as the default one. */
function as(token: string): Roster {
  return { ...roster, post: (p, body, t) => roster.post(p, body, t === undefined ? token : t) };
}

describe('POST /platform/workspaces', () => {
  it('creates a workspace with three environments and an admin token', async () => {
    const res = await roster.post('/platform/workspaces', { name: 'Acme' }, PLATFORM_TOKEN);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Acme',
        environments: [
          { id: expect.any(Number), type: 'dev' },
          { id: expect.any(Number), type: 'test' },
          { id: expect.any(Number), type: 'prod' },
        ],
        created_at: expect.any(String),
        admin_token: expect.stringMatching(/^rst_/),
      },
    });
    const token: string = res.body.data.admin_token;

    const groups = await roster.get('/api/user_groups', token);
    expect(groups.status).toBe(200);
    expect(groups.body.data).toEqual([
      expect.objectContaining({ name: 'All collaborators', system: true, members_count: 0 }),
    ]);
    const members = await roster.get('/api/members', token);
    expect(members.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    const legacy = await roster.get('/api/roles', token);
    expect(legacy.body.data.map((r: { name: string }) => r.name)).toEqual(
      expect.arrayContaining(['Admin', 'Analyst', 'Operator', 'No access']),
    );
    const events = await roster.get('/api/audit_events', token);
    expect(events.body.data).toEqual([
      expect.objectContaining({
        action: 'workspace.created',
        actor: { type: 'platform', id: null, name: 'platform operator' },
        target: { type: 'workspace', id: String(res.body.data.id), name: 'Acme' },
      }),
    ]);
  });

  it('creates a single-environment workspace (only dev) with environments: false', async () => {
    const res = await roster.post(
      '/platform/workspaces',
      { name: 'Solo', environments: false },
      PLATFORM_TOKEN,
    );
    expect(res.status).toBe(201);
    expect(res.body.data.environments).toEqual([{ id: expect.any(Number), type: 'dev' }]);
    const token: string = res.body.data.admin_token;

    const member = await createMember(as(token), {
      email: 'solo@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const got = await roster.get(`/api/members/${member.id}`, token);
    expect(got.body.data.roles).toEqual([
      { environment_type: 'dev', role_name: 'Admin', role_type: 'privilege_group' },
    ]);

    const prod = await roster.post(
      '/api/member_invitations',
      {
        name: 'P',
        email: 'prod@example.com',
        env_roles: [{ environment_type: 'prod', name: 'Admin' }],
      },
      token,
    );
    expect(prod.status).toBe(400);
    expect(prod.body).toEqual({ message: 'Environment prod not found' });
  });

  it('lists workspaces for the platform operator', async () => {
    const res = await roster.get('/platform/workspaces', PLATFORM_TOKEN);
    expect(res.status).toBe(200);
    expect(res.body.data.map((w: { name: string }) => w.name)).toEqual(
      expect.arrayContaining(['Default', 'Acme', 'Solo']),
    );
    for (const workspace of res.body.data) expect(workspace).not.toHaveProperty('admin_token');
  });

  it('answers 401 for a wrong or missing platform token, and for a workspace admin token', async () => {
    const wrong = await roster.post(
      '/platform/workspaces',
      { name: 'Nope' },
      'platform_wrong_token_000000000',
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      errors: [{ code: 'unauthorized', title: 'Invalid platform token' }],
    });
    expect((await roster.post('/platform/workspaces', { name: 'Nope' }, null)).status).toBe(401);
    expect(
      (await roster.post('/platform/workspaces', { name: 'Nope' }, roster.adminToken)).status,
    ).toBe(401);
    expect((await roster.get('/platform/workspaces', roster.adminToken)).status).toBe(401);
    const list = await roster.get('/platform/workspaces', PLATFORM_TOKEN);
    expect(list.body.data.some((w: { name: string }) => w.name === 'Nope')).toBe(false);
  });

  it('does not accept the platform token on the workspace API', async () => {
    const res = await roster.get('/api/members', PLATFORM_TOKEN);
    expect(res.status).toBe(401);
  });

  it('answers 400 naming the field for a missing or over-long name', async () => {
    const missing = await roster.post('/platform/workspaces', {}, PLATFORM_TOKEN);
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errors: [{ code: 'bad_request', title: 'name is required' }] });
    const long = await roster.post(
      '/platform/workspaces',
      { name: 'w'.repeat(201) },
      PLATFORM_TOKEN,
    );
    expect(long.status).toBe(400);
    expect(long.body.errors[0].title).toMatch(/^name /);
    const wrongType = await roster.post(
      '/platform/workspaces',
      { name: 'T', environments: 'yes' },
      PLATFORM_TOKEN,
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors[0].title).toMatch(/^environments /);
  });
});

describe('the new workspace’s token', () => {
  it('sees only its own workspace’s data', async () => {
    const acme = await roster.post('/platform/workspaces', { name: 'Own data' }, PLATFORM_TOKEN);
    const token: string = acme.body.data.admin_token;
    await createMember(roster, { email: 'default-only@example.com' });

    const own = await roster.get('/api/members', token);
    expect(own.body.total).toBe(0);
    const def = await roster.get('/api/members?email=default-only');
    expect(def.body.total).toBe(1);
    const clients = await roster.get('/api/api_clients', token);
    expect(clients.body.data).toEqual([
      expect.objectContaining({
        name: 'Bootstrap admin',
        environment_types: ['dev', 'test', 'prod'],
      }),
    ]);
  });
});
