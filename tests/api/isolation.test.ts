/**
 * Workspace isolation: nothing of workspace A can be read, changed or referenced with workspace
 * B's token. Another tenant's resource is a 404 (never a 403 that would confirm it exists).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PLATFORM_TOKEN,
  createMember,
  invitationTokenFor,
  startRoster,
  type Roster,
} from '../helpers/roster.js';

let roster: Roster;
let tokenB: string;

/** Workspace A's resources, created with the default workspace's admin token. */
const a = {} as {
  memberId: number;
  groupId: string;
  systemGroupId: string;
  environmentRoleId: number;
  projectRoleId: string;
  legacyRoleId: number;
  projectId: number;
  grantId: string;
  invitationId: number;
  apiClientId: number;
  apiClientToken: string;
  auditEventId: number;
};
/** Workspace B's own resources, to reference A's from. */
const b = {} as { groupId: string; projectId: number; projectRoleId: string; memberId: number };

beforeAll(async () => {
  roster = await startRoster();
  const created = await roster.post('/platform/workspaces', { name: 'Tenant B' }, PLATFORM_TOKEN);
  tokenB = created.body.data.admin_token;

  const group = await roster.post('/api/user_groups', { user_group: { name: 'A group' } });
  a.groupId = group.body.data.id;
  a.systemGroupId = (await roster.get('/api/user_groups')).body.data.find(
    (g: { system: boolean }) => g.system,
  ).id;
  a.memberId = (
    await createMember(roster, { email: 'alice@a.example.com', user_group_ids: [a.groupId] })
  ).id;
  const envRole = await roster.post('/api/environment_roles', {
    environment_role: { name: 'A env role', config: { team: { privileges: 'all' } } },
  });
  a.environmentRoleId = envRole.body.data.id;
  const projectRole = await roster.post('/api/project_roles', {
    project_role: { name: 'A project role', config: { recipe: { privileges: 'all' } } },
  });
  a.projectRoleId = projectRole.body.data.id;
  const legacyRoles = await roster.get('/api/roles');
  a.legacyRoleId = legacyRoles.body.data.find((r: { name: string }) => r.name === 'Operator').id;
  const project = await roster.post('/api/projects', {
    name: 'A project',
    environment_type: 'dev',
  });
  a.projectId = project.body.data.id;
  await roster.put(`/api/projects/${a.projectId}/project_grants`, {
    project_grants: [
      {
        assignment_type: 'User',
        assignment_id: String(a.memberId),
        project_role_id: a.projectRoleId,
      },
    ],
  });
  a.grantId = (await roster.get(`/api/projects/${a.projectId}/project_grants`)).body.data[0].id;
  const invitation = await roster.post('/api/member_invitations', {
    name: 'Pending A',
    email: 'pending@a.example.com',
    env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    user_group_ids: [a.groupId],
  });
  a.invitationId = invitation.body.data.id;
  const client = await roster.post('/api/api_clients', { name: 'A client' });
  a.apiClientId = client.body.data.id;
  a.apiClientToken = client.body.data.token;
  a.auditEventId = (await roster.get('/api/audit_events')).body.data[0].id;

  b.groupId = (
    await roster.post('/api/user_groups', { user_group: { name: 'B group' } }, tokenB)
  ).body.data.id;
  b.projectId = (
    await roster.post('/api/projects', { name: 'B project', environment_type: 'dev' }, tokenB)
  ).body.data.id;
  b.projectRoleId = (
    await roster.post(
      '/api/project_roles',
      { project_role: { name: 'B role', config: { recipe: { privileges: 'all' } } } },
      tokenB,
    )
  ).body.data.id;
  const asB: Roster = {
    ...roster,
    post: (p, body, t) => roster.post(p, body, t === undefined ? tokenB : t),
  };
  b.memberId = (await createMember(asB, { email: 'bob@b.example.com' })).id;
});
afterAll(async () => {
  await roster.close();
});

describe('reading workspace A with workspace B’s token', () => {
  it('answers 404 for A’s collaborator and everything under it', async () => {
    for (const path of [
      `/api/members/${a.memberId}`,
      `/api/members/${a.memberId}/privileges`,
      `/api/members/${a.memberId}/projects_privileges`,
      `/api/members/${a.memberId}/project_grants`,
    ]) {
      const res = await roster.get(path, tokenB);
      expect(res.status, path).toBe(404);
      expect(res.body.errors[0].code, path).toBe('not_found');
    }
  });

  it('answers 404 for A’s groups, roles, project, grant, invitation and API client', async () => {
    for (const path of [
      `/api/user_groups/${a.groupId}`,
      `/api/user_groups/${a.groupId}/members`,
      `/api/user_groups/${a.groupId}/project_grants`,
      `/api/user_groups/${a.systemGroupId}`,
      `/api/environment_roles/${a.environmentRoleId}`,
      `/api/project_roles/${a.projectRoleId}`,
      `/api/roles/${a.legacyRoleId}`,
      `/api/projects/${a.projectId}`,
      `/api/projects/${a.projectId}/project_grants`,
      `/api/project_grants/${a.grantId}`,
      `/api/member_invitations/${a.invitationId}`,
      `/api/api_clients/${a.apiClientId}`,
    ]) {
      const res = await roster.get(path, tokenB);
      expect(res.status, path).toBe(404);
      expect(res.body.errors[0].code, path).toBe('not_found');
    }
  });

  it('lists none of A’s resources', async () => {
    const members = await roster.get('/api/members', tokenB);
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual(['bob@b.example.com']);
    const groups = await roster.get('/api/user_groups', tokenB);
    expect(groups.body.data.map((g: { id: string }) => g.id)).not.toContain(a.groupId);
    expect(groups.body.data.map((g: { id: string }) => g.id)).not.toContain(a.systemGroupId);
    const environmentRoles = await roster.get('/api/environment_roles', tokenB);
    expect(environmentRoles.body.data.map((r: { id: number }) => r.id)).not.toContain(
      a.environmentRoleId,
    );
    const projectRoles = await roster.get('/api/project_roles', tokenB);
    expect(projectRoles.body.data.map((r: { id: string }) => r.id)).not.toContain(a.projectRoleId);
    const legacyRoles = await roster.get('/api/roles', tokenB);
    expect(legacyRoles.body.data.map((r: { id: number }) => r.id)).not.toContain(a.legacyRoleId);
    const projects = await roster.get('/api/projects', tokenB);
    expect(projects.body.data.map((p: { id: number }) => p.id)).toEqual([b.projectId]);
    const invitations = await roster.get('/api/member_invitations', tokenB);
    expect(invitations.body.data.map((i: { email: string }) => i.email)).toEqual([
      'bob@b.example.com',
    ]);
    const clients = await roster.get('/api/api_clients?include_revoked=true', tokenB);
    expect(clients.body.data.map((c: { id: number }) => c.id)).not.toContain(a.apiClientId);
    const events = await roster.get('/api/audit_events?page[size]=100', tokenB);
    const eventIds = events.body.data.map((e: { id: number }) => e.id);
    expect(eventIds).not.toContain(a.auditEventId);
    expect(events.text).not.toContain('alice@a.example.com');
    const byTarget = await roster.get(
      `/api/audit_events?target_type=member&target_id=${a.memberId}`,
      tokenB,
    );
    expect(byTarget.body).toMatchObject({ data: [], total: 0 });
  });
});

describe('changing workspace A with workspace B’s token', () => {
  it('answers 404 and leaves A’s resources as they were', async () => {
    const attempts: [string, string, unknown?][] = [
      [
        'PUT',
        `/api/members/${a.memberId}`,
        { env_roles: [{ environment_type: 'dev', name: 'Admin' }] },
      ],
      ['DELETE', `/api/members/${a.memberId}`],
      ['PUT', `/api/user_groups/${a.groupId}`, { user_group: { name: 'Hijacked' } }],
      ['DELETE', `/api/user_groups/${a.groupId}`],
      ['POST', `/api/user_groups/${a.groupId}/members`, { user_ids: [b.memberId] }],
      ['DELETE', `/api/user_groups/${a.groupId}/members?user_ids[]=${a.memberId}`],
      [
        'PUT',
        `/api/environment_roles/${a.environmentRoleId}`,
        { environment_role: { name: 'Hijacked', config: {} } },
      ],
      ['DELETE', `/api/environment_roles/${a.environmentRoleId}`],
      [
        'PUT',
        `/api/project_roles/${a.projectRoleId}`,
        { project_role: { name: 'Hijacked', config: {} } },
      ],
      ['DELETE', `/api/project_roles/${a.projectRoleId}`],
      ['PUT', `/api/projects/${a.projectId}`, { name: 'Hijacked' }],
      ['DELETE', `/api/projects/${a.projectId}`],
      [
        'PUT',
        `/api/project_grants/${a.grantId}`,
        { project_grant: { project_role_id: b.projectRoleId } },
      ],
      ['DELETE', `/api/project_grants/${a.grantId}`],
      [
        'PUT',
        `/api/projects/${a.projectId}/project_grants`,
        {
          project_grants: [
            {
              assignment_type: 'User',
              assignment_id: String(b.memberId),
              project_role_id: b.projectRoleId,
            },
          ],
        },
      ],
      ['DELETE', `/api/member_invitations/${a.invitationId}`],
      ['POST', `/api/member_invitations/${a.invitationId}/resend`],
      ['POST', `/api/api_clients/${a.apiClientId}/rotate`],
      ['DELETE', `/api/api_clients/${a.apiClientId}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await roster.request(method, path, { token: tokenB, body });
      expect(res.status, `${method} ${path}`).toBe(404);
    }

    const member = await roster.get(`/api/members/${a.memberId}`);
    expect(member.status).toBe(200);
    expect(member.body.data.roles[0].role_name).toBe('Analyst');
    expect((await roster.get(`/api/user_groups/${a.groupId}`)).body.data).toMatchObject({
      name: 'A group',
      members_count: 2,
    });
    expect((await roster.get(`/api/environment_roles/${a.environmentRoleId}`)).body.data.name).toBe(
      'A env role',
    );
    expect((await roster.get(`/api/project_roles/${a.projectRoleId}`)).body.data.name).toBe(
      'A project role',
    );
    expect((await roster.get(`/api/projects/${a.projectId}`)).body.data.name).toBe('A project');
    expect((await roster.get(`/api/project_grants/${a.grantId}`)).body.data.project_role.id).toBe(
      a.projectRoleId,
    );
    expect((await roster.get(`/api/projects/${a.projectId}/project_grants`)).body.total).toBe(1);
    expect((await roster.get(`/api/member_invitations/${a.invitationId}`)).body.data.status).toBe(
      'pending',
    );
    expect((await roster.get('/api/members', a.apiClientToken)).status).toBe(200);
    expect((await roster.outbox()).filter((m) => m.to === 'pending@a.example.com')).toHaveLength(1);
  });

  it('cannot reference A’s collaborators, groups or roles from B’s resources, and cannot tell them from missing ones', async () => {
    const NO_MEMBER = 987654;
    const NO_GROUP = 'am-Missing0-0000000';
    const NO_ROLE = 'pr-Missing0-0000000';
    const NO_PROJECT = 987655;
    // Each request names one of A's resources; the same request with an ID that exists nowhere must
    // get the same answer (apart from the ID in the text).
    const pairs: [string, string, (id: string) => unknown, string, string][] = [
      [
        'POST',
        `/api/user_groups/${b.groupId}/members`,
        (id) => ({ user_ids: [Number(id)] }),
        String(a.memberId),
        String(NO_MEMBER),
      ],
      [
        'PUT',
        `/api/projects/${b.projectId}/project_grants`,
        (id) => ({
          project_grants: [
            { assignment_type: 'User', assignment_id: id, project_role_id: b.projectRoleId },
          ],
        }),
        String(a.memberId),
        String(NO_MEMBER),
      ],
      [
        'PUT',
        `/api/projects/${b.projectId}/project_grants`,
        (id) => ({
          project_grants: [
            { assignment_type: 'UserGroup', assignment_id: id, project_role_id: b.projectRoleId },
          ],
        }),
        a.groupId,
        NO_GROUP,
      ],
      [
        'PUT',
        `/api/projects/${b.projectId}/project_grants`,
        (id) => ({
          project_grants: [
            { assignment_type: 'User', assignment_id: String(b.memberId), project_role_id: id },
          ],
        }),
        a.projectRoleId,
        NO_ROLE,
      ],
      [
        'POST',
        '/api/member_invitations',
        (id) => ({
          name: 'X',
          email: `x${id.length}@b.example.com`,
          env_roles: [{ environment_type: 'dev', name: 'Admin' }],
          user_group_ids: [id],
        }),
        a.groupId,
        NO_GROUP,
      ],
      [
        'PUT',
        `/api/members/${b.memberId}`,
        (id) => ({ env_roles: [{ environment_type: 'dev', name: id, role_type: 'environment' }] }),
        'A env role',
        'Nowhere role',
      ],
      [
        'POST',
        '/api/api_clients',
        (id) => ({ name: 'Sneaky', project_ids: [Number(id)] }),
        String(a.projectId),
        String(NO_PROJECT),
      ],
    ];
    for (const [method, path, body, foreignId, missingId] of pairs) {
      const foreign = await roster.request(method, path, { token: tokenB, body: body(foreignId) });
      const missing = await roster.request(method, path, { token: tokenB, body: body(missingId) });
      expect(foreign.status, `${method} ${path} ${foreignId}`).toBeGreaterThanOrEqual(400);
      expect(foreign.status, `${method} ${path} ${foreignId}`).toBe(missing.status);
      expect(foreign.text.replaceAll(foreignId, '<id>'), `${method} ${path}`).toBe(
        missing.text.replaceAll(missingId, '<id>'),
      );
    }

    expect((await roster.get(`/api/user_groups/${b.groupId}/members`, tokenB)).body.total).toBe(0);
    expect(
      (await roster.get(`/api/projects/${b.projectId}/project_grants`, tokenB)).body.total,
    ).toBe(0);
    expect((await roster.get(`/api/user_groups/${a.groupId}`)).body.data.members_count).toBe(2);
    expect(
      (await roster.get(`/api/members/${b.memberId}`, tokenB)).body.data.roles[0].role_name,
    ).toBe('Analyst');
  });

  it('keeps emails and invitation cooldowns per workspace', async () => {
    // Alice is a collaborator of A; B may still invite her, and the cooldown of A does not apply.
    const res = await roster.post(
      '/api/member_invitations',
      {
        name: 'Alice in B',
        email: 'pending@a.example.com',
        env_roles: [{ environment_type: 'dev', name: 'Operator' }],
      },
      tokenB,
    );
    expect(res.status).toBe(200);
    const token = await invitationTokenFor(roster, 'pending@a.example.com');
    const preview = await roster.get(`/invitations/${token}`, null);
    expect(preview.body.data.workspace.name).toBe('Tenant B');
    // A's invitation for the same address is untouched by B's.
    expect((await roster.get(`/api/member_invitations/${a.invitationId}`)).body.data.status).toBe(
      'pending',
    );
  });
});
