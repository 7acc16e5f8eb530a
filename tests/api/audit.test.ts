/**
 * The audit log: every write of the collaborator, invitation and API client endpoints records who
 * did what to which resource, with before and after; GET /api/audit_events filters them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PLATFORM_TOKEN,
  createMember,
  invitationTokenFor,
  startRoster,
  type Roster,
} from '../helpers/roster.js';

const MINUTE = 60_000;

let roster: Roster;
let adminClient: { id: number; name: string };

beforeAll(async () => {
  roster = await startRoster({ env: { ROSTER_INVITE_COOLDOWN_SECONDS: '60' } });
  const clients = await roster.get('/api/api_clients');
  adminClient = clients.body.data.find((c: { name: string }) => c.name === 'Bootstrap admin');
});
afterAll(async () => {
  await roster.close();
});

interface AuditEvent {
  id: number;
  action: string;
  actor: { type: string; id: string | null; name: string | null };
  target: { type: string; id: string | null; name: string | null };
  before: unknown;
  after: unknown;
  created_at: string;
}

async function eventsFor(targetType: string, targetId: string | number): Promise<AuditEvent[]> {
  const res = await roster.get(`/api/audit_events?target_type=${targetType}&target_id=${targetId}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

describe('events of each write', () => {
  it('records an invitation’s life: created, resent, accepted', async () => {
    const invited = await roster.post('/api/member_invitations', {
      name: 'Audrey',
      email: 'audrey@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    const id = invited.body.data.id;
    roster.clock.advance(2 * MINUTE);
    expect((await roster.post(`/api/member_invitations/${id}/resend`)).status).toBe(200);
    const token = await invitationTokenFor(roster, 'audrey@example.com');
    const member = (await roster.post(`/invitations/${token}/accept`, { name: 'Audrey A' }, null))
      .body.data;

    const actor = { type: 'api_client', id: String(adminClient.id), name: 'Bootstrap admin' };
    expect(await eventsFor('member_invitation', id)).toEqual([
      expect.objectContaining({
        action: 'member_invitation.resent',
        actor,
        // The resend event carries no snapshot: the name is the invitation's, read when written.
        target: { type: 'member_invitation', id: String(id), name: 'Audrey' },
      }),
      expect.objectContaining({
        action: 'member_invitation.created',
        actor,
        before: null,
        after: {
          name: 'Audrey',
          email: 'audrey@example.com',
          env_roles: [
            { environment_type: 'dev', name: 'Admin' },
            { environment_type: 'test', name: 'No access' },
            { environment_type: 'prod', name: 'No access' },
          ],
          user_group_ids: [],
        },
      }),
    ]);
    expect(await eventsFor('member', member.id)).toEqual([
      expect.objectContaining({
        action: 'member_joined',
        actor: { type: 'member', id: String(member.id), name: 'Audrey A' },
        before: null,
        after: { name: 'Audrey A', email: 'audrey@example.com', invitation_id: id },
      }),
    ]);
    // The invitation link is a credential: it is never written to the audit log.
    const all = await roster.get('/api/audit_events');
    expect(all.text).not.toContain(token);
  });

  it('records a revoked invitation', async () => {
    const invited = await roster.post('/api/member_invitations', {
      name: 'Rex',
      email: 'rex@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    await roster.delete(`/api/member_invitations/${invited.body.data.id}`);
    const [revoked] = await eventsFor('member_invitation', invited.body.data.id);
    expect(revoked).toMatchObject({
      action: 'member_invitation.revoked',
      before: { email: 'rex@example.com' },
      after: null,
    });
  });

  it('records role changes and deletion of a collaborator', async () => {
    const member = await createMember(roster, { email: 'changed@example.com' });
    await roster.put(`/api/members/${member.id}`, {
      env_roles: [{ environment_type: 'prod', name: 'Operator' }],
    });
    await roster.delete(`/api/members/${member.id}`);
    const events = await eventsFor('member', member.id);
    expect(events.map((e) => e.action)).toEqual([
      'member.deleted',
      'member.roles_updated',
      'member_joined',
    ]);
    expect(events[1]).toMatchObject({
      before: [
        { environment_type: 'dev', role_name: 'Analyst', role_type: 'privilege_group' },
        { environment_type: 'test', role_name: 'No access', role_type: 'privilege_group' },
        { environment_type: 'prod', role_name: 'No access', role_type: 'privilege_group' },
      ],
      after: [{ environment_type: 'prod', role_name: 'Operator', role_type: 'privilege_group' }],
    });
    expect(events[0]).toMatchObject({
      before: { name: 'changed', email: 'changed@example.com' },
      after: null,
    });
  });

  it('attributes a write to the API client that made it', async () => {
    const created = await roster.post('/api/api_clients', {
      name: 'Robot',
      environment_types: ['dev'],
    });
    const robot = created.body.data;
    const member = await createMember(roster, { email: 'robot-target@example.com' });
    await roster.put(
      `/api/members/${member.id}`,
      { env_roles: [{ environment_type: 'dev', name: 'Admin' }] },
      robot.token,
    );
    const [updated] = await eventsFor('member', member.id);
    expect(updated).toMatchObject({
      action: 'member.roles_updated',
      actor: { type: 'api_client', id: String(robot.id), name: 'Robot' },
    });
    const [createdEvent] = await eventsFor('api_client', robot.id);
    expect(createdEvent).toMatchObject({
      action: 'api_client.created',
      actor: { type: 'api_client', id: String(adminClient.id) },
    });
  });

  it('records nothing for a rejected write', async () => {
    const before = (await roster.get('/api/audit_events')).body.total;
    await roster.post('/api/member_invitations', {
      name: 'No',
      email: 'no@example.com',
      env_roles: [{ environment_type: 'dev', name: 'Nope' }],
    });
    await roster.put('/api/members/987654', {
      env_roles: [{ environment_type: 'dev', name: 'Admin' }],
    });
    await roster.post('/api/api_clients', { name: 'No', environment_types: ['staging'] });
    expect((await roster.get('/api/audit_events')).body.total).toBe(before);
  });

  it('records the creation of a workspace in that workspace only', async () => {
    const created = await roster.post(
      '/platform/workspaces',
      { name: 'Audited workspace' },
      PLATFORM_TOKEN,
    );
    const events = await roster.get('/api/audit_events', created.body.data.admin_token);
    expect(events.body).toMatchObject({
      total: 1,
      data: [{ action: 'workspace.created', after: { name: 'Audited workspace' } }],
    });
    const here = await roster.get('/api/audit_events?action=workspace.created');
    expect(
      here.body.data.every((e: AuditEvent) => e.target.id !== String(created.body.data.id)),
    ).toBe(true);
  });
});

describe('GET /api/audit_events', () => {
  it('lists newest first with total and page', async () => {
    const res = await roster.get('/api/audit_events?page[size]=5');
    expect(res.status).toBe(200);
    expect(res.body.page).toEqual({ number: 1, size: 5 });
    expect(res.body.data).toHaveLength(5);
    expect(res.body.total).toBeGreaterThan(5);
    const ids = res.body.data.map((e: AuditEvent) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    const next = await roster.get('/api/audit_events?page[size]=5&page[number]=2');
    expect(next.body.data[0].id).toBeLessThan(ids.at(-1));
  });

  it('answers the unfiltered page as a filter that matches every event does', async () => {
    // The unfiltered page of a workspace-wide credential is a query compiled once
    // (audit.repository.ts); any filter takes the query built per call. Same rows, same total.
    const unfiltered = await roster.get('/api/audit_events?page[size]=7&page[number]=2');
    const everything = await roster.get(
      '/api/audit_events?page[size]=7&page[number]=2&since=2000-01-01T00:00:00.000Z',
    );
    expect(unfiltered.status).toBe(200);
    expect(unfiltered.body.data).toHaveLength(7);
    expect(unfiltered.body).toEqual(everything.body);
    const first = await roster.get('/api/audit_events?page[size]=7');
    expect(unfiltered.body.data[0].id).toBeLessThan(first.body.data.at(-1).id);
  });

  it('filters by action, actor and target', async () => {
    const byAction = await roster.get('/api/audit_events?action=member_joined');
    expect(byAction.body.total).toBeGreaterThan(0);
    expect(byAction.body.data.every((e: AuditEvent) => e.action === 'member_joined')).toBe(true);

    const byActorType = await roster.get('/api/audit_events?actor_type=member');
    expect(byActorType.body.data.every((e: AuditEvent) => e.actor.type === 'member')).toBe(true);
    expect(byActorType.body.total).toBe(byAction.body.total);

    const byActor = await roster.get(
      `/api/audit_events?actor_type=api_client&actor_id=${adminClient.id}`,
    );
    expect(byActor.body.total).toBeGreaterThan(0);
    expect(byActor.body.data.every((e: AuditEvent) => e.actor.id === String(adminClient.id))).toBe(
      true,
    );

    const byTargetType = await roster.get('/api/audit_events?target_type=api_client');
    expect(byTargetType.body.data.every((e: AuditEvent) => e.target.type === 'api_client')).toBe(
      true,
    );

    const nothing = await roster.get('/api/audit_events?action=no.such.action');
    expect(nothing.body).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
  });

  it('filters by time with since (inclusive) and until (exclusive)', async () => {
    roster.clock.advance(60 * MINUTE);
    const mark = roster.clock.now().toISOString();
    roster.clock.advance(MINUTE);
    const member = await createMember(roster, { email: 'late-event@example.com' });

    const since = await roster.get(`/api/audit_events?since=${encodeURIComponent(mark)}`);
    expect(since.body.data.map((e: AuditEvent) => e.action)).toEqual([
      'member_joined',
      'member_invitation.created',
    ]);
    expect(since.body.data[0].target.id).toBe(String(member.id));

    const until = await roster.get(`/api/audit_events?until=${encodeURIComponent(mark)}`);
    expect(
      until.body.data.some(
        (e: AuditEvent) => e.target.type === 'member' && e.target.id === String(member.id),
      ),
    ).toBe(false);
    const total = (await roster.get('/api/audit_events')).body.total;
    const untilTotal: number = until.body.total;
    const sinceTotal: number = since.body.total;
    expect(untilTotal + sinceTotal).toBe(total);

    // Any UTC offset means the same instant.
    const offset = new Date(mark).getTime() + 2 * 60 * MINUTE;
    const local = new Date(offset).toISOString().replace('Z', '+02:00');
    const sinceLocal = await roster.get(`/api/audit_events?since=${encodeURIComponent(local)}`);
    expect(sinceLocal.body.total).toBe(since.body.total);
  });

  it('answers 400 for a malformed date', async () => {
    const res = await roster.get('/api/audit_events?since=last-week');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [{ code: 'bad_request', title: 'since must match format "date-time"' }],
    });
  });
});
