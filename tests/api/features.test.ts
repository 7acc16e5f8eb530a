/**
 * Features and their grants: registration per environment, CRUD, granting and revoking access
 * for users and groups, listing grants, and workspace isolation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let devUser: number;
let prodUser: number;
let devGroup: number;
let prodGroup: number;

beforeAll(async () => {
  roster = await startRoster();
  // Typed by the operations table (@roster/contracts operations.ts): roster.call sends the
  // operation's method and path, and a body of the wrong shape does not compile.
  const user = async (name: string, email: string, environment: string) =>
    (
      await roster.call('createEndUser', {
        body: { name, email, environment_types: [environment] },
      })
    ).body.data.id;
  const group = async (environment: string, name: string, member: number) =>
    (
      await roster.call('createEndUserGroup', {
        body: { environment_type: environment, name, end_user_ids: [member] },
      })
    ).body.data.id;
  devUser = await user('Dev', 'dev@features.example.com', 'dev');
  prodUser = await user('Prod', 'prod@features.example.com', 'prod');
  devGroup = await group('dev', 'Dev team', devUser);
  prodGroup = await group('prod', 'Prod team', prodUser);
});
afterAll(async () => {
  await roster.close();
});

const error = (title: string) => ({ errors: [{ code: 'bad_request', title }] });

describe('POST /api/features', () => {
  it('registers a feature of each kind', async () => {
    for (const kind of ['assistant', 'chat_app', 'mcp_server', 'apps_portal'] as const) {
      const res = await roster.call('createFeature', {
        body: { environment_type: 'dev', kind, name: `A ${kind}` },
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        data: {
          id: expect.any(Number),
          name: `A ${kind}`,
          kind,
          description: null,
          environment_type: 'dev',
          created_at: expect.any(String),
          updated_at: expect.any(String),
        },
      });
    }
    const events = await roster.call('listAuditEvents', { query: { action: 'feature.created' } });
    expect(events.body.total).toBe(4);
  });

  it('returns 400 for an unknown kind, a blank name, a taken name or an unknown environment', async () => {
    const kind = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'toaster',
      name: 'T',
    });
    expect(kind.status).toBe(400);
    expect(kind.body.errors[0].title).toMatch(/^kind /);
    expect(
      (
        await roster.call('createFeature', {
          body: {
            environment_type: 'dev',
            kind: 'assistant',
            name: ' ',
          },
        })
      ).body,
    ).toEqual(error("Name can't be blank"));
    const taken = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'chat_app',
        name: 'a ASSISTANT',
      },
    });
    expect(taken.body).toEqual(error('Name has already been taken in this environment'));
    expect(
      (
        await roster.call('createFeature', {
          body: {
            environment_type: 'prod',
            kind: 'assistant',
            name: 'A assistant',
          },
        })
      ).status,
    ).toBe(201);
    const env = await roster.call('createFeature', {
      body: {
        environment_type: 'qa',
        kind: 'assistant',
        name: 'Q',
      },
    });
    expect(env.body).toEqual(error('Environment qa not found'));
  });
});

describe('GET, PUT and DELETE /api/features/:id', () => {
  it('lists with filters, gets, renames and deletes', async () => {
    const created = await roster.call('createFeature', {
      body: {
        environment_type: 'test',
        kind: 'mcp_server',
        name: 'Ticket MCP',
      },
    });
    const id = created.body.data.id;
    const list = await roster.call('listFeatures', {
      query: { environment_type: 'test', kind: 'mcp_server' },
    });
    expect(list.body).toEqual({
      data: [{ ...created.body.data, policy_count: 0 }],
      total: 1,
      page: { number: 1, size: 100 },
    });
    expect((await roster.call('getFeature', { params: { id: id } })).body).toEqual(created.body);

    const renamed = await roster.call('updateFeature', {
      params: { id: id },
      body: {
        name: 'Tickets MCP',
        description: 'Jira tools',
      },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({
      id,
      name: 'Tickets MCP',
      description: 'Jira tools',
      kind: 'mcp_server',
    });

    const deleted = await roster.call('deleteFeature', { params: { id: id } });
    expect(deleted.status).toBe(204);
    const gone = await roster.call('getFeature', { params: { id: id } });
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ errors: [{ code: 'not_found', title: 'Feature not found' }] });
  });

  it('searches the list by name (contains, any case, wildcards as text) and counts each feature’s policies', async () => {
    const make = async (name: string) =>
      (
        await roster.call('createFeature', {
          body: { environment_type: 'prod', kind: 'chat_app', name },
        })
      ).body.data.id;
    const billing = await make('Billing Copilot');
    const refunds = await make('Refunds copilot');
    await make('100% Search');
    await make('Search 100');
    for (const name of ['First', 'Second'])
      expect(
        (
          await roster.call('createPolicy', {
            body: {
              name,
              environment_type: 'prod',
              feature_id: billing,
              scope: { type: 'all' },
              effect: 'allow',
            },
          })
        ).status,
      ).toBeLessThan(300);
    const named = async (name: string) =>
      (
        await roster.call('listFeatures', {
          query: { environment_type: 'prod', kind: 'chat_app', name },
        })
      ).body;
    const copilots = await named('COPILOT');
    expect(copilots.total).toBe(2);
    expect(copilots.data.map((f: { id: number }) => f.id)).toEqual([billing, refunds]);
    expect(copilots.data.map((f: { policy_count: number }) => f.policy_count)).toEqual([2, 0]);
    // `%` is a character to find, not LIKE's wildcard.
    const percent = await named('0%');
    expect(percent.data.map((f: { name: string }) => f.name)).toEqual(['100% Search']);
    expect((await named('nothing like it')).total).toBe(0);
    // A page of a search: its total is the search's.
    const paged = await roster.call('listFeatures', {
      query: { environment_type: 'prod', name: 'copilot', 'page[size]': 1, 'page[number]': 2 },
    });
    expect(paged.body.total).toBe(2);
    expect(paged.body.data.map((f: { id: number }) => f.id)).toEqual([refunds]);
    const tooLong = await roster.get(`/api/features?name=${'x'.repeat(201)}`);
    expect(tooLong.status).toBe(400);
  });

  it('deletes the feature’s policies and grants with it', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'Short-lived',
      },
    });
    const id = feature.body.data.id;
    await roster.call('grantFeatureAccess', {
      params: { id: id },
      body: { end_user_ids: [devUser] },
    });
    const policy = await roster.call('createPolicy', {
      body: {
        name: 'Short',
        environment_type: 'dev',
        feature_id: id,
        scope: { type: 'all' },
        effect: 'allow',
      },
    });
    await roster.call('deleteFeature', { params: { id: id } });
    expect((await roster.call('getPolicy', { params: { id: policy.body.data.id } })).status).toBe(
      404,
    );
    const events = await roster.call('listAuditEvents', {
      query: { action: 'feature.deleted', target_id: String(id) },
    });
    expect(events.body.data[0]?.before).toMatchObject({
      name: 'Short-lived',
      grants: 1,
      policies: [{ id: policy.body.data.id, name: 'Short' }],
    });
  });
});

describe('feature access', () => {
  it('grants users and groups, lists the grants, and revokes them', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'chat_app',
        name: 'Team chat',
      },
    });
    const id = feature.body.data.id;
    const granted = await roster.call('grantFeatureAccess', {
      params: { id: id },
      body: {
        end_user_ids: [devUser],
        end_user_group_ids: [devGroup],
      },
    });
    expect(granted.status).toBe(200);
    expect(granted.body).toEqual({
      data: [
        {
          id: expect.any(Number),
          type: 'end_user',
          end_user: { id: devUser, name: 'Dev', email: 'dev@features.example.com' },
          end_user_group: null,
          created_at: expect.any(String),
        },
        {
          id: expect.any(Number),
          type: 'end_user_group',
          end_user: null,
          end_user_group: { id: devGroup, name: 'Dev team', system: false },
          created_at: expect.any(String),
        },
      ],
    });
    // Granting again changes nothing, and answers the grant the request named.
    const again = await roster.call('grantFeatureAccess', {
      params: { id: id },
      body: { end_user_ids: [devUser] },
    });
    expect(again.body.data).toEqual([granted.body.data[0]]);
    expect((await roster.call('listFeatureAccess', { params: { id: id } })).body).toEqual({
      data: granted.body.data,
      total: 2,
      page: { number: 1, size: 100 },
    });

    // A revocation answers the grants it removed.
    const revoked = await roster.call('revokeFeatureAccess', {
      params: { id },
      body: { end_user_ids: [devUser] },
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body.data).toEqual([granted.body.data[0]]);
    expect(
      (await roster.call('listFeatureAccess', { params: { id } })).body.data.map((g) => g.type),
    ).toEqual(['end_user_group']);
    const actions = (
      await roster.call('listAuditEvents', {
        query: { target_type: 'feature', target_id: String(id) },
      })
    ).body.data.map((e) => e.action);
    expect(actions).toEqual([
      'feature.access_revoked',
      'feature.access_granted',
      'feature.access_granted',
      'feature.created',
    ]);
  });

  it('pages the grants, and answers a grant or revocation with the grants it named only', async () => {
    const feature = await roster.call('createFeature', {
      body: { environment_type: 'dev', kind: 'assistant', name: 'Paged grants' },
    });
    const id = feature.body.data.id;
    const users: number[] = [];
    for (const n of [1, 2, 3, 4, 5])
      users.push(
        (
          await roster.call('createEndUser', {
            body: {
              name: `Paged ${n}`,
              email: `paged${n}@features.example.com`,
              environment_types: ['dev'],
            },
          })
        ).body.data.id,
      );
    for (const user of users)
      await roster.call('grantFeatureAccess', { params: { id }, body: { end_user_ids: [user] } });
    const named = await roster.call('grantFeatureAccess', {
      params: { id },
      body: { end_user_ids: [users[4]!], end_user_group_ids: [devGroup] },
    });
    expect(named.status).toBe(200);
    // The user granted before and the group granted now: not the feature's other four grants.
    expect(named.body.data.map((g) => g.end_user?.id ?? g.end_user_group?.id)).toEqual([
      users[4],
      devGroup,
    ]);

    const page = (number: number) =>
      roster.call('listFeatureAccess', {
        params: { id },
        query: { 'page[number]': number, 'page[size]': 2 },
      });
    const pages = await Promise.all([1, 2, 3, 4].map(page));
    expect(pages.map((p) => p.body.total)).toEqual([6, 6, 6, 6]);
    expect(pages.map((p) => p.body.page)).toEqual(
      [1, 2, 3, 4].map((n) => ({ number: n, size: 2 })),
    );
    // Oldest first, each grant on one page only.
    expect(
      pages.flatMap((p) => p.body.data.map((g) => g.end_user?.id ?? g.end_user_group?.id)),
    ).toEqual([...users, devGroup]);
    expect(
      (await roster.get(`/api/features/${id}/access?page[size]=101`)).body.errors[0].title,
    ).toMatch(/page\[size\]/);

    // Revoking someone without a grant removes nothing, answers nothing and records nothing.
    const before = (
      await roster.call('listAuditEvents', {
        query: { target_type: 'feature', target_id: String(id) },
      })
    ).body.total;
    const nothing = await roster.call('revokeFeatureAccess', {
      params: { id },
      body: { end_user_ids: [devUser] },
    });
    expect(nothing.body).toEqual({ data: [] });
    const revoked = await roster.call('revokeFeatureAccess', {
      params: { id },
      body: { end_user_ids: [users[0]!, devUser], end_user_group_ids: [devGroup] },
    });
    expect(revoked.body.data.map((g) => g.end_user?.id ?? g.end_user_group?.id)).toEqual([
      users[0],
      devGroup,
    ]);
    const after = await roster.call('listAuditEvents', {
      query: { target_type: 'feature', target_id: String(id) },
    });
    expect(after.body.total).toBe(before + 1);
    expect(after.body.data[0]?.action).toBe('feature.access_revoked');
    expect((await page(1)).body.total).toBe(4);
  });

  it('grants to Everyone', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'prod',
        kind: 'apps_portal',
        name: 'Portal',
      },
    });
    const everyone = (
      await roster.call('listEndUserGroups', {
        query: { environment_type: 'prod', name: 'everyone' },
      })
    ).body.data[0]!;
    const res = await roster.call('grantFeatureAccess', {
      params: { id: feature.body.data.id },
      body: {
        end_user_group_ids: [everyone.id],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.data[0]?.end_user_group).toEqual({
      id: everyone.id,
      name: 'Everyone',
      system: true,
    });
    const decision = await roster.call('decide', {
      body: { end_user_id: prodUser, environment_type: 'prod', feature_id: feature.body.data.id },
    });
    expect(decision.body.data.decision).toBe('allow');
  });

  it('returns 400 when a user or group is outside the feature’s environment', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'Env check',
      },
    });
    const id = feature.body.data.id;
    const user = await roster.call('grantFeatureAccess', {
      params: { id: id },
      body: { end_user_ids: [prodUser] },
    });
    expect(user.status).toBe(400);
    expect(user.body).toEqual(
      error(
        'End users without access to the DEV environment can’t get access to its features: prod@features.example.com',
      ),
    );
    const group = await roster.call('grantFeatureAccess', {
      params: { id: id },
      body: {
        end_user_group_ids: [prodGroup],
      },
    });
    expect(group.body).toEqual(
      error('Groups of another environment can’t get access to a DEV feature: Prod team'),
    );
    expect((await roster.call('listFeatureAccess', { params: { id: id } })).body.data).toEqual([]);
  });

  it('returns 400 when no grantee or an unknown one is given', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'Grantee check',
      },
    });
    const id = feature.body.data.id;
    expect(
      (await roster.call('grantFeatureAccess', { params: { id: id }, body: {} })).body,
    ).toEqual(error('Give end_user_ids or end_user_group_ids'));
    expect(
      (
        await roster.call('grantFeatureAccess', {
          params: { id: id },
          body: { end_user_ids: [424242] },
        })
      ).body,
    ).toEqual(error('End users not found: 424242'));
    expect(
      (
        await roster.call('grantFeatureAccess', {
          params: { id: id },
          body: { end_user_group_ids: [424242] },
        })
      ).body,
    ).toEqual(error('End-user groups not found: 424242'));
  });
});

describe('workspace isolation', () => {
  it('keeps features and grants invisible to another workspace', async () => {
    const feature = await roster.call('createFeature', {
      body: {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'Private assistant',
      },
    });
    const id = feature.body.data.id;
    const created = await roster.call('createWorkspace', {
      body: { name: 'Neighbour' },
      token: PLATFORM_TOKEN,
    });
    const token = created.body.data.admin_token;
    expect((await roster.call('listFeatures', { token })).body).toEqual({
      data: [],
      total: 0,
      page: { number: 1, size: 100 },
    });
    expect((await roster.call('getFeature', { params: { id }, token })).status).toBe(404);
    expect((await roster.call('listFeatureAccess', { params: { id }, token })).status).toBe(404);
    expect(
      (
        await roster.call('grantFeatureAccess', {
          params: { id },
          body: { end_user_ids: [devUser] },
          token,
        })
      ).status,
    ).toBe(404);
    expect((await roster.call('deleteFeature', { params: { id }, token })).status).toBe(404);
    expect((await roster.call('getFeature', { params: { id: id } })).status).toBe(200);
  });
});
