/**
 * SCIM target `collaborators`: users become collaborators with the connection's default role in
 * its environment, groups become externally managed collaborator groups. Black-box: every
 * effect is read back through the workspace API (members, groups, access checks, audit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient, type ScimConnection } from './helpers.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let roster: Roster;
let connection: ScimConnection;
let scim: ScimClient;
let people = 0;

beforeAll(async () => {
  roster = await startRoster();
  connection = await createConnection(roster, 'dev', 'collaborators');
  scim = scimClient(roster, connection);
});
afterAll(async () => {
  await roster.close();
});

async function provision(
  body: Record<string, unknown> = {},
  client: ScimClient = scim,
): Promise<{ id: string; userName: string }> {
  people += 1;
  const userName = `person${people}@collab.example.com`;
  const created = await client.request('POST', '/Users', { userName, ...body });
  if (created.status !== 201) throw new Error(`provision: ${created.status} ${created.text}`);
  return { id: created.body.id, userName: created.body.userName };
}

async function devRole(memberId: string | number): Promise<string | undefined> {
  const member = await roster.get(`/api/members/${memberId}`);
  return member.body.data.roles.find(
    (r: { environment_type: string }) => r.environment_type === 'dev',
  )?.role_name;
}

async function canViewFolders(memberId: string | number): Promise<boolean> {
  const res = await roster.post('/api/access/check', {
    subject: { member_id: Number(memberId) },
    environment_type: 'dev',
    resource: 'folder',
    privilege: 'view',
  });
  expect(res.status).toBe(200);
  return res.body.data.allowed;
}

const patch = (id: string, Operations: unknown[], resource = 'Users') =>
  scim.request('PATCH', `/${resource}/${id}`, { schemas: [PATCH], Operations });

describe('collaborator connections', () => {
  it('creates a collaborators connection with the default role Analyst, or the role given', async () => {
    const plain = await roster.post('/api/scim_connections', {
      environment_type: 'test',
      target: 'collaborators',
    });
    const operator = await roster.post('/api/scim_connections', {
      environment_type: 'prod',
      target: 'collaborators',
      default_role: 'operator',
    });

    expect(plain.status).toBe(201);
    expect(plain.body.data).toMatchObject({
      name: 'SCIM test collaborators',
      environment_type: 'test',
      target: 'collaborators',
      default_role: 'Analyst',
      default_role_type: 'privilege_group',
      users_count: 0,
      groups_count: 0,
    });
    expect(operator.status).toBe(201);
    expect(operator.body.data).toMatchObject({
      default_role: 'Operator',
      default_role_type: 'privilege_group',
    });
  });

  it('accepts a custom environment role as the default role', async () => {
    const role = await roster.post('/api/environment_roles', {
      environment_role: { name: 'SCIM Builders', config: { team: { privileges: 'all' } } },
    });
    expect(role.status).toBe(200);
    const created = await roster.post('/api/scim_connections', {
      environment_type: 'test',
      target: 'collaborators',
      default_role: 'SCIM Builders',
      default_role_type: 'environment',
    });
    expect(created.status).toBe(201);
    const client = scimClient(roster, created.body.data);
    const user = await provision({}, client);
    const member = await roster.get(`/api/members/${user.id}`);
    expect(member.body.data.roles).toContainEqual({
      environment_type: 'test',
      role_name: 'SCIM Builders',
      role_type: 'environment',
    });
  });

  it('returns 400 for an unknown default role and for a default role on an end_users connection', async () => {
    const unknown = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'collaborators',
      default_role: 'Wizard',
    });
    const endUsers = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
      default_role: 'Analyst',
    });

    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Role Wizard not found' }],
    });
    expect(endUsers.status).toBe(400);
    expect(endUsers.body).toEqual({
      errors: [
        { code: 'bad_request', title: 'default_role applies to collaborator connections only' },
      ],
    });
  });

  it('changes the default role of users created afterwards with PATCH', async () => {
    const own = await createConnection(roster, 'prod', 'collaborators');
    const client = scimClient(roster, own);
    const changed = await roster.request('PATCH', `/api/scim_connections/${own.id}`, {
      body: { default_role: 'Admin' },
    });
    const user = await provision({}, client);

    expect(changed.status).toBe(200);
    expect(changed.body.data).toMatchObject({ default_role: 'Admin', target: 'collaborators' });
    const member = await roster.get(`/api/members/${user.id}`);
    expect(member.body.data.roles).toContainEqual({
      environment_type: 'prod',
      role_name: 'Admin',
      role_type: 'privilege_group',
    });
  });
});

describe('SCIM users as collaborators', () => {
  it('provisions a collaborator with the default role in the environment, without an invitation', async () => {
    const mailsBefore = (await roster.outbox()).length;
    const created = await scim.request('POST', '/Users', {
      userName: 'Nina.Novak@Collab.example.com',
      name: { givenName: 'Nina', familyName: 'Novak' },
      externalId: 'okta-nina',
      emails: [{ value: 'nina.novak@collab.example.com', type: 'work', primary: true }],
    });

    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      userName: 'Nina.Novak@Collab.example.com',
      externalId: 'okta-nina',
      active: true,
      groups: [],
      meta: { resourceType: 'User', version: 'W/"1"' },
    });
    const member = await roster.get(`/api/members/${created.body.id}`);
    expect(member.status).toBe(200);
    expect(member.body.data).toMatchObject({
      id: Number(created.body.id),
      name: 'Nina Novak',
      email: 'Nina.Novak@Collab.example.com',
      external_id: 'okta-nina',
      roles: [
        { environment_type: 'dev', role_name: 'Analyst', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'No access', role_type: 'privilege_group' },
      ],
    });
    expect(await canViewFolders(created.body.id)).toBe(true);
    expect((await roster.outbox()).length).toBe(mailsBefore);
  });

  it('treats userName case-insensitively: lookups find it and a second one is 409 uniqueness', async () => {
    const user = await provision();
    const found = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`userName eq "${user.userName.toUpperCase()}"`)}`,
    );
    const again = await scim.request('POST', '/Users', { userName: user.userName.toUpperCase() });

    expect(found.status).toBe(200);
    expect(found.body.Resources.map((r: { id: string }) => r.id)).toEqual([user.id]);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '409',
      scimType: 'uniqueness',
      detail: `A user with userName ${user.userName.toUpperCase()} already exists`,
    });
  });

  it('adopts an existing collaborator: roles elsewhere stay, no access in the environment becomes the default role', async () => {
    const existing = await createMember(roster, {
      email: 'adopted@collab.example.com',
      env_roles: [{ environment_type: 'prod', name: 'Admin' }],
    });
    const created = await scim.request('POST', '/Users', {
      userName: 'adopted@collab.example.com',
      displayName: 'Adopted Person',
    });

    expect(created.status).toBe(201);
    expect(created.body.id).toBe(String(existing.id));
    const member = await roster.get(`/api/members/${existing.id}`);
    expect(member.body.data.name).toBe('Adopted Person');
    expect(member.body.data.roles).toEqual([
      { environment_type: 'dev', role_name: 'Analyst', role_type: 'privilege_group' },
      { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
      { environment_type: 'prod', role_name: 'Admin', role_type: 'privilege_group' },
    ]);
  });

  it('filters users with every operator and and/or/not', async () => {
    const own = await createConnection(roster, 'test', 'collaborators');
    const client = scimClient(roster, own);
    const ids: Record<string, string> = {};
    for (const [userName, family, active] of [
      ['ann@filter.example.com', 'Anders', true],
      ['ben@filter.example.com', 'Berg', true],
      ['cat@filter.example.org', 'Anders', false],
    ] as const) {
      const created = await client.request('POST', '/Users', {
        userName,
        name: { givenName: userName.split('@')[0], familyName: family },
        active,
      });
      ids[userName.slice(0, 3)] = created.body.id;
    }
    const found = async (filter: string) => {
      const res = await client.request('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(res.status).toBe(200);
      return res.body.Resources.map((r: { id: string }) => r.id);
    };

    expect(await found('name.familyName eq "anders"')).toEqual([ids.ann, ids.cat]);
    expect(await found('userName ew ".org" or userName sw "BEN"')).toEqual([ids.ben, ids.cat]);
    expect(await found('name.familyName eq "Anders" and active eq true')).toEqual([ids.ann]);
    expect(await found('not (name.familyName eq "Anders")')).toEqual([ids.ben]);
    expect(await found(`id eq "${ids.ben}"`)).toEqual([ids.ben]);
    const page = await client.request('GET', '/Users?startIndex=2&count=1&attributes=userName');
    expect(page.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(page.body.Resources).toEqual([
      {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        id: ids.ben,
        userName: 'ben@filter.example.com',
      },
    ]);
  });

  it('accepts what Entra sends: "Replace", "False", dotted keys without path, the manager as a bare id', async () => {
    const boss = await provision();
    const user = await provision({ displayName: 'Before Entra' });

    const renamed = await patch(user.id, [
      {
        op: 'Replace',
        value: { 'name.givenName': 'Ella', 'name.familyName': 'Entra', displayName: 'Ella Entra' },
      },
      { op: 'Add', path: `${ENTERPRISE}:manager`, value: boss.id },
      { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Finance' },
    ]);
    const deactivated = await patch(user.id, [{ op: 'Replace', path: 'active', value: 'False' }]);
    const read = await scim.request('GET', `/Users/${user.id}`);

    expect(renamed.status).toBe(204);
    expect(deactivated.status).toBe(204);
    expect(read.body).toMatchObject({
      displayName: 'Ella Entra',
      name: { givenName: 'Ella', familyName: 'Entra' },
      active: false,
      [ENTERPRISE]: { manager: { value: boss.id }, department: 'Finance' },
      meta: { version: 'W/"3"' },
    });
    const member = await roster.get(`/api/members/${user.id}`);
    expect(member.body.data.name).toBe('Ella Entra');
    expect(await devRole(user.id)).toBe('No access');
  });

  it("takes the environment away on Okta's active=false and gives it back on active=true", async () => {
    const user = await provision({ name: { givenName: 'Olga', familyName: 'Okta' } });
    expect(await canViewFolders(user.id)).toBe(true);

    const off = await scim.request('PUT', `/Users/${user.id}`, {
      userName: user.userName,
      name: { givenName: 'Olga', familyName: 'Okta' },
      active: false,
    });
    const roleWhileOff = await devRole(user.id);
    const accessWhileOff = await canViewFolders(user.id);
    const kept = await roster.get(`/api/members/${user.id}`);
    const on = await patch(user.id, [{ op: 'replace', value: { active: true } }]);

    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect(roleWhileOff).toBe('No access');
    expect(accessWhileOff).toBe(false);
    expect(kept.status).toBe(200);
    expect(on.status).toBe(204);
    expect(await devRole(user.id)).toBe('Analyst');
    expect(await canViewFolders(user.id)).toBe(true);
  });

  it('denies project grants in the environment while the collaborator is deactivated, and keeps them for reactivation', async () => {
    const user = await provision();
    const group = await scim.request('POST', '/Groups', {
      displayName: 'Suspension Testers',
      members: [{ value: user.id }],
    });
    const role = await roster.post('/api/project_roles', {
      project_role: { name: 'Suspension runners', config: { recipe: { privileges: ['run'] } } },
    });
    const project = (
      await roster.post('/api/projects', { name: 'Suspension Payments', environment_type: 'dev' })
    ).body.data as { id: number };
    const other = (
      await roster.post('/api/projects', { name: 'Suspension Reports', environment_type: 'prod' })
    ).body.data as { id: number };
    await roster.put(`/api/projects/${project.id}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'UserGroup',
          assignment_id: group.body.id,
          project_role_id: role.body.data.id,
        },
        {
          assignment_type: 'User',
          assignment_id: Number(user.id),
          project_role_id: role.body.data.id,
        },
      ],
    });
    await roster.put(`/api/projects/${other.id}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'User',
          assignment_id: Number(user.id),
          project_role_id: role.body.data.id,
        },
      ],
    });
    const check = (projectId: number, explain = false) =>
      roster.post('/api/access/check', {
        subject: { member_id: Number(user.id) },
        project_id: projectId,
        resource: 'recipe',
        privilege: 'run',
        explain,
      });
    const projectIds = async () =>
      (await roster.get(`/api/access/projects?member_id=${user.id}`)).body.data.map(
        (entry: { project: { id: number } }) => entry.project.id,
      );
    expect((await check(project.id)).body.data.allowed).toBe(true);

    const off = await patch(user.id, [{ op: 'replace', path: 'active', value: 'False' }]);
    const denied = await check(project.id, true);
    const elsewhere = await check(other.id);
    const listed = await projectIds();
    const review = await roster.get(`/api/projects/${project.id}/access`);
    const grants = await roster.get(`/api/projects/${project.id}/project_grants`);

    expect(off.status).toBe(204);
    expect(denied.status).toBe(200);
    expect(denied.body.data.allowed).toBe(false);
    expect(denied.body.data.paths).toEqual([
      {
        outcome: 'denies',
        via: 'status',
        message: `${user.userName} is deactivated by the identity provider (SCIM) in the DEV environment, so no project grant on project "Suspension Payments" (${project.id}) counts until it reactivates them.`,
        steps: [
          { kind: 'member', id: Number(user.id), name: user.userName },
          { kind: 'environment', id: expect.any(Number), name: 'dev' },
        ],
      },
    ]);
    // The connection serves DEV only: a PROD grant still counts.
    expect(elsewhere.body.data.allowed).toBe(true);
    expect(listed).toEqual([other.id]);
    const entry = review.body.data.find(
      (e: { member: { id: number } }) => e.member.id === Number(user.id),
    );
    expect(entry.privileges).toEqual({});
    expect(entry.paths).toHaveLength(2);
    expect(grants.body.data).toHaveLength(2);

    const on = await patch(user.id, [{ op: 'replace', path: 'active', value: true }]);
    expect(on.status).toBe(204);
    expect((await check(project.id)).body.data.allowed).toBe(true);
    expect((await projectIds()).sort((a: number, b: number) => a - b)).toEqual(
      [project.id, other.id].sort((a, b) => a - b),
    );
  });

  it('restores the role the collaborator had, and keeps a role an admin set while deactivated', async () => {
    const first = await provision();
    const second = await provision();
    await roster.put(`/api/members/${first.id}`, {
      env_roles: [{ environment_type: 'dev', name: 'Operator' }],
    });
    await patch(first.id, [{ op: 'replace', path: 'active', value: false }]);
    await patch(second.id, [{ op: 'replace', path: 'active', value: false }]);
    await roster.put(`/api/members/${second.id}`, {
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });

    await patch(first.id, [{ op: 'replace', path: 'active', value: true }]);
    await patch(second.id, [{ op: 'replace', path: 'active', value: true }]);

    expect(await devRole(first.id)).toBe('Operator');
    expect(await devRole(second.id)).toBe('Admin');
  });

  it('creates a user sent inactive without access, and active=true gives the default role', async () => {
    const user = await provision({ active: false });
    expect(await devRole(user.id)).toBe('No access');
    await patch(user.id, [{ op: 'replace', path: 'active', value: 'True' }]);
    expect(await devRole(user.id)).toBe('Analyst');
  });

  it('deletes the collaborator with their grants on DELETE /Users', async () => {
    const user = await provision();
    const role = await roster.post('/api/project_roles', {
      project_role: { name: 'SCIM deletion readers', config: { recipe: { privileges: ['read'] } } },
    });
    const projectRes = await roster.post('/api/projects', {
      name: 'SCIM deletion project',
      environment_type: 'dev',
    });
    const granted = await roster.put(`/api/projects/${projectRes.body.data.id}/project_grants`, {
      project_grants: [
        { assignment_type: 'User', assignment_id: user.id, project_role_id: role.body.data.id },
      ],
    });
    expect(granted.status).toBe(200);

    const deleted = await scim.request('DELETE', `/Users/${user.id}`);

    expect(deleted.status).toBe(204);
    expect((await roster.get(`/api/members/${user.id}`)).status).toBe(404);
    expect((await scim.request('GET', `/Users/${user.id}`)).status).toBe(404);
    const grants = await roster.get(`/api/projects/${projectRes.body.data.id}/project_grants`);
    expect(grants.status).toBe(200);
    expect(grants.body.data).toEqual([]);
    const access = await roster.post('/api/access/check', {
      subject: { member_id: Number(user.id) },
      environment_type: 'dev',
      resource: 'folder',
      privilege: 'view',
    });
    expect(access.status).toBe(404);
  });

  it('audits every SCIM write with the connection as actor', async () => {
    const user = await provision();
    await patch(user.id, [{ op: 'replace', path: 'active', value: false }]);
    const events = await roster.get(
      `/api/audit_events?target_type=member&target_id=${user.id}&actor_type=scim_connection`,
    );

    expect(events.status).toBe(200);
    expect(
      events.body.data.map((e: { action: string; actor: unknown }) => [e.action, e.actor]),
    ).toEqual([
      [
        'member.deactivated',
        expect.objectContaining({ type: 'scim_connection', id: connection.id }),
      ],
      ['member.created', expect.objectContaining({ type: 'scim_connection', id: connection.id })],
    ]);
  });
});

describe('SCIM groups as collaborator groups', () => {
  it('creates an externally managed collaborator group whose memberships come from the identity provider', async () => {
    const a = await provision();
    const b = await provision();
    const created = await scim.request('POST', '/Groups', {
      displayName: 'SCIM Engineers',
      externalId: 'okta-eng',
      members: [{ value: a.id }, { value: b.id }, { value: 'not-a-user' }],
    });

    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^am-/);
    expect(created.body.members.map((m: { value: string }) => m.value)).toEqual([a.id, b.id]);
    const group = await roster.get(`/api/user_groups/${created.body.id}?include=provisioning`);
    expect(group.body.data).toMatchObject({
      id: created.body.id,
      name: 'SCIM Engineers',
      members_count: 2,
      system: false,
      managed_by: 'external',
    });
    const plain = await roster.get(`/api/user_groups/${created.body.id}`);
    expect(plain.body.data.managed_by).toBeUndefined();
    const members = await roster.get(
      `/api/user_groups/${created.body.id}/members?include=provisioning`,
    );
    expect(members.body.data).toEqual([
      expect.objectContaining({
        user_id: Number(a.id),
        source: 'external',
        joined_at: expect.stringMatching(ISO),
      }),
      expect.objectContaining({ user_id: Number(b.id), source: 'external' }),
    ]);
    const user = await scim.request('GET', `/Users/${a.id}`);
    expect(user.body.groups).toEqual([
      expect.objectContaining({
        value: created.body.id,
        display: 'SCIM Engineers',
        type: 'direct',
      }),
    ]);
    const member = await roster.get(`/api/members/${a.id}`);
    expect(member.body.data.user_groups).toContainEqual({
      id: created.body.id,
      name: 'SCIM Engineers',
      system: false,
    });
  });

  it('adds by PATCH, removes by members[value eq], and a full sync wins over members added by hand', async () => {
    const [a, b, c] = [await provision(), await provision(), await provision()];
    const manual = await createMember(roster, { email: 'by-hand@collab.example.com' });
    const group = await scim.request('POST', '/Groups', {
      displayName: 'SCIM Drift',
      members: [{ value: a.id }],
    });
    const id = group.body.id as string;
    await roster.post(`/api/user_groups/${id}/members`, { user_ids: [manual.id] });

    const added = await patch(
      id,
      [{ op: 'add', path: 'members', value: [{ value: b.id }, { value: c.id }] }],
      'Groups',
    );
    const removed = await patch(
      id,
      [{ op: 'remove', path: `members[value eq "${b.id}"]` }],
      'Groups',
    );
    const afterIncremental = await roster.get(
      `/api/user_groups/${id}/members?include=provisioning`,
    );
    const full = await scim.request('PUT', `/Groups/${id}`, {
      displayName: 'SCIM Drift',
      members: [{ value: a.id }, { value: c.id }],
    });
    const afterFull = await roster.get(`/api/user_groups/${id}/members?include=provisioning`);

    expect(added.status).toBe(204);
    expect(removed.status).toBe(204);
    expect(
      afterIncremental.body.data.map((m: { user_id: number; source: string }) => [
        m.user_id,
        m.source,
      ]),
    ).toEqual([
      [Number(a.id), 'external'],
      [manual.id, 'manual'],
      [Number(c.id), 'external'],
    ]);
    expect(full.status).toBe(200);
    expect(full.body.members.map((m: { value: string }) => m.value)).toEqual([a.id, c.id]);
    expect(afterFull.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([
      Number(a.id),
      Number(c.id),
    ]);
    const filtered = await scim.request(
      'GET',
      `/Groups?filter=${encodeURIComponent(`members eq "${c.id}" and displayName sw "scim d"`)}`,
    );
    expect(filtered.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);
  });

  it('loses no member when 20 PATCHes add different members to one group at once, and a retry is harmless', async () => {
    const users = [];
    for (let i = 0; i < 20; i++) users.push(await provision());
    const group = await scim.request('POST', '/Groups', { displayName: 'SCIM Concurrent' });
    const id = group.body.id as string;
    const body = (user: { id: string }) => ({
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }],
    });

    const answers = await Promise.all(
      users.map((user) => scim.request('PATCH', `/Groups/${id}`, body(user))),
    );
    const retried = await scim.request('PATCH', `/Groups/${id}`, body(users[0] as { id: string }));
    const read = await roster.get(`/api/user_groups/${id}`);

    expect(answers.map((a) => a.status)).toEqual(users.map(() => 204));
    expect(retried.status).toBe(204);
    expect(read.body.data.members_count).toBe(20);
    const scimGroup = await scim.request('GET', `/Groups/${id}`);
    expect(scimGroup.body.meta.version).toBe('W/"22"');
    expect(new Set(scimGroup.body.members.map((m: { value: string }) => m.value))).toEqual(
      new Set(users.map((u) => u.id)),
    );
  });

  it('takes a group push PATCH of 2,000 members in one request', async () => {
    const own = await createConnection(roster, 'test', 'collaborators');
    const client = scimClient(roster, own);
    const ids: string[] = [];
    const batch = 16;
    for (let i = 0; i < 2000; i += batch) {
      const created = await Promise.all(
        Array.from({ length: Math.min(batch, 2000 - i) }, (_, j) =>
          client.request('POST', '/Users', { userName: `push${i + j}@bulk.example.com` }),
        ),
      );
      for (const res of created) ids.push(res.body.id);
    }
    const group = await client.request('POST', '/Groups', { displayName: 'SCIM Everyone push' });

    const pushed = await client.request('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }],
    });

    expect(pushed.status).toBe(204);
    const read = await roster.get(`/api/user_groups/${group.body.id}`);
    expect(read.body.data.members_count).toBe(2000);
    const scimGroup = await client.request('GET', `/Groups/${group.body.id}?attributes=members`);
    expect(scimGroup.body.members).toHaveLength(2000);
  }, 240_000);

  it('explains access a collaborator has only through an externally managed group', async () => {
    const user = await provision();
    // The connection's default role, legacy Analyst, would cover every DEV project by itself.
    const noAccess = await roster.put(`/api/members/${user.id}`, {
      env_roles: [{ environment_type: 'dev', name: 'No access' }],
    });
    expect(noAccess.status).toBe(200);
    const group = await scim.request('POST', '/Groups', {
      displayName: 'SCIM Runners',
      members: [{ value: user.id }],
    });
    const role = await roster.post('/api/project_roles', {
      project_role: {
        name: 'SCIM recipe runners',
        config: { recipe: { privileges: ['read', 'run'] } },
      },
    });
    const projectRes = await roster.post('/api/projects', {
      name: 'SCIM Payments',
      environment_type: 'dev',
    });
    const project = projectRes.body.data as { id: number };
    await roster.put(`/api/projects/${project.id}/project_grants`, {
      project_grants: [
        {
          assignment_type: 'UserGroup',
          assignment_id: group.body.id,
          project_role_id: role.body.data.id,
        },
      ],
    });

    const res = await roster.post('/api/access/check', {
      subject: { member_id: Number(user.id) },
      project_id: project.id,
      resource: 'recipe',
      privilege: 'run',
      explain: true,
    });

    expect(res.status).toBe(200);
    expect(res.body.data.allowed).toBe(true);
    expect(res.body.data.paths).toHaveLength(1);
    expect(res.body.data.paths[0]).toMatchObject({
      outcome: 'grants',
      via: 'group_grant',
      message: `${user.userName} is a member of group "SCIM Runners", which has project role "SCIM recipe runners" on project "SCIM Payments" (${project.id}); the role allows recipe:run.`,
    });
    expect(res.body.data.paths[0].steps[1]).toMatchObject({
      kind: 'group',
      id: group.body.id,
      name: 'SCIM Runners',
    });

    const left = await patch(
      group.body.id,
      [{ op: 'remove', path: `members[value eq "${user.id}"]` }],
      'Groups',
    );
    const after = await roster.post('/api/access/check', {
      subject: { member_id: Number(user.id) },
      project_id: project.id,
      resource: 'recipe',
      privilege: 'run',
    });
    expect(left.status).toBe(204);
    expect(after.body.data.allowed).toBe(false);
  });

  it('audits group writes with the connection as actor', async () => {
    const group = await scim.request('POST', '/Groups', { displayName: 'SCIM Audited' });
    await patch(
      group.body.id,
      [{ op: 'replace', path: 'displayName', value: 'SCIM Audited 2' }],
      'Groups',
    );
    const events = await roster.get(
      `/api/audit_events?target_type=user_group&target_id=${group.body.id}`,
    );

    expect(
      events.body.data.map((e: { action: string; actor: { type: string; id: string } }) => [
        e.action,
        e.actor.type,
        e.actor.id,
      ]),
    ).toEqual([
      ['user_group.updated', 'scim_connection', connection.id],
      ['user_group.created', 'scim_connection', connection.id],
    ]);
    const renamed = await roster.get(`/api/user_groups/${group.body.id}`);
    expect(renamed.body.data.name).toBe('SCIM Audited 2');
  });

  it('adopts a manual group of the same name and refuses the system group', async () => {
    const manual = await roster.post('/api/user_groups', {
      user_group: { name: 'SCIM Adoptable' },
    });
    const adopted = await scim.request('POST', '/Groups', { displayName: 'scim adoptable' });
    const system = await scim.request('POST', '/Groups', { displayName: 'All collaborators' });

    expect(adopted.status).toBe(201);
    expect(adopted.body.id).toBe(manual.body.data.id);
    expect(system.status).toBe(409);
    expect(system.body.scimType).toBe('uniqueness');
  });

  it('removes by value only members this connection provisioned, and audits what was removed', async () => {
    const [a, b, notMember] = [await provision(), await provision(), await provision()];
    const manual = await createMember(roster, { email: 'by-hand-2@collab.example.com' });
    const group = await scim.request('POST', '/Groups', {
      displayName: 'SCIM Narrow Remove',
      members: [{ value: a.id }, { value: b.id }],
    });
    const id = group.body.id as string;
    await roster.post(`/api/user_groups/${id}/members`, { user_ids: [manual.id] });

    const removed = await patch(
      id,
      [
        {
          op: 'remove',
          path: 'members',
          value: [{ value: b.id }, { value: notMember.id }, { value: String(manual.id) }],
        },
      ],
      'Groups',
    );

    expect(removed.status).toBe(204);
    const members = await roster.get(`/api/user_groups/${id}/members`);
    expect(members.body.data.map((m: { user_id: number }) => m.user_id)).toEqual([
      Number(a.id),
      manual.id,
    ]);
    const events = await roster.get(
      `/api/audit_events?target_type=user_group&target_id=${id}&action=user_group.members_removed`,
    );
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0].after.members_removed).toEqual([Number(b.id)]);
  });

  it('links a group to one connection only, even when two connections adopt it at once', async () => {
    const manual = await roster.post('/api/user_groups', {
      user_group: { name: 'SCIM Contested' },
    });
    expect(manual.status).toBe(200);
    const dev = scimClient(roster, await createConnection(roster, 'dev', 'collaborators'));
    const prod = scimClient(roster, await createConnection(roster, 'prod', 'collaborators'));

    const answers = await Promise.all([
      dev.request('POST', '/Groups', { displayName: 'SCIM Contested' }),
      prod.request('POST', '/Groups', { displayName: 'SCIM Contested' }),
    ]);

    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    const refused = answers.find((a) => a.status === 409);
    expect(refused?.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '409',
      scimType: 'uniqueness',
    });
    const again = await dev.request('POST', '/Groups', { displayName: 'SCIM Contested' });
    expect(again.status).toBe(409);
    const linked = (
      await Promise.all([dev.request('GET', '/Groups'), prod.request('GET', '/Groups')])
    ).flatMap((list) =>
      list.body.Resources.filter((g: { id: string }) => g.id === manual.body.data.id),
    );
    expect(linked).toHaveLength(1);
  });

  it('turns the groups manual when the connection is deleted', async () => {
    const own = await createConnection(roster, 'prod', 'collaborators');
    const client = scimClient(roster, own);
    const user = await client.request('POST', '/Users', { userName: 'leaving@collab.example.com' });
    const group = await client.request('POST', '/Groups', {
      displayName: 'SCIM Leaving',
      members: [{ value: user.body.id }],
    });

    const deleted = await roster.delete(`/api/scim_connections/${own.id}`);

    expect(deleted.status).toBe(204);
    const read = await roster.get(`/api/user_groups/${group.body.id}?include=provisioning`);
    expect(read.body.data.managed_by).toBe('manual');
    const members = await roster.get(
      `/api/user_groups/${group.body.id}/members?include=provisioning`,
    );
    expect(members.body.data.map((m: { source: string }) => m.source)).toEqual(['manual']);
    expect((await roster.get(`/api/members/${user.body.id}`)).status).toBe(200);
  });
});
