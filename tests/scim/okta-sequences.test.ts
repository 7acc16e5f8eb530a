/**
 * The request sequences Okta documents (okta-scim-20-reference.md): user import match, create,
 * update by PUT, deactivation by PATCH active=false (Okta never DELETEs users), reactivation,
 * and group push (create, membership PATCHes, rename, full replace, unlink with delete).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient } from './helpers.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function oktaUser(email: string, given: string) {
  return {
    schemas: [USER],
    userName: email,
    name: { givenName: given, familyName: 'User' },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: `${given} User`,
    locale: 'en-US',
    externalId: `00u${given}`,
    groups: [],
    password: '1mz050nq',
    active: true,
  };
}

describe('Okta provisioning sequences', () => {
  let roster: Roster;
  let scim: ScimClient;
  beforeAll(async () => {
    roster = await startRoster();
    scim = scimClient(roster, await createConnection(roster, 'prod'));
  });
  afterAll(async () => {
    await roster.close();
  });

  it('creates a user after a userName lookup finds nothing, and finds it case-insensitively after', async () => {
    const lookup = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "test.user@okta.local"')}&startIndex=1&count=100`,
    );
    expect(lookup.status).toBe(200);
    expect(lookup.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
    const created = await scim.request('POST', '/Users', oktaUser('test.user@okta.local', 'Test'));
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/scim+json; charset=utf-8');
    expect(created.headers.get('etag')).toBe('W/"1"');
    expect(created.headers.get('location')).toBe(created.body.meta.location);
    expect(created.body).toMatchObject({
      schemas: [USER],
      userName: 'test.user@okta.local',
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00uTest',
      active: true,
      groups: [],
      meta: { resourceType: 'User', version: 'W/"1"' },
    });
    expect(created.body.password).toBeUndefined();

    const upper = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "TEST.USER@OKTA.LOCAL"')}`,
    );
    expect(upper.body.totalResults).toBe(1);
    expect(upper.body.Resources[0].id).toBe(created.body.id);

    // The end user exists in the workspace API at once, with access to the connection's environment.
    const endUser = await roster.get(`/api/end_users/${created.body.id}`);
    expect(endUser.status).toBe(200);
    expect(endUser.body.data).toMatchObject({
      name: 'Test User',
      email: 'test.user@okta.local',
      external_id: '00uTest',
      status: 'active',
      source: 'scim',
      environment_types: ['prod'],
    });
  });

  it('answers 409 uniqueness when the same userName is created again, in any case', async () => {
    const again = await scim.request('POST', '/Users', oktaUser('Test.User@okta.local', 'Test'));
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '409',
      scimType: 'uniqueness',
      detail: 'A user with userName Test.User@okta.local already exists',
    });
  });

  it('updates by GET then PUT, deactivates with PATCH active=false and reactivates', async () => {
    const user = await scim.request('POST', '/Users', oktaUser('ann@okta.local', 'Ann'));
    const id = user.body.id as string;
    const fetched = await scim.request('GET', `/Users/${id}`);
    const put = await scim.request('PUT', `/Users/${id}`, {
      ...fetched.body,
      name: { givenName: 'Another', middleName: 'Excited', familyName: 'User' },
    });
    expect(put.status).toBe(200);
    expect(put.body.name).toEqual({
      givenName: 'Another',
      middleName: 'Excited',
      familyName: 'User',
    });
    expect(put.body.meta.version).toBe('W/"2"');

    const deactivate = await scim.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    expect(deactivate.status).toBe(204);
    const inactive = await scim.request('GET', `/Users/${id}`);
    expect(inactive.body.active).toBe(false);
    // Deactivated, not deleted: the end user is kept with status deactivated.
    const endUser = await roster.get(`/api/end_users/${id}`);
    expect(endUser.body.data.status).toBe('deactivated');
    const byStatus = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent('active eq false')}`,
    );
    expect(byStatus.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);

    const reactivate = await scim.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    expect(reactivate.status).toBe(204);
    expect((await roster.get(`/api/end_users/${id}`)).body.data.status).toBe('active');

    const actions = await roster.get(`/api/audit_events?target_type=end_user&target_id=${id}`);
    expect(actions.body.data.map((e: { action: string }) => e.action)).toEqual([
      'end_user.reactivated',
      'end_user.deactivated',
      'end_user.updated',
      'end_user.created',
    ]);
    expect(actions.body.data[0].actor).toMatchObject({ type: 'scim_connection' });
  });

  it('pushes a group: create empty, add and remove members, rename, replace, delete', async () => {
    const a = (await scim.request('POST', '/Users', oktaUser('push.a@okta.local', 'PushA'))).body
      .id as string;
    const b = (await scim.request('POST', '/Users', oktaUser('push.b@okta.local', 'PushB'))).body
      .id as string;
    const created = await scim.request('POST', '/Groups', {
      schemas: [GROUP],
      displayName: 'Test SCIMv2',
      members: [],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      schemas: [GROUP],
      displayName: 'Test SCIMv2',
      members: [],
      meta: { resourceType: 'Group' },
    });
    const groupId = created.body.id as string;

    const byName = await scim.request(
      'GET',
      `/Groups?filter=${encodeURIComponent('displayName eq "test scimv2"')}&startIndex=1&count=100`,
    );
    expect(byName.body.Resources.map((g: { id: string }) => g.id)).toEqual([groupId]);

    const add = await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'remove', path: `members[value eq "${b}"]` },
        {
          op: 'add',
          path: 'members',
          value: [
            { value: a, display: 'push.a@okta.local' },
            { value: b, display: 'push.b@okta.local' },
          ],
        },
      ],
    });
    expect(add.status).toBe(204);
    const group = await roster.get(`/api/end_user_groups/${groupId}`);
    expect(group.body.data).toMatchObject({
      name: 'Test SCIMv2',
      managed_by: 'external',
      users_count: 2,
      environment_type: 'prod',
    });
    const members = await roster.get(`/api/end_user_groups/${groupId}/members`);
    expect(
      members.body.data.map((m: { id: number; source: string }) => [String(m.id), m.source]),
    ).toEqual([
      [a, 'external'],
      [b, 'external'],
    ]);

    const removeOne = await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${a}"]` }],
    });
    expect(removeOne.status).toBe(204);
    const rename = await scim.request(
      'PATCH',
      `/Groups/${groupId}?attributes=displayName,members`,
      {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { id: groupId, displayName: 'Test SCIMv20' } }],
      },
    );
    expect(rename.status).toBe(200);
    expect(rename.body).toEqual({
      schemas: [GROUP],
      id: groupId,
      displayName: 'Test SCIMv20',
      members: [
        {
          value: b,
          display: 'PushB User',
          $ref: `http://roster.test${scim.base}/Users/${b}`,
          type: 'User',
        },
      ],
    });
    // The user sees its groups (read-only attribute).
    expect((await scim.request('GET', `/Users/${b}`)).body.groups).toEqual([
      {
        value: groupId,
        display: 'Test SCIMv20',
        $ref: `http://roster.test${scim.base}/Groups/${groupId}`,
        type: 'direct',
      },
    ]);

    const replace = await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'members', value: [{ value: a }] }],
    });
    expect(replace.status).toBe(204);
    const after = await scim.request('GET', `/Groups/${groupId}`);
    expect(after.body.members.map((m: { value: string }) => m.value)).toEqual([a]);

    const removed = await scim.request('DELETE', `/Groups/${groupId}`);
    expect(removed.status).toBe(204);
    expect((await roster.get(`/api/end_user_groups/${groupId}`)).status).toBe(404);
    expect((await scim.request('GET', `/Groups/${groupId}`)).status).toBe(404);
    // Users stay.
    expect((await roster.get(`/api/end_users/${a}`)).status).toBe(200);
  });

  it('pages users with startIndex and count, in a stable order', async () => {
    const all = await scim.request('GET', '/Users?startIndex=1&count=100');
    const total = all.body.totalResults as number;
    expect(total).toBeGreaterThanOrEqual(4);
    const page = await scim.request('GET', '/Users?startIndex=2&count=2');
    expect(page.body).toMatchObject({ totalResults: total, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual(
      all.body.Resources.slice(1, 3).map((r: { id: string }) => r.id),
    );
    const none = await scim.request('GET', '/Users?count=0');
    expect(none.body).toMatchObject({ totalResults: total, itemsPerPage: 0, Resources: [] });
  });
});
