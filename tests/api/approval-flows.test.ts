/**
 * Approval flows through HTTP, on both stores: approvals for one call or for a time window, the
 * bounds of the approve body, expiry without a background job, a rejection reported to the next
 * call, approver chains per policy (collaborators signed in with a password, end users of an
 * Admin group signed in through a real OpenID provider), who may decide which step, the inbox
 * ("awaiting me"), and the mail each step's approvers get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invitationTokenFor, startRoster, type Roster } from '../helpers/roster.js';
import { signIn } from '../e2e/helpers.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { Browser, startOidcProvider, throughProvider, type OidcProvider } from './oidc-provider.js';

const PUBLIC_URL = 'http://roster.test';
const REDIRECT_URI = `${PUBLIC_URL}/sso/oidc/callback`;
const CLIENT_ID = 'roster-approvals-client';
const CLIENT_SECRET = 'approvals-sso-client-secret-0123456789';
const MINUTE = 60_000;

let roster: Roster;
let idp: OidcProvider;
let requester: number;

beforeAll(async () => {
  idp = await startOidcProvider({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
  });
  roster = await startRoster({ env: { ROSTER_PUBLIC_URL: PUBLIC_URL } });
  requester = await endUser('Rae Requester', 'rae@example.com');
  const sso = await roster.put('/api/sso/oidc', {
    issuer_url: idp.issuer,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    allowed_domains: ['example.com'],
    groups_claim: null,
    environment_types: ['dev'],
    scopes: ['openid', 'email', 'profile'],
    console_sign_in: true,
  });
  expect(sso.status).toBe(200);
});

afterAll(async () => {
  await roster.close();
  await idp.close();
});

const badRequest = (title: string) => ({ errors: [{ code: 'bad_request', title }] });
const forbidden = (title: string) => ({ errors: [{ code: 'forbidden', title }] });

async function endUser(name: string, email: string, environments = ['dev']): Promise<number> {
  const res = await roster.post('/api/end_users', { name, email, environment_types: environments });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function feature(name: string): Promise<number> {
  const res = await roster.post('/api/features', {
    environment_type: 'dev',
    kind: 'mcp_server',
    name,
  });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function askPolicy(featureId: number, extra: Record<string, unknown> = {}) {
  const res = await roster.post('/api/policies', {
    environment_type: 'dev',
    name: `Ask for ${featureId}`,
    feature_id: featureId,
    scope: { type: 'all' },
    effect: 'require_approval',
    ...extra,
  });
  return res;
}

function decide(featureId: number, tool = 'deploy', who = requester) {
  return roster.post('/api/end_users/decisions', {
    environment_type: 'dev',
    end_user_id: who,
    feature_id: featureId,
    tool,
  });
}

/** A collaborator with Admin in DEV and a console password, signed in. */
async function collaborator(name: string, email: string) {
  const invited = await roster.post('/api/member_invitations', {
    name,
    email,
    env_roles: [{ environment_type: 'dev', name: 'Admin' }],
  });
  expect(invited.status).toBe(200);
  const token = await invitationTokenFor(roster, email);
  const password = `${name} long password`;
  const accepted = await roster.post(
    `/api/console/invitations/${token}/accept`,
    { name, password },
    null,
  );
  expect(accepted.status).toBe(201);
  const session = await signIn(roster, email, password);
  return { id: Number(session.signIn.body.data.member.id), email, session };
}

/** An end user signed in to the console through the OpenID provider (an Admin group's member). */
async function endUserSession(accountId: string, email: string) {
  idp.accounts.set(accountId, { email, name: accountId, email_verified: true });
  const browser = new Browser();
  const callbackUrl = await throughProvider(
    browser,
    `${roster.url}/api/console/sso/login`,
    accountId,
    { issuer: idp.issuer, redirectUri: REDIRECT_URI },
  );
  const response = await browser.get(callbackUrl.replace(PUBLIC_URL, roster.url));
  expect(response.status).toBe(302);
  return {
    async request(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = {};
      const csrf = browser.cookies.get('roster_csrf');
      if (csrf !== undefined) headers['x-csrf-token'] = decodeURIComponent(csrf);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await browser.request(
        method,
        `${roster.url}${path}`,
        headers,
        body === undefined ? undefined : JSON.stringify(body),
      );
      const text = await res.text();
      return { status: res.status, body: text === '' ? null : JSON.parse(text) };
    },
  };
}

/** The approval mail about one request to one address: it is sent after the commit, so wait. */
async function approvalMail(to: string, requestId: number) {
  for (let i = 0; i < 100; i += 1) {
    const mail = (await roster.outbox()).find(
      (m) => m.to === to && m.text.includes(`of approval request ${requestId}.`),
    );
    if (mail !== undefined) return mail;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no approval mail to ${to} about request ${requestId}`);
}

describe('approving for one call or for a time window', () => {
  it('allows every matching call for N minutes, naming the approval, and asks again after', async () => {
    const f = await feature('Window MCP');
    expect((await askPolicy(f)).status).toBe(201);
    const id = (await decide(f)).body.data.approval_request_id;
    const approved = await roster.post(`/api/approval_requests/${id}/approve`, {
      scope: 'window',
      minutes: 30,
    });
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({
      status: 'approved',
      scope: 'window',
      window_ends_at: expect.any(String),
    });
    const ends = approved.body.data.window_ends_at as string;
    expect(Date.parse(ends) - Date.parse(approved.body.data.decided_at)).toBe(30 * MINUTE);

    for (let i = 0; i < 3; i += 1) {
      const allowed = await decide(f);
      expect(allowed.body.data.decision).toBe('allow');
      expect(allowed.body.data.approval_request_id).toBe(id);
      expect(allowed.body.data.reasons[0]).toEqual({
        type: 'approval_request',
        message: `Approval request ${id} was approved by api_client:1 for calls until ${ends}`,
        approval_request_id: id,
      });
    }
    // The window covers its own key only: another tool, another user are asked.
    expect((await decide(f, 'rollback')).body.data.decision).toBe('require_approval');
    const other = await endUser('Ola Other', 'ola@example.com');
    expect((await decide(f, 'deploy', other)).body.data.decision).toBe('require_approval');
    // A window is not used up.
    expect((await roster.get(`/api/approval_requests/${id}`)).body.data.status).toBe('approved');

    roster.clock.advance(30 * MINUTE);
    const after = await decide(f);
    expect(after.body.data.decision).toBe('require_approval');
    expect(after.body.data.approval_request_id).not.toBe(id);
  });

  it('keeps one call for no body and for {"scope":"once"}', async () => {
    const f = await feature('Once MCP');
    await askPolicy(f);
    const id = (await decide(f)).body.data.approval_request_id;
    const approved = await roster.post(`/api/approval_requests/${id}/approve`, { scope: 'once' });
    expect(approved.body.data).toMatchObject({ status: 'approved', scope: 'once' });
    expect((await decide(f)).body.data.decision).toBe('allow');
    expect((await decide(f)).body.data.decision).toBe('require_approval');
  });

  it('answers 400 with a clear message for each bad approve body', async () => {
    const f = await feature('Bad body MCP');
    await askPolicy(f);
    const id = (await decide(f)).body.data.approval_request_id;
    const window =
      'An approval for a time window needs "scope": "window" and "minutes" (1 to 1440)';
    const cases: [unknown, string | RegExp][] = [
      [{ scope: 'window' }, window],
      [{ minutes: 10 }, window],
      [
        { scope: 'once', minutes: 5 },
        'An approval for one call takes no minutes: send "scope": "window" for a time window',
      ],
      [{ scope: 'window', minutes: 0 }, /minutes/],
      [{ scope: 'window', minutes: 1441 }, /minutes/],
      [{ scope: 'window', minutes: 2.5 }, /minutes/],
      [{ scope: 'forever' }, 'scope must be one of "once", "window"'],
      [{ scope: 'window', minutes: 0 }, 'minutes must be >= 1'],
      [{ scope: 'window', minutes: 1441 }, 'minutes must be <= 1440'],
      ['[]', /body/],
    ];
    for (const [body, message] of cases) {
      const res = await roster.post(`/api/approval_requests/${id}/approve`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors[0].code).toBe('bad_request');
      if (typeof message === 'string') expect(res.body).toEqual(badRequest(message));
      else expect(res.body.errors[0].title).toMatch(message);
    }
    // Nothing was decided by the refused calls.
    expect((await roster.get(`/api/approval_requests/${id}`)).body.data.status).toBe('pending');
  });
});

describe('expiry', () => {
  it('expires a pending request after the configured time (24 h by default), without a job', async () => {
    const f = await feature('Expiring MCP');
    await askPolicy(f);
    const first = await decide(f);
    const id = first.body.data.approval_request_id;
    const request = (await roster.get(`/api/approval_requests/${id}`)).body.data;
    expect(Date.parse(request.expires_at) - Date.parse(request.created_at)).toBe(24 * 60 * MINUTE);

    roster.clock.advance(24 * 60 * MINUTE);
    // Read before any decision: the status is computed, nothing had to sweep it.
    expect((await roster.get(`/api/approval_requests/${id}`)).body.data.status).toBe('expired');
    const pending = await roster.get(`/api/approval_requests?status=pending&feature_id=${f}`);
    expect(pending.body.total).toBe(0);
    const expired = await roster.get(`/api/approval_requests?status=expired&feature_id=${f}`);
    expect(expired.body.data.map((r: { id: number }) => r.id)).toEqual([id]);

    const late = await roster.post(`/api/approval_requests/${id}/approve`);
    expect(late.status).toBe(400);
    expect(late.body).toEqual(
      badRequest(
        `Approval request ${id} expired at ${request.expires_at}: the next call opens a new one`,
      ),
    );

    const next = await decide(f);
    expect(next.body.data.decision).toBe('require_approval');
    const fresh = next.body.data.approval_request_id;
    expect(fresh).not.toBe(id);
    expect(next.body.data.reasons).toContainEqual({
      type: 'approval_request',
      message: `Approval request ${id} expired unanswered`,
      approval_request_id: id,
    });
    const events = await roster.get(
      `/api/audit_events?action=approval_request.expired&target_id=${id}`,
    );
    expect(events.body.data).toHaveLength(1);
    expect((await roster.post(`/api/approval_requests/${fresh}/approve`)).status).toBe(200);
  });

  it('reads ROSTER_APPROVAL_TTL_MINUTES and refuses a bad value at start', () => {
    expect(loadConfig({ ROSTER_APPROVAL_TTL_MINUTES: '15' }).approvalTtlMinutes).toBe(15);
    expect(loadConfig({}).approvalTtlMinutes).toBe(1440);
    for (const bad of ['0', '-5', 'soon', '43201']) {
      expect(() => loadConfig({ ROSTER_APPROVAL_TTL_MINUTES: bad })).toThrow(
        `ROSTER_APPROVAL_TTL_MINUTES must be a whole number from 1 to 43200, got "${bad}"`,
      );
    }
  });
});

describe('approver chains', () => {
  let alice: Awaited<ReturnType<typeof collaborator>>;
  let bob: Awaited<ReturnType<typeof collaborator>>;
  let security: number;
  let ivan: number;
  let readers: number;

  beforeAll(async () => {
    alice = await collaborator('Alice', 'alice@example.com');
    bob = await collaborator('Bob', 'bob@example.com');
    ivan = await endUser('Ivan Admin', 'ivan@example.com');
    security = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'dev',
        name: 'Security',
        roles: ['Admin'],
        end_user_ids: [ivan, requester],
      })
    ).body.data.id;
    readers = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'dev',
        name: 'Readers',
        roles: ['Read Only'],
        end_user_ids: [ivan],
      })
    ).body.data.id;
  });

  it('shows a policy chain with names, and refuses a bad one with 400', async () => {
    const f = await feature('Chain policy MCP');
    const created = await askPolicy(f, {
      approval_steps: [{ collaborator_ids: [alice.id] }, { end_user_group_ids: [security] }],
    });
    expect(created.status).toBe(201);
    expect(created.body.data.approval_steps).toEqual([
      {
        collaborators: [{ id: alice.id, name: 'Alice', email: 'alice@example.com' }],
        end_user_groups: [],
      },
      { collaborators: [], end_user_groups: [{ id: security, name: 'Security' }] },
    ]);
    const everyone = (await roster.get('/api/end_user_groups?name=everyone')).body.data.find(
      (g: { environment_type: string }) => g.environment_type === 'dev',
    ).id;
    const prodGroup = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'prod',
        name: 'Prod admins',
        roles: ['Admin'],
        end_user_ids: [await endUser('Pat Prod', 'pat@example.com', ['prod'])],
      })
    ).body.data.id;
    const cases: [Record<string, unknown>, string][] = [
      [
        { effect: 'allow', approval_steps: [{ collaborator_ids: [alice.id] }] },
        'Only a require_approval policy takes approval_steps',
      ],
      [
        { approval_steps: [{ collaborator_ids: [alice.id] }, {}] },
        'Approval step 2 names no approver: give collaborator_ids or end_user_group_ids',
      ],
      [{ approval_steps: [{ collaborator_ids: [999999] }] }, 'Collaborators not found: 999999'],
      [{ approval_steps: [{ end_user_group_ids: [999999] }] }, 'End-user groups not found: 999999'],
      [
        { approval_steps: [{ end_user_group_ids: [readers] }] },
        'Approver group Readers does not carry the Admin role: only Admin groups approve',
      ],
      [
        { approval_steps: [{ end_user_group_ids: [everyone] }] },
        'Approver group Everyone does not carry the Admin role: only Admin groups approve',
      ],
      [
        { approval_steps: [{ end_user_group_ids: [prodGroup] }] },
        'Approver group Prod admins is not in the DEV environment',
      ],
    ];
    for (const [extra, message] of cases) {
      const res = await askPolicy(f, { name: 'Bad chain', ...extra });
      expect(res.status, message).toBe(400);
      expect(res.body).toEqual(badRequest(message));
    }
    const tooMany = await askPolicy(f, {
      name: 'Too long',
      approval_steps: Array.from({ length: 11 }, () => ({ collaborator_ids: [alice.id] })),
    });
    expect(tooMany.status).toBe(400);

    // A policy that stops requiring approval loses its chain; PATCH replaces a chain whole.
    const id = created.body.data.id;
    const patched = await roster.request('PATCH', `/api/policies/${id}`, {
      body: { approval_steps: [{ collaborator_ids: [bob.id, alice.id] }] },
    });
    expect(patched.body.data.approval_steps).toHaveLength(1);
    const allow = await roster.request('PATCH', `/api/policies/${id}`, {
      body: { effect: 'allow' },
    });
    expect(allow.body.data.approval_steps).toEqual([]);
  });

  it('decides step by step: in order, by each step’s approvers only, recording who and when', async () => {
    const f = await feature('Chained MCP');
    const policy = await askPolicy(f, {
      approval_steps: [
        { collaborator_ids: [alice.id] },
        { end_user_group_ids: [security], collaborator_ids: [bob.id] },
      ],
    });
    expect(policy.status).toBe(201);
    const asked = await decide(f);
    expect(asked.body.data.decision).toBe('require_approval');
    const id = asked.body.data.approval_request_id as number;

    const request = (await roster.get(`/api/approval_requests/${id}`)).body.data;
    expect(request).toMatchObject({ status: 'pending', current_step: 1 });
    expect(request.steps).toEqual([
      {
        position: 1,
        status: 'pending',
        approvers: {
          collaborators: [{ id: alice.id, name: 'Alice', email: 'alice@example.com' }],
          end_user_groups: [],
        },
        decided_at: null,
        decided_by: null,
        scope: null,
        minutes: null,
      },
      {
        position: 2,
        status: 'pending',
        approvers: {
          collaborators: [{ id: bob.id, name: 'Bob', email: 'bob@example.com' }],
          end_user_groups: [{ id: security, name: 'Security' }],
        },
        decided_at: null,
        decided_by: null,
        scope: null,
        minutes: null,
      },
    ]);

    // Step 1's approver is mailed a link to decide in the console; step 2's not yet.
    const toAlice = await approvalMail('alice@example.com', id);
    expect(toAlice.subject).toBe(
      'Approval needed: Rae Requester wants to use Chained MCP (tool deploy)',
    );
    expect(toAlice.text).toContain(
      `Approve or reject it in the console: ${PUBLIC_URL}/approvals?request=${id}`,
    );
    expect(toAlice.text).toContain(`step 1 of 2 of approval request ${id}.`);
    const outbox = await roster.outbox();
    expect(
      outbox.some(
        (m) => m.text.includes(`of approval request ${id}.`) && m.to !== 'alice@example.com',
      ),
    ).toBe(false);

    // The inbox: Alice has it, Bob does not yet.
    const aliceInbox = await alice.session.request('GET', '/api/approval_requests?awaiting=me');
    expect(aliceInbox.body.data.map((r: { id: number }) => r.id)).toContain(id);
    const bobInbox = await bob.session.request('GET', '/api/approval_requests?awaiting=me');
    expect(bobInbox.body.data.map((r: { id: number }) => r.id)).not.toContain(id);

    // Not an approver: an API client, even a full-scope one.
    const byClient = await roster.post(`/api/approval_requests/${id}/approve`);
    expect(byClient.status).toBe(403);
    expect(byClient.body).toEqual(
      forbidden(
        `Step 1 of approval request ${id} is decided by Alice: you are not one of its approvers`,
      ),
    );
    // An approver of step 2 may not approve before step 1.
    const early = await bob.session.request('POST', `/api/approval_requests/${id}/approve`);
    expect(early.status).toBe(403);
    expect(early.body).toEqual(
      forbidden(`Step 1 of approval request ${id} must approve first; it is decided by Alice`),
    );

    const first = await alice.session.request('POST', `/api/approval_requests/${id}/approve`, {
      body: { scope: 'window', minutes: 60 },
    });
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({ status: 'pending', current_step: 2 });
    expect(first.body.data.steps[0]).toMatchObject({
      status: 'approved',
      decided_at: expect.any(String),
      decided_by: { type: 'member', id: String(alice.id), name: 'Alice' },
      scope: 'window',
      minutes: 60,
    });
    // Still pending: the call is still held back.
    expect((await decide(f)).body.data.decision).toBe('require_approval');
    // Alice cannot decide step 2, and step 2's approvers now hear of it.
    expect(
      (await alice.session.request('POST', `/api/approval_requests/${id}/approve`)).status,
    ).toBe(403);
    expect((await approvalMail('ivan@example.com', id)).text).toContain(
      `step 2 of 2 of approval request ${id}.`,
    );
    await approvalMail('bob@example.com', id);
    // The requester is in Security too, but is never asked to approve their own request.
    expect((await roster.outbox()).some((m) => m.to === 'rae@example.com')).toBe(false);
    expect(
      (await bob.session.request('GET', '/api/approval_requests?awaiting=me')).body.data.map(
        (r: { id: number }) => r.id,
      ),
    ).toContain(id);

    // Ivan, a member of the Admin group Security, decides step 2 from the console.
    const ivanSession = await endUserSession('ivan', 'ivan@example.com');
    const inbox = await ivanSession.request('GET', '/api/approval_requests?awaiting=me');
    expect(inbox.body.data.map((r: { id: number }) => r.id)).toContain(id);
    const second = await ivanSession.request('POST', `/api/approval_requests/${id}/approve`, {
      scope: 'once',
    });
    expect(second.status).toBe(200);
    // The narrowest of the steps' approvals: one call beats Alice's hour.
    expect(second.body.data).toMatchObject({
      status: 'approved',
      scope: 'once',
      window_ends_at: null,
      current_step: null,
      decided_by: `end_user:${ivan}`,
    });
    expect(second.body.data.steps[1].decided_by).toEqual({
      type: 'end_user',
      id: String(ivan),
      name: 'Ivan Admin',
    });
    expect((await decide(f)).body.data.decision).toBe('allow');
    expect((await decide(f)).body.data.decision).toBe('require_approval');
  });

  it('grants the shortest window the steps agreed to', async () => {
    const f = await feature('Window chain MCP');
    await askPolicy(f, {
      approval_steps: [{ collaborator_ids: [alice.id] }, { collaborator_ids: [bob.id] }],
    });
    const id = (await decide(f)).body.data.approval_request_id;
    await alice.session.request('POST', `/api/approval_requests/${id}/approve`, {
      body: { scope: 'window', minutes: 15 },
    });
    const done = await bob.session.request('POST', `/api/approval_requests/${id}/approve`, {
      body: { scope: 'window', minutes: 120 },
    });
    expect(done.body.data.scope).toBe('window');
    expect(Date.parse(done.body.data.window_ends_at) - Date.parse(done.body.data.decided_at)).toBe(
      15 * MINUTE,
    );
  });

  it('lets any step still to decide reject, and tells the next call which request was rejected', async () => {
    const f = await feature('Rejected chain MCP');
    await askPolicy(f, {
      approval_steps: [{ collaborator_ids: [alice.id] }, { collaborator_ids: [bob.id] }],
    });
    const id = (await decide(f)).body.data.approval_request_id;
    const rejected = await bob.session.request('POST', `/api/approval_requests/${id}/reject`);
    expect(rejected.status).toBe(200);
    expect(rejected.body.data).toMatchObject({
      status: 'rejected',
      decided_by: `member:${bob.id}`,
    });
    expect(rejected.body.data.steps.map((s: { status: string }) => s.status)).toEqual([
      'pending',
      'rejected',
    ]);
    const denied = await decide(f);
    expect(denied.body.data.decision).toBe('deny');
    expect(denied.body.data.reasons[0]).toEqual({
      type: 'approval_request',
      message: `Approval request ${id} was rejected by member:${bob.id}`,
      approval_request_id: id,
    });
    expect(
      (await alice.session.request('POST', `/api/approval_requests/${id}/approve`)).status,
    ).toBe(400);
    // The next call asks again, with a fresh chain.
    const again = await decide(f);
    expect(again.body.data.decision).toBe('require_approval');
    expect(again.body.data.approval_request_id).not.toBe(id);
  });

  it('refuses a requester deciding their own request, even as a member of an approver group', async () => {
    const f = await feature('Own request MCP');
    await askPolicy(f, { approval_steps: [{ end_user_group_ids: [security] }] });
    // Rae asks; Rae is in Security (Admin) and signs in to the console.
    const id = (await decide(f)).body.data.approval_request_id;
    const rae = await endUserSession('rae', 'rae@example.com');
    const own = await rae.request('POST', `/api/approval_requests/${id}/approve`);
    expect(own.status).toBe(403);
    expect(own.body).toEqual(forbidden('Nobody approves or rejects their own approval request'));
    const inbox = await rae.request('GET', '/api/approval_requests?awaiting=me');
    expect(inbox.body.data.map((r: { id: number }) => r.id)).not.toContain(id);
    // Without a chain too: an Admin-group end user decides others' requests, not their own.
    const plain = await feature('Own plain MCP');
    await askPolicy(plain);
    const ownPlain = (await decide(plain)).body.data.approval_request_id;
    expect((await rae.request('POST', `/api/approval_requests/${ownPlain}/approve`)).body).toEqual(
      forbidden('Nobody approves or rejects their own approval request'),
    );
    // Ivan asks for the same tool: Rae may decide Ivan's request.
    const ivansRequest = (await decide(f, 'deploy', ivan)).body.data.approval_request_id;
    expect(
      (await rae.request('POST', `/api/approval_requests/${ivansRequest}/reject`)).status,
    ).toBe(200);
  });

  it('keeps a request’s chain as it was when it opened', async () => {
    const f = await feature('Frozen chain MCP');
    const policy = await askPolicy(f, { approval_steps: [{ collaborator_ids: [alice.id] }] });
    const id = (await decide(f)).body.data.approval_request_id;
    await roster.request('PATCH', `/api/policies/${policy.body.data.id}`, {
      body: { approval_steps: [{ collaborator_ids: [bob.id] }] },
    });
    expect((await bob.session.request('POST', `/api/approval_requests/${id}/approve`)).status).toBe(
      403,
    );
    expect(
      (await alice.session.request('POST', `/api/approval_requests/${id}/approve`)).status,
    ).toBe(200);
  });
});

describe('without a chain', () => {
  it('lets any caller who may write in the environment decide, as before chains', async () => {
    const f = await feature('Plain MCP');
    await askPolicy(f);
    const id = (await decide(f)).body.data.approval_request_id;
    const inbox = await roster.get('/api/approval_requests?awaiting=me');
    expect(inbox.body.data.map((r: { id: number }) => r.id)).toContain(id);
    const approved = await roster.post(`/api/approval_requests/${id}/approve`);
    expect(approved.body.data).toMatchObject({ status: 'approved', steps: [], scope: 'once' });
  });
});
