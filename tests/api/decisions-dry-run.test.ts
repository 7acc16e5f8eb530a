/**
 * POST /api/end_users/decisions?dry_run=true: the same answer as a real decision, and nothing
 * written — no audit event (so nothing for the dashboard to count), no approval request opened
 * or used up. The access explorer asks this way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let ada: number;
let bob: number;

beforeAll(async () => {
  roster = await startRoster();
  const user = async (name: string) =>
    (
      await roster.post('/api/end_users', {
        name,
        email: `${name.toLowerCase()}@dry-run.example.com`,
        environment_types: ['dev'],
      })
    ).body.data.id as number;
  ada = await user('Ada');
  bob = await user('Bob');
});
afterAll(async () => {
  await roster.close();
});

async function feature(name: string): Promise<number> {
  return (await roster.post('/api/features', { environment_type: 'dev', kind: 'mcp_server', name }))
    .body.data.id;
}

const decide = (body: Record<string, unknown>, query = '') =>
  roster.post(`/api/end_users/decisions${query}`, { environment_type: 'dev', ...body });

/** Everything a decision could write: audit events and approval requests. */
async function written() {
  const events = await roster.get('/api/audit_events?page[size]=1');
  const approvals = await roster.get('/api/approval_requests?page[size]=100');
  return {
    lastEventId: events.body.data[0]?.id as number | undefined,
    events: events.body.total as number,
    decisions: (await roster.get('/api/audit_events?action=end_user.decision')).body
      .total as number,
    approvals: approvals.body.data.map((a: { id: number; status: string }) => [a.id, a.status]),
  };
}

describe('POST /api/end_users/decisions?dry_run=true', () => {
  it('answers allow and deny exactly as the real decision does, and writes nothing', async () => {
    const granted = await feature('Granted dry MCP');
    await roster.post(`/api/features/${granted}/access`, { end_user_ids: [ada] });
    for (const body of [
      { end_user_id: ada, feature_id: granted },
      { email: 'bob@dry-run.example.com', feature_id: granted },
      { end_user_id: ada, feature_id: granted, tool: 'read_file' },
    ]) {
      const before = await written();
      const dry = await decide(body, '?dry_run=true');
      expect(dry.status).toBe(200);
      expect(await written()).toEqual(before);

      const real = await decide(body);
      expect(real.status).toBe(200);
      expect(dry.body.data).toEqual({ ...real.body.data, dry_run: true });
      expect((await written()).decisions).toBe(before.decisions + 1);
    }
  });

  it('takes dry_run=false as a real decision', async () => {
    const granted = await feature('Real MCP');
    const before = await written();
    const res = await decide({ end_user_id: bob, feature_id: granted }, '?dry_run=false');
    expect(res.status).toBe(200);
    expect(res.body.data.dry_run).toBeUndefined();
    expect((await written()).decisions).toBe(before.decisions + 1);
  });

  it('under a require_approval policy neither opens nor uses up an approval request', async () => {
    const payments = await feature('Payments dry MCP');
    const policy = await roster.post('/api/policies', {
      environment_type: 'dev',
      name: 'Payments need approval',
      feature_id: payments,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    expect(policy.status).toBe(201);
    const ask = { end_user_id: bob, feature_id: payments, tool: 'pay' };

    // No request yet: the dry run says one would be opened, and opens none.
    let before = await written();
    const first = await decide(ask, '?dry_run=true');
    expect(first.status).toBe(200);
    expect(first.body.data).toMatchObject({
      decision: 'require_approval',
      approval_request_id: null,
      dry_run: true,
    });
    expect(first.body.data.reasons.at(-1)).toEqual({
      type: 'approval_request',
      message: 'No approval request is open; a real decision would open one',
    });
    expect(await written()).toEqual(before);

    // The real decision opens one; a dry run now answers exactly as a second real one does.
    const opened = await decide(ask);
    const requestId = opened.body.data.approval_request_id as number;
    expect(opened.body.data.decision).toBe('require_approval');
    before = await written();
    const pendingDry = await decide(ask, '?dry_run=true');
    expect(await written()).toEqual(before);
    const pendingReal = await decide(ask);
    expect(pendingDry.body.data).toEqual({ ...pendingReal.body.data, dry_run: true });

    // Approved: the dry run says allow and leaves the approval for the real call.
    expect((await roster.post(`/api/approval_requests/${requestId}/approve`)).status).toBe(200);
    before = await written();
    for (let i = 0; i < 2; i += 1) {
      const dry = await decide(ask, '?dry_run=true');
      expect(dry.body.data).toMatchObject({
        decision: 'allow',
        approval_request_id: requestId,
        dry_run: true,
      });
      expect(dry.body.data.reasons[0].message).toBe(
        `Approval request ${requestId} was approved; a real decision would use it up`,
      );
    }
    expect(await written()).toEqual(before);
    expect((await roster.get(`/api/approval_requests/${requestId}`)).body.data.status).toBe(
      'approved',
    );
    const used = await decide(ask);
    expect(used.body.data.decision).toBe('allow');
    expect((await roster.get(`/api/approval_requests/${requestId}`)).body.data.status).toBe('used');
  });

  it('validates the question as the real decision does', async () => {
    const res = await decide({ end_user_id: 999999, feature_id: 1 }, '?dry_run=true');
    expect(res.status).toBe(404);
    const bad = await decide({ end_user_id: ada, feature_id: 1 }, '?dry_run=maybe');
    expect(bad.status).toBe(400);
  });
});
