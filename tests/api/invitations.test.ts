/**
 * POST /api/member_invitations as the reference API describes it (the four sample requests,
 * cooldown, groups), the invitation link an invitee receives, and the management endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember, invitationTokenFor, startRoster, type Roster } from '../helpers/roster.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const COOLDOWN_SECONDS = 1200;

let roster: Roster;
let developersId: string;
let testersId: string;

beforeAll(async () => {
  roster = await startRoster({ env: { ROSTER_INVITE_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS) } });
  const developers = await roster.post('/api/user_groups', { user_group: { name: 'Developers' } });
  const testers = await roster.post('/api/user_groups', { user_group: { name: 'Testers' } });
  developersId = developers.body.data.id;
  testersId = testers.body.data.id;
});
afterAll(async () => {
  await roster.close();
});

async function invitationByEmail(email: string) {
  const res = await roster.get(`/api/member_invitations?email=${encodeURIComponent(email)}`);
  expect(res.status).toBe(200);
  const found = res.body.data.find((i: { email: string }) => i.email === email);
  expect(found).toBeDefined();
  return found;
}

describe('POST /api/member_invitations (reference sample requests)', () => {
  it('invites with a role in every environment (request 1)', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Josh',
      email: 'josh1@example.com',
      user_group_ids: [developersId, testersId],
      env_roles: [
        { environment_type: 'dev', name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'test', name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'prod', name: 'Admin', role_type: 'privilege_group' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.result).toBe('ok');
    expect(res.body.data).toMatchObject({
      name: 'Josh',
      email: 'josh1@example.com',
      status: 'pending',
      env_roles: [
        { environment_type: 'dev', name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'test', name: 'Admin', role_type: 'privilege_group' },
        { environment_type: 'prod', name: 'Admin', role_type: 'privilege_group' },
      ],
      accepted_at: null,
      member_id: null,
    });
    expect([...res.body.data.user_group_ids].sort()).toEqual([developersId, testersId].sort());
  });

  it('gives No access in the environments left out (request 2)', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Josh',
      email: 'josh2@example.com',
      env_roles: [{ environment_type: 'prod', name: 'Operator', role_type: 'privilege_group' }],
    });
    expect(res.status).toBe(200);
    expect(res.body.result).toBe('ok');
    expect(res.body.data.env_roles).toEqual([
      { environment_type: 'dev', name: 'No access', role_type: 'privilege_group' },
      { environment_type: 'test', name: 'No access', role_type: 'privilege_group' },
      { environment_type: 'prod', name: 'Operator', role_type: 'privilege_group' },
    ]);
  });

  it('answers 400 "Role Not existing role not found" for an unknown role (request 3)', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Josh',
      email: 'josh3@example.com',
      env_roles: [
        { environment_type: 'prod', name: 'Not existing role', role_type: 'privilege_group' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: 'Role Not existing role not found' });
    expect((await roster.outbox()).some((m) => m.to === 'josh3@example.com')).toBe(false);
  });

  it('answers 400 "Environment Not existing environment not found" for an unknown environment (request 4)', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Josh',
      email: 'josh4@example.com',
      env_roles: [
        {
          environment_type: 'Not existing environment',
          name: 'Operator',
          role_type: 'privilege_group',
        },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: 'Environment Not existing environment not found' });
  });

  it('takes the deprecated role_name as the dev role', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Legacy',
      email: 'legacy@example.com',
      role_name: 'Analyst',
    });
    expect(res.status).toBe(200);
    expect(res.body.data.env_roles).toEqual([
      { environment_type: 'dev', name: 'Analyst', role_type: 'privilege_group' },
      { environment_type: 'test', name: 'No access', role_type: 'privilege_group' },
      { environment_type: 'prod', name: 'No access', role_type: 'privilege_group' },
    ]);
  });

  it('answers 400 when neither env_roles nor role_name is given', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Nobody',
      email: 'noroles@example.com',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: "env_roles can't be blank" });
  });

  it('answers 400 naming the field for an invalid email', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Bad',
      email: 'not-an-email',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^email /);
  });

  it('answers 400 for an unknown role_type', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Bad',
      email: 'badtype@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin', role_type: 'superuser' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/env_roles\.0\.role_type/);
  });

  it('answers 400 for an unknown collaborator group and sends no mail', async () => {
    const res = await roster.post('/api/member_invitations', {
      name: 'Grouped',
      email: 'nogroup@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
      user_group_ids: ['am-Missing0-0000000'],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: 'User group am-Missing0-0000000 not found' });
    expect((await roster.outbox()).some((m) => m.to === 'nogroup@example.com')).toBe(false);
    const list = await roster.get('/api/member_invitations?email=nogroup');
    expect(list.body.total).toBe(0);
  });

  it('answers 400 when the email already belongs to a collaborator', async () => {
    await createMember(roster, { email: 'taken@example.com' });
    const res = await roster.post('/api/member_invitations', {
      name: 'Again',
      email: 'Taken@Example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: 'Taken@Example.com is already a collaborator in this workspace',
    });
  });

  it('refuses for the first reason in a fixed order: a collaborator, a role, a group, then the cooldown', async () => {
    // The four checks read together (storage/pipeline.ts, readTogether); the answer must not
    // depend on which read came back first.
    await createMember(roster, { email: 'order-member@example.com' });
    const first = await roster.post('/api/member_invitations', {
      name: 'Order',
      email: 'order-pending@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    expect(first.status).toBe(200);
    const invite = (email: string, role: string, groups: string[]) =>
      roster.post('/api/member_invitations', {
        name: 'Order',
        email,
        env_roles: [{ environment_type: 'dev', name: role }],
        user_group_ids: groups,
      });
    const memberAndRole = await invite('order-member@example.com', 'No such role', ['nope']);
    expect([memberAndRole.status, memberAndRole.body]).toEqual([
      400,
      { message: 'order-member@example.com is already a collaborator in this workspace' },
    ]);
    const roleAndGroup = await invite('order-pending@example.com', 'No such role', ['nope']);
    expect([roleAndGroup.status, roleAndGroup.body]).toEqual([
      400,
      { message: 'Role No such role not found' },
    ]);
    const groupAndCooldown = await invite('order-pending@example.com', 'Admin', ['nope']);
    expect([groupAndCooldown.status, groupAndCooldown.body]).toEqual([
      400,
      { message: 'User group nope not found' },
    ]);
    const cooldown = await invite('order-pending@example.com', 'Admin', [developersId]);
    expect(cooldown.status).toBe(429);
    expect(await invitationByEmail('order-pending@example.com')).toMatchObject({
      id: first.body.data.id,
      status: 'pending',
    });
  });
});

describe('invitation cooldown', () => {
  it('answers 429 with Retry-After for a second invitation of the same email, and allows it after the cooldown', async () => {
    const body = {
      name: 'Cool',
      email: 'cool@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    };
    const first = await roster.post('/api/member_invitations', body);
    expect(first.status).toBe(200);

    const again = await roster.post('/api/member_invitations', {
      ...body,
      email: 'COOL@example.com',
    });
    expect(again.status).toBe(429);
    // The invitation is pending: the answer says so and points to resending it.
    expect(again.body).toEqual({
      message: `cool@example.com is already invited to this workspace (invitation ${first.body.data.id} is pending): resend it instead; an invitation can be sent once every 20 minutes`,
    });
    const retryAfter = Number(again.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(COOLDOWN_SECONDS);

    roster.clock.advance(COOLDOWN_SECONDS * 1000 + 1000);
    const later = await roster.post('/api/member_invitations', body);
    expect(later.status).toBe(200);
    expect(later.body.result).toBe('ok');
  });

  it('keeps the plain cooldown message when the recent invitation is no longer pending', async () => {
    const body = {
      name: 'Gone',
      email: 'gone@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    };
    const first = await roster.post('/api/member_invitations', body);
    expect((await roster.delete(`/api/member_invitations/${first.body.data.id}`)).status).toBe(204);
    const again = await roster.post('/api/member_invitations', body);
    expect(again.status).toBe(429);
    expect(again.body).toEqual({
      message: 'You can invite gone@example.com to this workspace once every 20 minutes',
    });
  });

  it('revokes the earlier pending invitation when a new one is sent', async () => {
    const body = {
      name: 'Twice',
      email: 'twice@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    };
    await roster.post('/api/member_invitations', body);
    const firstToken = await invitationTokenFor(roster, 'twice@example.com');
    roster.clock.advance(COOLDOWN_SECONDS * 1000 + 1000);
    await roster.post('/api/member_invitations', body);
    const secondToken = await invitationTokenFor(roster, 'twice@example.com');
    expect(secondToken).not.toBe(firstToken);

    const old = await roster.post(`/invitations/${firstToken}/accept`, {}, null);
    expect(old.status).toBe(410);
    expect(old.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has been revoked' }],
    });
    expect((await roster.post(`/invitations/${secondToken}/accept`, {}, null)).status).toBe(201);
  });
});

describe('the invitation link', () => {
  it('mails a link under ROSTER_PUBLIC_URL and previews the invitation', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Preview',
      email: 'preview@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const mail = (await roster.outbox()).filter((m) => m.to === 'preview@example.com').at(-1);
    expect(mail?.subject).toBe('You are invited to Default');
    expect(mail?.text).toMatch(/Hello Preview,/);
    const token = await invitationTokenFor(roster, 'preview@example.com');
    expect(mail?.text).toContain(`http://roster.test/invitations/${token}`);

    const preview = await roster.get(`/invitations/${token}`, null);
    expect(preview.status).toBe(200);
    expect(preview.body).toEqual({
      data: {
        name: 'Preview',
        email: 'preview@example.com',
        workspace: { id: expect.any(Number), name: 'Default' },
        expires_at: expect.any(String),
      },
    });
    const expiresIn =
      new Date(preview.body.data.expires_at).getTime() - roster.clock.now().getTime();
    expect(expiresIn).toBeGreaterThan(7 * DAY - 10 * MINUTE);
    expect(expiresIn).toBeLessThanOrEqual(7 * DAY);
  });

  it('accepting creates the collaborator with the invited roles and groups', async () => {
    const invited = await roster.post('/api/member_invitations', {
      name: 'Invitee',
      email: 'invitee@example.com',
      user_group_ids: [developersId],
      env_roles: [
        { environment_type: 'dev', name: 'Analyst' },
        { environment_type: 'prod', name: 'Operator' },
      ],
    });
    const invitationId = invited.body.data.id;

    const pending = await roster.get(`/api/user_groups/${developersId}/members`);
    expect(pending.body.data).toContainEqual(
      expect.objectContaining({
        user_id: null,
        member_invitation_id: invitationId,
        name: 'Invitee',
        email: 'invitee@example.com',
        type: 'MemberInvitation',
      }),
    );

    const token = await invitationTokenFor(roster, 'invitee@example.com');
    const accepted = await roster.post(
      `/invitations/${token}/accept`,
      { name: 'Ivy Invitee' },
      null,
    );
    expect(accepted.status).toBe(201);
    const member = accepted.body.data;
    expect(member).toMatchObject({
      grant_type: 'team',
      name: 'Ivy Invitee',
      email: 'invitee@example.com',
      external_id: null,
      roles: [
        { environment_type: 'dev', role_name: 'Analyst', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'Operator', role_type: 'privilege_group' },
      ],
      last_activity_log: { event_type: 'member_joined' },
    });
    expect(member.user_groups.map((g: { name: string }) => g.name)).toEqual([
      'All collaborators',
      'Developers',
    ]);

    const members = (await roster.get(`/api/user_groups/${developersId}/members`)).body.data;
    expect(members.filter((m: { email: string }) => m.email === 'invitee@example.com')).toEqual([
      expect.objectContaining({ user_id: member.id, member_invitation_id: null, type: 'User' }),
    ]);

    const invitation = await roster.get(`/api/member_invitations/${invitationId}`);
    expect(invitation.body.data).toMatchObject({
      status: 'accepted',
      member_id: member.id,
      accepted_at: expect.any(String),
    });
  });

  it('accepting gives No access where an invited role was deleted since, and keeps the others', async () => {
    const role = async (name: string) => {
      const res = await roster.post('/api/environment_roles', {
        environment_role: { name, config: { team: { privileges: 'all' } }, inheritable: false },
      });
      expect(res.status).toBe(200);
      return res.body.data.id as number;
    };
    const kept = await role('Kept until accepted');
    const dropped = await role('Dropped before accepted');
    const invited = await roster.post('/api/member_invitations', {
      name: 'Roles gone',
      email: 'roles-gone@example.com',
      env_roles: [
        { environment_type: 'dev', name: 'Dropped before accepted', role_type: 'environment' },
        { environment_type: 'test', name: 'Analyst' },
        { environment_type: 'prod', name: 'Kept until accepted', role_type: 'environment' },
      ],
    });
    expect(invited.status).toBe(200);
    expect((await roster.delete(`/api/environment_roles/${dropped}`)).status).toBe(204);

    const token = await invitationTokenFor(roster, 'roles-gone@example.com');
    const accepted = await roster.post(`/invitations/${token}/accept`, {}, null);
    expect(accepted.status).toBe(201);
    expect(accepted.body.data.roles).toEqual([
      expect.objectContaining({
        environment_type: 'dev',
        role_name: 'No access',
        role_type: 'privilege_group',
      }),
      expect.objectContaining({
        environment_type: 'test',
        role_name: 'Analyst',
        role_type: 'privilege_group',
      }),
      expect.objectContaining({
        environment_type: 'prod',
        role_name: 'Kept until accepted',
        role_type: 'environment',
      }),
    ]);
    // As stored, not only as answered.
    const member = await roster.get(`/api/members/${accepted.body.data.id}`);
    expect(member.body.data.roles).toEqual(accepted.body.data.roles);
    expect(kept).toBeGreaterThan(0);
  });

  it('works once: a second accept answers 410', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Once',
      email: 'once@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'once@example.com');
    expect((await roster.post(`/invitations/${token}/accept`, {}, null)).status).toBe(201);
    const second = await roster.post(`/invitations/${token}/accept`, {}, null);
    expect(second.status).toBe(410);
    expect(second.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has already been accepted' }],
    });
    const preview = await roster.get(`/invitations/${token}`, null);
    expect(preview.status).toBe(410);
  });

  it('of two acceptances sent at once, one creates the collaborator and the other answers 410', async () => {
    await roster.post('/api/member_invitations', {
      name: 'At once',
      email: 'at-once@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'at-once@example.com');
    const answers = await Promise.all([
      roster.post(`/invitations/${token}/accept`, {}, null),
      roster.post(`/invitations/${token}/accept`, {}, null),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 410]);
    const members = await roster.get('/api/members?email=at-once@example.com');
    expect(members.body.data.map((m: { email: string }) => m.email)).toEqual([
      'at-once@example.com',
    ]);
  });

  it('expires after 7 days', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Late',
      email: 'late@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'late@example.com');
    roster.clock.advance(7 * DAY + MINUTE);
    const res = await roster.post(`/invitations/${token}/accept`, {}, null);
    expect(res.status).toBe(410);
    expect(res.body).toEqual({ errors: [{ code: 'gone', title: 'This invitation has expired' }] });
    const invitation = await invitationByEmail('late@example.com');
    expect(invitation.status).toBe('expired');
    const expired = await roster.get(
      '/api/member_invitations?status=expired&email=late@example.com',
    );
    expect(expired.body.total).toBe(1);
  });

  it('answers 404 for an unknown token', async () => {
    const accept = await roster.post('/invitations/inv_doesnotexist0000000000/accept', {}, null);
    expect(accept.status).toBe(404);
    expect(accept.body).toEqual({ errors: [{ code: 'not_found', title: 'Invitation not found' }] });
    const preview = await roster.get('/invitations/inv_doesnotexist0000000000', null);
    expect(preview.status).toBe(404);
  });

  it('answers 400 when the accepted name is blank', async () => {
    await roster.post('/api/member_invitations', {
      name: 'Blank',
      email: 'blank@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const token = await invitationTokenFor(roster, 'blank@example.com');
    const res = await roster.post(`/invitations/${token}/accept`, { name: '   ' }, null);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ code: 'bad_request', title: "Name can't be blank" }] });
    // The failed attempt did not use up the link.
    expect(
      (await roster.post(`/invitations/${token}/accept`, { name: 'Blanche' }, null)).status,
    ).toBe(201);
  });
});

describe('managing invitations', () => {
  it('lists invitations newest first with total and pagination, filtered by status and email', async () => {
    for (const n of [1, 2, 3]) {
      await roster.post('/api/member_invitations', {
        name: `Listed ${n}`,
        email: `listed${n}@list.example.com`,
        env_roles: [{ environment_type: 'dev', name: 'Operator' }],
      });
    }
    const all = await roster.get('/api/member_invitations?email=list.example.com');
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    expect(all.body.page).toEqual({ number: 1, size: 100 });
    expect(all.body.data.map((i: { email: string }) => i.email)).toEqual([
      'listed3@list.example.com',
      'listed2@list.example.com',
      'listed1@list.example.com',
    ]);
    const second = await roster.get(
      '/api/member_invitations?email=list.example.com&page[number]=2&page[size]=2',
    );
    expect(second.body).toMatchObject({ total: 3, page: { number: 2, size: 2 } });
    expect(second.body.data.map((i: { email: string }) => i.email)).toEqual([
      'listed1@list.example.com',
    ]);
    const pending = await roster.get(
      '/api/member_invitations?status=pending&email=list.example.com',
    );
    expect(pending.body.total).toBe(3);
    const accepted = await roster.get(
      '/api/member_invitations?status=accepted&email=list.example.com',
    );
    expect(accepted.body.total).toBe(0);
  });

  it('answers 400 for an unknown status filter', async () => {
    const res = await roster.get('/api/member_invitations?status=lost');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('bad_request');
    expect(res.body.errors[0].title).toMatch(/status/);
  });

  it('gets one invitation, and answers 404 for an unknown or non-numeric id', async () => {
    const created = await roster.post('/api/member_invitations', {
      name: 'Got',
      email: 'got@example.com',
      env_roles: [{ environment_type: 'test', name: 'Analyst' }],
    });
    const res = await roster.get(`/api/member_invitations/${created.body.data.id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual(created.body.data);
    const missing = await roster.get('/api/member_invitations/999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errors: [{ code: 'not_found', title: 'Not found' }] });
    expect((await roster.get('/api/member_invitations/abc')).status).toBe(400);
  });

  it('revokes a pending invitation: 204, the link answers 410 and the group no longer lists the invitee', async () => {
    const created = await roster.post('/api/member_invitations', {
      name: 'Revoked',
      email: 'revoked@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
      user_group_ids: [testersId],
    });
    const id = created.body.data.id;
    const token = await invitationTokenFor(roster, 'revoked@example.com');
    const res = await roster.delete(`/api/member_invitations/${id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    const accept = await roster.post(`/invitations/${token}/accept`, {}, null);
    expect(accept.status).toBe(410);
    expect(accept.body).toEqual({
      errors: [{ code: 'gone', title: 'This invitation has been revoked' }],
    });
    expect((await roster.get(`/api/member_invitations/${id}`)).body.data.status).toBe('revoked');
    const members = (await roster.get(`/api/user_groups/${testersId}/members`)).body.data;
    expect(
      members.some((m: { member_invitation_id: number | null }) => m.member_invitation_id === id),
    ).toBe(false);

    const again = await roster.delete(`/api/member_invitations/${id}`);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      errors: [{ code: 'bad_request', title: 'The invitation is already revoked' }],
    });
    expect((await roster.delete('/api/member_invitations/999999')).status).toBe(404);
  });

  it('resends a fresh link after the cooldown; the old link stops working', async () => {
    const created = await roster.post('/api/member_invitations', {
      name: 'Resent',
      email: 'resent@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const id = created.body.data.id;
    const oldToken = await invitationTokenFor(roster, 'resent@example.com');

    const tooSoon = await roster.post(`/api/member_invitations/${id}/resend`);
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.body).toEqual({
      message:
        'The invitation to resent@example.com was sent less than 20 minutes ago; an invitation can be sent once every 20 minutes',
    });
    expect(Number(tooSoon.headers.get('retry-after'))).toBeGreaterThan(0);

    roster.clock.advance(COOLDOWN_SECONDS * 1000 + 1000);
    const res = await roster.post(`/api/member_invitations/${id}/resend`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: 'ok' });
    const newToken = await invitationTokenFor(roster, 'resent@example.com');
    expect(newToken).not.toBe(oldToken);
    expect((await roster.outbox()).filter((m) => m.to === 'resent@example.com')).toHaveLength(2);

    expect((await roster.get(`/invitations/${oldToken}`, null)).status).toBe(404);
    expect((await roster.post(`/invitations/${oldToken}/accept`, {}, null)).status).toBe(404);
    expect((await roster.post(`/invitations/${newToken}/accept`, {}, null)).status).toBe(201);

    const afterAccept = await roster.post(`/api/member_invitations/${id}/resend`);
    expect(afterAccept.status).toBe(400);
    expect(afterAccept.body).toEqual({ message: 'The invitation is already accepted' });
  });

  it('answers 404 when resending an unknown invitation', async () => {
    const res = await roster.post('/api/member_invitations/999999/resend');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'Not found' });
  });
});
