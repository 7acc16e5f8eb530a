/**
 * Policies and decisions: CRUD and validation of policies, the decision rule (lock, environment,
 * deny beats everything, approval, allow by policy or grant, default deny), tool matching,
 * approval requests good for one decision, API-client scope and workspace isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let eve: number;
let sam: number;
let engineering: number;
let mcp: number;

beforeAll(async () => {
  roster = await startRoster();
  eve = (
    await roster.post('/api/end_users', {
      name: 'Eve',
      email: 'eve@policies.example.com',
      environment_types: ['dev', 'prod'],
    })
  ).body.data.id;
  sam = (
    await roster.post('/api/end_users', {
      name: 'Sam',
      email: 'sam@policies.example.com',
      environment_types: ['dev'],
    })
  ).body.data.id;
  engineering = (
    await roster.post('/api/end_user_groups', {
      environment_type: 'dev',
      name: 'Engineering',
      end_user_ids: [eve],
    })
  ).body.data.id;
  mcp = (
    await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'mcp_server',
      name: 'GitHub MCP',
    })
  ).body.data.id;
});
afterAll(async () => {
  await roster.close();
});

const error = (title: string) => ({ errors: [{ code: 'bad_request', title }] });

async function newFeature(name: string, environment_type = 'dev'): Promise<number> {
  return (await roster.post('/api/features', { environment_type, kind: 'mcp_server', name })).body
    .data.id;
}

function createPolicy(body: Record<string, unknown>) {
  return roster.post('/api/policies', { environment_type: 'dev', ...body });
}

function decide(body: Record<string, unknown>) {
  return roster.post('/api/end_users/decisions', { environment_type: 'dev', ...body });
}

describe('POST /api/policies', () => {
  it('creates a policy with tools, scope and effect', async () => {
    const res = await createPolicy({
      name: 'Engineers may read',
      feature_id: mcp,
      tools: ['list_issues', 'get_issue'],
      scope: { type: 'groups', ids: [engineering] },
      effect: 'allow',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        id: expect.any(Number),
        name: 'Engineers may read',
        description: null,
        environment_type: 'dev',
        feature_id: mcp,
        tools: ['list_issues', 'get_issue'],
        scope: { type: 'groups', ids: [engineering] },
        effect: 'allow',
        approval_steps: [],
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const events = await roster.get(
      `/api/audit_events?action=policy.created&target_id=${res.body.data.id}`,
    );
    expect(events.body.data).toHaveLength(1);
  });

  it('returns 400 for each invalid policy', async () => {
    const prodFeature = await newFeature('Prod MCP', 'prod');
    const prodGroup = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'prod',
        name: 'Prod eng',
        end_user_ids: [eve],
      })
    ).body.data.id;
    const cases: [Record<string, unknown>, string][] = [
      [
        { name: ' ', feature_id: mcp, scope: { type: 'all' }, effect: 'deny' },
        "Name can't be blank",
      ],
      [
        { name: 'Engineers may read', feature_id: mcp, scope: { type: 'all' }, effect: 'deny' },
        'Name has already been taken in this environment',
      ],
      [
        { name: 'P', feature_id: 999999, scope: { type: 'all' }, effect: 'deny' },
        'Feature 999999 not found',
      ],
      [
        { name: 'P', feature_id: prodFeature, scope: { type: 'all' }, effect: 'deny' },
        'Feature Prod MCP is in the PROD environment, not DEV',
      ],
      [
        { name: 'P', feature_id: mcp, scope: { type: 'users', ids: [] }, effect: 'deny' },
        'A policy scoped to users needs at least one ID in scope.ids',
      ],
      [
        { name: 'P', feature_id: mcp, scope: { type: 'all', ids: [eve] }, effect: 'deny' },
        'A policy scoped to all users takes no ids',
      ],
      [
        { name: 'P', feature_id: mcp, scope: { type: 'users', ids: [777777] }, effect: 'deny' },
        'End users not found: 777777',
      ],
      [
        { name: 'P', feature_id: mcp, scope: { type: 'groups', ids: [prodGroup] }, effect: 'deny' },
        'A DEV policy can only name groups of its environment: Prod eng',
      ],
      [
        { name: 'P', feature_id: mcp, tools: [' '], scope: { type: 'all' }, effect: 'deny' },
        "Tool names can't be blank",
      ],
    ];
    for (const [body, title] of cases) {
      const res = await createPolicy(body);
      expect(res.status, title).toBe(400);
      expect(res.body).toEqual(error(title));
    }
    const effect = await createPolicy({
      name: 'P',
      feature_id: mcp,
      scope: { type: 'all' },
      effect: 'maybe',
    });
    expect(effect.status).toBe(400);
    expect(effect.body.errors[0].title).toMatch(/^effect /);
    const scope = await createPolicy({
      name: 'P',
      feature_id: mcp,
      scope: { type: 'robots' },
      effect: 'deny',
    });
    expect(scope.status).toBe(400);
  });
});

describe('GET, PUT, PATCH and DELETE /api/policies/:id', () => {
  it('lists, gets, changes and deletes a policy', async () => {
    const feature = await newFeature('CRUD MCP');
    const created = await createPolicy({
      name: 'Crud',
      feature_id: feature,
      scope: { type: 'users', ids: [sam] },
      effect: 'deny',
    });
    const id = created.body.data.id;
    const list = await roster.get(`/api/policies?feature_id=${feature}`);
    expect(list.body).toEqual({
      data: [created.body.data],
      total: 1,
      page: { number: 1, size: 100 },
    });
    expect((await roster.get(`/api/policies/${id}`)).body).toEqual(created.body);

    const put = await roster.put(`/api/policies/${id}`, {
      name: 'Crud 2',
      tools: ['deploy'],
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({
      name: 'Crud 2',
      tools: ['deploy'],
      scope: { type: 'all', ids: [] },
      effect: 'require_approval',
    });
    const patch = await roster.request('PATCH', `/api/policies/${id}`, {
      body: { description: 'Deploys need a yes' },
    });
    expect(patch.body.data).toMatchObject({
      name: 'Crud 2',
      description: 'Deploys need a yes',
      effect: 'require_approval',
    });

    const deleted = await roster.delete(`/api/policies/${id}`);
    expect(deleted.status).toBe(204);
    const gone = await roster.get(`/api/policies/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ errors: [{ code: 'not_found', title: 'Policy not found' }] });
    const actions = (
      await roster.get(`/api/audit_events?target_type=policy&target_id=${id}`)
    ).body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual([
      'policy.deleted',
      'policy.updated',
      'policy.updated',
      'policy.created',
    ]);
  });
});

describe('POST /api/end_users/decisions', () => {
  it('denies by default, naming the missing grant', async () => {
    const feature = await newFeature('Nothing MCP');
    const res = await decide({ end_user_id: sam, feature_id: feature });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        decision: 'deny',
        reasons: [
          {
            type: 'no_access',
            message:
              'No policy or grant gives sam@policies.example.com access to feature "Nothing MCP"',
          },
        ],
        approval_request_id: null,
      },
    });
  });

  it('allows through a direct grant, answering by email too', async () => {
    const feature = await newFeature('Granted MCP');
    const grant = await roster.post(`/api/features/${feature}/access`, { end_user_ids: [sam] });
    const res = await decide({ email: 'SAM@policies.example.com', feature_id: feature });
    expect(res.body.data).toEqual({
      decision: 'allow',
      reasons: [
        {
          type: 'feature_grant',
          message: 'Feature "Granted MCP" is granted to sam@policies.example.com directly',
          grant_id: grant.body.data[0].id,
        },
      ],
      approval_request_id: null,
    });
  });

  it('lets a deny policy beat an allow policy and a grant', async () => {
    const feature = await newFeature('Deny MCP');
    await roster.post(`/api/features/${feature}/access`, { end_user_ids: [eve] });
    await createPolicy({
      name: 'Everyone may',
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'allow',
    });
    const deny = await createPolicy({
      name: 'Not engineering',
      feature_id: feature,
      scope: { type: 'groups', ids: [engineering] },
      effect: 'deny',
    });
    const res = await decide({ end_user_id: eve, feature_id: feature });
    expect(res.body.data).toEqual({
      decision: 'deny',
      reasons: [
        {
          type: 'policy',
          message:
            'Policy "Not engineering" (deny) applies to eve@policies.example.com through group Engineering',
          policy: { id: deny.body.data.id, name: 'Not engineering', effect: 'deny' },
          group: { id: engineering, name: 'Engineering' },
        },
      ],
      approval_request_id: null,
    });
    // Sam is not in Engineering: the all-users allow applies.
    const samRes = await decide({ end_user_id: sam, feature_id: feature });
    expect(samRes.body.data.decision).toBe('allow');
    expect(samRes.body.data.reasons[0].message).toBe(
      'Policy "Everyone may" (allow) applies to all users',
    );
  });

  it('matches a policy with tools only for those tools', async () => {
    const feature = await newFeature('Tools MCP');
    await createPolicy({
      name: 'Sam reads',
      feature_id: feature,
      tools: ['read_file'],
      scope: { type: 'users', ids: [sam] },
      effect: 'allow',
    });
    await createPolicy({
      name: 'No deletes',
      feature_id: feature,
      tools: ['delete_repo'],
      scope: { type: 'all' },
      effect: 'deny',
    });
    expect(
      (await decide({ end_user_id: sam, feature_id: feature, tool: 'read_file' })).body.data
        .reasons[0].message,
    ).toBe('Policy "Sam reads" (allow) applies to sam@policies.example.com directly');
    expect(
      (await decide({ end_user_id: sam, feature_id: feature, tool: 'write_file' })).body.data
        .decision,
    ).toBe('deny');
    expect((await decide({ end_user_id: sam, feature_id: feature })).body.data.decision).toBe(
      'deny',
    );
    const del = await decide({ end_user_id: sam, feature_id: feature, tool: 'delete_repo' });
    expect(del.body.data.decision).toBe('deny');
    expect(del.body.data.reasons[0].policy.name).toBe('No deletes');
  });

  it('returns 404 for an unknown user or feature, and 400 without a user or for another environment’s feature', async () => {
    expect((await decide({ end_user_id: 555555, feature_id: mcp })).status).toBe(404);
    const feature = await decide({ end_user_id: sam, feature_id: 555555 });
    expect(feature.status).toBe(404);
    expect(feature.body).toEqual({ errors: [{ code: 'not_found', title: 'Feature not found' }] });
    expect((await decide({ feature_id: mcp })).body).toEqual(error('Give end_user_id or email'));
    const other = await roster.post('/api/end_users/decisions', {
      end_user_id: eve,
      environment_type: 'prod',
      feature_id: mcp,
    });
    expect(other.body).toEqual(error('Feature GitHub MCP is in the DEV environment, not PROD'));
  });

  it('records each decision as activity of the user', async () => {
    const feature = await newFeature('Logged MCP');
    await decide({ end_user_id: sam, feature_id: feature, tool: 'x' });
    const events = await roster.get(`/api/audit_events?action=end_user.decision&target_id=${sam}`);
    expect(events.body.data[0].after).toEqual({
      environment_type: 'dev',
      feature_id: feature,
      tool: 'x',
      decision: 'deny',
      approval_request_id: null,
    });
  });
});

describe('approval requests', () => {
  it('asks for approval, and an approval is good for exactly one later decision', async () => {
    const feature = await newFeature('Deploy MCP');
    const policy = await createPolicy({
      name: 'Deploys need approval',
      feature_id: feature,
      tools: ['deploy'],
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const ask = { end_user_id: sam, feature_id: feature, tool: 'deploy' };

    const first = await decide(ask);
    expect(first.body.data).toEqual({
      decision: 'require_approval',
      reasons: [
        {
          type: 'policy',
          message: 'Policy "Deploys need approval" (require_approval) applies to all users',
          policy: {
            id: policy.body.data.id,
            name: 'Deploys need approval',
            effect: 'require_approval',
          },
        },
        {
          type: 'approval_request',
          message: `Approval request ${first.body.data.approval_request_id} awaits an approver`,
          approval_request_id: first.body.data.approval_request_id,
        },
      ],
      approval_request_id: expect.any(Number),
    });
    const requestId = first.body.data.approval_request_id;
    // Asking again while it is pending does not open another request.
    expect((await decide(ask)).body.data.approval_request_id).toBe(requestId);

    const pending = await roster.get(`/api/approval_requests?status=pending&feature_id=${feature}`);
    expect(pending.body).toEqual({
      data: [
        {
          id: requestId,
          status: 'pending',
          end_user: { id: sam, name: 'Sam', email: 'sam@policies.example.com' },
          environment_type: 'dev',
          feature: { id: feature, name: 'Deploy MCP', kind: 'mcp_server', environment_type: 'dev' },
          tool: 'deploy',
          policy_id: policy.body.data.id,
          created_at: expect.any(String),
          decided_at: null,
          decided_by: null,
          used_at: null,
          expires_at: expect.any(String),
          scope: null,
          window_ends_at: null,
          steps: [],
          current_step: null,
        },
      ],
      total: 1,
      page: { number: 1, size: 100 },
    });

    const approved = await roster.post(`/api/approval_requests/${requestId}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({
      id: requestId,
      status: 'approved',
      decided_by: 'api_client:1',
    });

    // Another tool is not covered by the approval.
    expect((await decide({ ...ask, tool: 'rollback' })).body.data.decision).toBe('deny');

    const allowed = await decide(ask);
    expect(allowed.body.data.decision).toBe('allow');
    expect(allowed.body.data.approval_request_id).toBe(requestId);
    expect(allowed.body.data.reasons[0]).toEqual({
      type: 'approval_request',
      message: `Approval request ${requestId} was approved; this decision uses it up`,
      approval_request_id: requestId,
    });
    const used = await roster.get(`/api/approval_requests/${requestId}`);
    expect(used.body.data).toMatchObject({ status: 'used', used_at: expect.any(String) });

    const next = await decide(ask);
    expect(next.body.data.decision).toBe('require_approval');
    expect(next.body.data.approval_request_id).not.toBe(requestId);

    const again = await roster.post(`/api/approval_requests/${requestId}/approve`);
    expect(again.status).toBe(400);
    expect(again.body).toEqual(error('The approval request is already used'));
  });

  // Until approval flows (issue 12) a rejection was silent: the next call simply asked again. Now
  // the next call is denied naming the rejected request, and the one after asks again.
  it('reports a rejection to the next call, then asks again', async () => {
    const feature = await newFeature('Rejected MCP');
    await createPolicy({
      name: 'Ask first',
      feature_id: feature,
      scope: { type: 'users', ids: [eve] },
      effect: 'require_approval',
    });
    const first = await decide({ end_user_id: eve, feature_id: feature });
    const id = first.body.data.approval_request_id;
    const rejected = await roster.post(`/api/approval_requests/${id}/reject`);
    expect(rejected.body.data.status).toBe('rejected');
    const told = await decide({ end_user_id: eve, feature_id: feature });
    expect(told.body.data.decision).toBe('deny');
    expect(told.body.data.approval_request_id).toBe(id);
    expect(told.body.data.reasons[0]).toEqual({
      type: 'approval_request',
      message: `Approval request ${id} was rejected by api_client:1`,
      approval_request_id: id,
    });
    const after = await decide({ end_user_id: eve, feature_id: feature });
    expect(after.body.data.decision).toBe('require_approval');
    expect(after.body.data.approval_request_id).not.toBe(id);
    expect(
      (await roster.get('/api/approval_requests?status=rejected')).body.data.map(
        (r: { id: number }) => r.id,
      ),
    ).toEqual([id]);
  });

  it('lets deny beat an approved request, which stays unused', async () => {
    const feature = await newFeature('Deny after approval');
    await createPolicy({
      name: 'Ask',
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const id = (await decide({ end_user_id: sam, feature_id: feature })).body.data
      .approval_request_id;
    await roster.post(`/api/approval_requests/${id}/approve`);
    await createPolicy({
      name: 'Stop',
      feature_id: feature,
      scope: { type: 'users', ids: [sam] },
      effect: 'deny',
    });
    expect((await decide({ end_user_id: sam, feature_id: feature })).body.data.decision).toBe(
      'deny',
    );
    expect((await roster.get(`/api/approval_requests/${id}`)).body.data.status).toBe('approved');
  });

  it('denies a locked user even with an approved request', async () => {
    const feature = await newFeature('Locked approval');
    await createPolicy({
      name: 'Ask lock',
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const user = (
      await roster.post('/api/end_users', {
        name: 'Lou',
        email: 'lou@policies.example.com',
        environment_types: ['dev'],
      })
    ).body.data.id;
    const id = (await decide({ end_user_id: user, feature_id: feature })).body.data
      .approval_request_id;
    await roster.post(`/api/approval_requests/${id}/approve`);
    await roster.post(`/api/end_users/${user}/lock`);
    const res = await decide({ end_user_id: user, feature_id: feature });
    expect(res.body.data.decision).toBe('deny');
    expect(res.body.data.reasons[0].type).toBe('locked');
    expect((await roster.get(`/api/approval_requests/${id}`)).body.data.status).toBe('approved');
  });

  it('returns 404 for an unknown approval request', async () => {
    const res = await roster.post('/api/approval_requests/999999/approve');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      errors: [{ code: 'not_found', title: 'Approval request not found' }],
    });
  });
});

describe('API client scope', () => {
  it('returns 403 when the client’s scope does not cover the environment', async () => {
    const client = await roster.post('/api/api_clients', {
      name: 'prod only',
      environment_types: ['prod'],
    });
    expect(client.status).toBe(201);
    const token = client.body.data.token;
    const res = await roster.post(
      '/api/policies',
      {
        name: 'Scoped',
        environment_type: 'dev',
        feature_id: mcp,
        scope: { type: 'all' },
        effect: 'deny',
      },
      token,
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      errors: [
        { code: 'forbidden', title: 'This API client has no access to the DEV environment' },
      ],
    });
    const decision = await roster.post(
      '/api/end_users/decisions',
      { end_user_id: sam, environment_type: 'dev', feature_id: mcp },
      token,
    );
    expect(decision.status).toBe(403);
    expect((await roster.get('/api/policies', token)).body.total).toBe(0);
  });
});

describe('workspace isolation', () => {
  it('keeps policies and approval requests invisible to another workspace', async () => {
    const feature = await newFeature('Isolated MCP');
    const policy = await createPolicy({
      name: 'Isolated',
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const requestId = (await decide({ end_user_id: sam, feature_id: feature })).body.data
      .approval_request_id;
    const created = await roster.post('/platform/workspaces', { name: 'Far away' }, PLATFORM_TOKEN);
    const token = created.body.data.admin_token;
    expect((await roster.get('/api/policies', token)).body).toEqual({
      data: [],
      total: 0,
      page: { number: 1, size: 100 },
    });
    expect((await roster.get(`/api/policies/${policy.body.data.id}`, token)).status).toBe(404);
    expect((await roster.get('/api/approval_requests', token)).body.total).toBe(0);
    expect(
      (await roster.post(`/api/approval_requests/${requestId}/approve`, undefined, token)).status,
    ).toBe(404);
    const decision = await roster.post(
      '/api/end_users/decisions',
      { end_user_id: sam, environment_type: 'dev', feature_id: feature },
      token,
    );
    expect(decision.status).toBe(404);
    const cross = await roster.post(
      '/api/policies',
      {
        name: 'Cross',
        environment_type: 'dev',
        feature_id: feature,
        scope: { type: 'all' },
        effect: 'deny',
      },
      token,
    );
    expect(cross.body).toEqual(error(`Feature ${feature} not found`));
    expect((await roster.get(`/api/approval_requests/${requestId}`)).body.data.status).toBe(
      'pending',
    );
  });
});
