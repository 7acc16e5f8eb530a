/**
 * End users on the access index: POST /api/access/check with an end-user subject and a feature
 * (and tool) answers from memory, with explain paths for lock, missing environment access,
 * policies and feature grants (through an externally managed group, too); writes are seen by
 * the next check; checks open no approval request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let ada: number;
let bob: number;
let directory: number;
let copilot: number;

beforeAll(async () => {
  roster = await startRoster();
  ada = (
    await roster.post('/api/end_users', {
      name: 'Ada',
      email: 'ada@eu-access.example.com',
      environment_types: ['prod'],
    })
  ).body.data.id;
  bob = (
    await roster.post('/api/end_users', {
      name: 'Bob',
      email: 'bob@eu-access.example.com',
      environment_types: ['dev'],
    })
  ).body.data.id;
  directory = (
    await roster.post('/api/end_user_groups', {
      environment_type: 'prod',
      name: 'Directory Engineers',
      end_user_ids: [ada],
      managed_by: 'external',
    })
  ).body.data.id;
  copilot = (
    await roster.post('/api/features', {
      environment_type: 'prod',
      kind: 'mcp_server',
      name: 'Copilot MCP',
    })
  ).body.data.id;
  await roster.post(`/api/features/${copilot}/access`, { end_user_group_ids: [directory] });
});
afterAll(async () => {
  await roster.close();
});

const check = (body: Record<string, unknown>) =>
  roster.post('/api/access/check', { environment_type: 'prod', ...body });

describe('POST /api/access/check for end users', () => {
  it('does not bring back a direct grant that revoking the environment took, once it is granted again', async () => {
    const created = await roster.post('/api/end_users', {
      name: 'Cleo',
      email: 'cleo@eu-access.example.com',
      environment_types: ['prod'],
    });
    expect(created.status).toBe(201);
    const cleo = created.body.data.id as number;
    expect(
      (await roster.post(`/api/features/${copilot}/access`, { end_user_ids: [cleo] })).status,
    ).toBeLessThan(300);
    const allowed = async () =>
      (await check({ subject: { end_user_id: cleo }, feature_id: copilot })).body.data.allowed;
    expect(await allowed()).toBe(true);
    const environment = (access: boolean) =>
      roster.put(`/api/end_users/${cleo}/environments`, {
        environment_type: 'prod',
        access,
        confirm: true,
      });
    expect((await environment(false)).status).toBe(200);
    expect(await allowed()).toBe(false);
    expect((await environment(true)).status).toBe(200);
    expect(await allowed()).toBe(false);
  });

  it('sees access granted and revoked at the next check, the feature’s other grants kept', async () => {
    // A grant or revocation reloads the grants of the users and groups it names only, not the
    // feature's: the others must stay, in ID order (the explanation lists them so).
    const user = async (name: string) =>
      (
        await roster.post('/api/end_users', {
          name,
          email: `${name.toLowerCase()}@eu-access.example.com`,
          environment_types: ['prod'],
        })
      ).body.data.id as number;
    const [fay, gus, hal] = [await user('Fay'), await user('Gus'), await user('Hal')];
    const team = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'prod',
        name: 'Fay and Gus',
        end_user_ids: [fay, gus],
      })
    ).body.data.id as number;
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Granted one by one',
      })
    ).body.data.id as number;
    // Loads the slice before the grants, so that each is applied to it.
    expect((await check({ subject: { end_user_id: fay }, feature_id: feature })).status).toBe(200);
    const access = (method: 'POST' | 'DELETE', body: Record<string, number[]>) =>
      roster.request(method, `/api/features/${feature}/access`, { body });
    const grants = async (id: number) => {
      const res = await check({ subject: { end_user_id: id }, feature_id: feature, explain: true });
      const data = res.body.data as {
        allowed: boolean;
        paths: { steps: { kind: string; id: number }[] }[];
      };
      if (!data.allowed) return 'denied';
      return data.paths.map((p) => p.steps.find((step) => step.kind === 'feature_grant')?.id);
    };
    const fayGrant = (await access('POST', { end_user_ids: [fay] })).body.data[0].id as number;
    const teamGrant = (await access('POST', { end_user_group_ids: [team] })).body.data[0]
      .id as number;
    const named = (await access('POST', { end_user_ids: [gus, hal, fay] })).body.data as {
      id: number;
      end_user: { id: number };
    }[];
    const gusGrant = named.find((g) => g.end_user.id === gus)?.id;
    const halGrant = named.find((g) => g.end_user.id === hal)?.id;
    expect(await grants(fay)).toEqual([fayGrant, teamGrant]);
    expect(await grants(gus)).toEqual([teamGrant, gusGrant]);
    expect(await grants(hal)).toEqual([halGrant]);

    expect(
      (await access('DELETE', { end_user_ids: [gus], end_user_group_ids: [team] })).status,
    ).toBe(200);
    expect(await grants(fay)).toEqual([fayGrant]);
    expect(await grants(gus)).toBe('denied');
    expect(await grants(hal)).toEqual([halGrant]);
    // Granted again: a new grant, after the others.
    const again = (await access('POST', { end_user_group_ids: [team] })).body.data[0].id as number;
    expect(again).toBeGreaterThan(halGrant ?? Infinity);
    expect(await grants(fay)).toEqual([fayGrant, again]);
    expect(await grants(gus)).toEqual([again]);
  });

  it('sees a policy changed or deleted, a group deleted and a feature deleted at the next check', async () => {
    // Each of these reloads only the feature (or takes the group out) in the index, not the
    // whole end-user slice: the answers must be those of the rows as they are now.
    const dee = (
      await roster.post('/api/end_users', {
        name: 'Dee',
        email: 'dee@eu-access.example.com',
        environment_types: ['prod'],
      })
    ).body.data.id as number;
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Reloaded MCP',
      })
    ).body.data.id as number;
    await roster.post(`/api/features/${feature}/access`, { end_user_ids: [dee] });
    const reasons = async () => {
      const res = await check({
        subject: { end_user_id: dee },
        feature_id: feature,
        explain: true,
      });
      if (res.status !== 200) return res.status;
      const data = res.body.data as { allowed: boolean; paths: { via: string }[] };
      return `${data.allowed ? 'allowed' : 'denied'}: ${data.paths.map((p) => p.via).join(', ')}`;
    };
    expect(await reasons()).toBe('allowed: feature_grant');
    const policy = await roster.post('/api/policies', {
      name: 'Dee denied',
      environment_type: 'prod',
      feature_id: feature,
      scope: { type: 'users', ids: [dee] },
      effect: 'deny',
    });
    expect(policy.status).toBe(201);
    expect(await reasons()).toBe('denied: policy');
    const policyId = policy.body.data.id as number;
    expect(
      (await roster.request('PATCH', `/api/policies/${policyId}`, { body: { effect: 'allow' } }))
        .status,
    ).toBe(200);
    expect(await reasons()).toBe('allowed: policy, feature_grant');
    expect((await roster.delete(`/api/policies/${policyId}`)).status).toBe(204);
    expect(await reasons()).toBe('allowed: feature_grant');

    const group = (
      await roster.post('/api/end_user_groups', {
        environment_type: 'prod',
        name: 'Dee and co',
        end_user_ids: [dee],
      })
    ).body.data.id as number;
    const groupPolicy = await roster.post('/api/policies', {
      name: 'Dee and co denied',
      environment_type: 'prod',
      feature_id: feature,
      scope: { type: 'groups', ids: [group] },
      effect: 'deny',
    });
    expect(groupPolicy.status).toBe(201);
    expect(await reasons()).toBe('denied: policy');
    expect((await roster.delete(`/api/end_user_groups/${group}`)).status).toBe(204);
    expect(await reasons()).toBe('allowed: feature_grant');

    expect((await roster.delete(`/api/features/${feature}`)).status).toBe(204);
    expect(await reasons()).toBe(404);
  });

  it('explains access a user has only through an externally managed group', async () => {
    const res = await check({
      subject: { end_user_id: ada },
      feature_id: copilot,
      tool: 'search',
      explain: true,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        allowed: true,
        paths: [
          {
            outcome: 'grants',
            via: 'feature_grant',
            message:
              'ada@eu-access.example.com is a member of group "Directory Engineers" (managed externally, by the identity provider), which is granted feature "Copilot MCP" (tool search) in PROD.',
            steps: [
              { kind: 'end_user', id: ada, name: 'ada@eu-access.example.com' },
              { kind: 'end_user_group', id: directory, name: 'Directory Engineers' },
              {
                kind: 'feature_grant',
                id: expect.any(Number),
                name: 'Copilot MCP to Directory Engineers',
              },
              { kind: 'feature', id: copilot, name: 'Copilot MCP' },
              { kind: 'tool', id: null, name: 'search' },
            ],
          },
        ],
      },
    });
  });

  it('finds the user by email and answers without paths unless asked', async () => {
    const res = await check({
      subject: { email: 'ADA@eu-access.example.com' },
      feature_id: copilot,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { allowed: true, paths: [] } });
  });

  it('denies a user without access to the environment, and says so', async () => {
    const res = await check({ subject: { end_user_id: bob }, feature_id: copilot, explain: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        allowed: false,
        paths: [
          {
            outcome: 'denies',
            via: 'environment_access',
            message:
              'bob@eu-access.example.com has no access to the PROD environment, so feature "Copilot MCP" in PROD is denied.',
            steps: [
              { kind: 'end_user', id: bob, name: 'bob@eu-access.example.com' },
              { kind: 'environment', id: expect.any(Number), name: 'prod' },
              { kind: 'feature', id: copilot, name: 'Copilot MCP' },
            ],
          },
        ],
      },
    });
  });

  it('sees a deny policy on the tool at once, and the lock of the user over everything', async () => {
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Deploy MCP',
      })
    ).body.data.id;
    await roster.post(`/api/features/${feature}/access`, { end_user_group_ids: [directory] });
    const policy = await roster.post('/api/policies', {
      environment_type: 'prod',
      name: 'No deletes',
      feature_id: feature,
      tools: ['delete'],
      scope: { type: 'groups', ids: [directory] },
      effect: 'deny',
    });
    expect(policy.status).toBe(201);
    expect(
      (await check({ subject: { end_user_id: ada }, feature_id: feature, tool: 'list' })).body,
    ).toEqual({ data: { allowed: true, paths: [] } });
    const denied = await check({
      subject: { end_user_id: ada },
      feature_id: feature,
      tool: 'delete',
      explain: true,
    });
    expect(denied.body.data).toEqual({
      allowed: false,
      paths: [
        {
          outcome: 'denies',
          via: 'policy',
          message:
            'Policy "No deletes" applies to group "Directory Engineers" (managed externally, by the identity provider), which ada@eu-access.example.com is in; it denies feature "Deploy MCP" (tool delete) in PROD.',
          steps: [
            { kind: 'end_user', id: ada, name: 'ada@eu-access.example.com' },
            { kind: 'end_user_group', id: directory, name: 'Directory Engineers' },
            { kind: 'policy', id: policy.body.data.id, name: 'No deletes' },
            { kind: 'feature', id: feature, name: 'Deploy MCP' },
            { kind: 'tool', id: null, name: 'delete' },
          ],
        },
      ],
    });

    expect((await roster.post(`/api/end_users/${ada}/lock`)).status).toBe(200);
    const locked = await check({
      subject: { end_user_id: ada },
      feature_id: feature,
      tool: 'list',
      explain: true,
    });
    expect(locked.body.data).toEqual({
      allowed: false,
      paths: [
        {
          outcome: 'denies',
          via: 'lock',
          message:
            'ada@eu-access.example.com is locked: every call is denied until the user is unlocked.',
          steps: [
            { kind: 'end_user', id: ada, name: 'ada@eu-access.example.com' },
            { kind: 'feature', id: feature, name: 'Deploy MCP' },
            { kind: 'tool', id: null, name: 'list' },
          ],
        },
      ],
    });
    expect((await roster.post(`/api/end_users/${ada}/unlock`)).status).toBe(200);
    expect(
      (await check({ subject: { end_user_id: ada }, feature_id: feature, tool: 'list' })).body.data
        .allowed,
    ).toBe(true);
  });

  it('reports a require_approval policy without opening an approval request', async () => {
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Payments MCP',
      })
    ).body.data.id;
    await roster.post('/api/policies', {
      environment_type: 'prod',
      name: 'Payments need approval',
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const res = await check({ subject: { end_user_id: ada }, feature_id: feature, explain: true });
    expect(res.body.data).toEqual({
      allowed: false,
      paths: [
        {
          outcome: 'requires_approval',
          via: 'policy',
          message:
            'Policy "Payments need approval" applies to all users; it requires an approved request for feature "Payments MCP" in PROD (POST /api/end_users/decisions opens or uses one).',
          steps: [
            { kind: 'end_user', id: ada, name: 'ada@eu-access.example.com' },
            { kind: 'policy', id: expect.any(Number), name: 'Payments need approval' },
            { kind: 'feature', id: feature, name: 'Payments MCP' },
          ],
        },
      ],
    });
    const requests = await roster.get(`/api/approval_requests?feature_id=${feature}`);
    expect(requests.body.data).toEqual([]);
  });

  it('denies when nothing reaches the feature, naming the nearest miss', async () => {
    const feature = (
      await roster.post('/api/features', {
        environment_type: 'prod',
        kind: 'mcp_server',
        name: 'Unused MCP',
      })
    ).body.data.id;
    const res = await check({ subject: { end_user_id: ada }, feature_id: feature, explain: true });
    expect(res.body.data).toEqual({
      allowed: false,
      paths: [
        {
          outcome: 'no_access',
          via: 'none',
          message:
            'No policy or feature grant gives ada@eu-access.example.com feature "Unused MCP" in PROD: none to them directly, and none to any of their 2 groups.',
          steps: [
            { kind: 'end_user', id: ada, name: 'ada@eu-access.example.com' },
            { kind: 'feature', id: feature, name: 'Unused MCP' },
          ],
        },
      ],
    });
  });

  it('answers end-user checks in a batch, with errors in place', async () => {
    const res = await roster.post('/api/access/check_batch', {
      checks: [
        { subject: { end_user_id: ada }, environment_type: 'prod', feature_id: copilot },
        { subject: { end_user_id: 999999 }, environment_type: 'prod', feature_id: copilot },
        { subject: { end_user_id: ada }, environment_type: 'dev', feature_id: copilot },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        { allowed: true, paths: [] },
        { allowed: false, paths: [], error: { code: 'not_found', title: 'End user not found' } },
        {
          allowed: false,
          paths: [],
          error: {
            code: 'bad_request',
            title: 'Feature Copilot MCP is in the PROD environment, not DEV',
          },
        },
      ],
    });
  });

  it('returns 400 for an end-user check without an environment or with a member subject', async () => {
    const noEnvironment = await roster.post('/api/access/check', {
      subject: { end_user_id: ada },
      feature_id: copilot,
    });
    expect(noEnvironment.status).toBe(400);
    expect(noEnvironment.body).toEqual({
      errors: [{ code: 'bad_request', title: 'An end-user check needs environment_type' }],
    });
    const mixed = await check({ subject: { member_id: 1 }, feature_id: copilot });
    expect(mixed.status).toBe(400);
    expect(mixed.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title:
            'A feature check is about an end user: give subject.end_user_id or subject.email, not member_id',
        },
      ],
    });
    const noPrivilege = await check({ subject: { member_id: 1 }, project_id: 1 });
    expect(noPrivilege.status).toBe(400);
    expect(noPrivilege.body).toEqual({
      errors: [
        {
          code: 'bad_request',
          title: 'Give resource and privilege (or feature_id for an end user)',
        },
      ],
    });
  });

  it('answers POST /api/end_users/decisions from the same index after a group change', async () => {
    const carl = (
      await roster.post('/api/end_users', {
        name: 'Carl',
        email: 'carl@eu-access.example.com',
        environment_types: ['prod'],
      })
    ).body.data.id;
    const before = await roster.post('/api/end_users/decisions', {
      end_user_id: carl,
      environment_type: 'prod',
      feature_id: copilot,
    });
    expect(before.body.data.decision).toBe('deny');
    expect(
      (await roster.post(`/api/end_user_groups/${directory}/members`, { end_user_ids: [carl] }))
        .status,
    ).toBeLessThan(300);
    const after = await roster.post('/api/end_users/decisions', {
      end_user_id: carl,
      environment_type: 'prod',
      feature_id: copilot,
    });
    expect(after.body.data).toEqual({
      decision: 'allow',
      reasons: [
        {
          type: 'feature_grant',
          message: 'Feature "Copilot MCP" is granted to group Directory Engineers',
          grant_id: expect.any(Number),
          group: { id: directory, name: 'Directory Engineers' },
        },
      ],
      approval_request_id: null,
    });
  });
});
