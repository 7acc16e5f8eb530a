/**
 * What Microsoft Entra ID sends (its provisioning service and the SCIM validator): capitalised
 * ops, "True"/"False" strings, PATCH without path carrying dotted keys, the enterprise manager
 * given as a bare id, membership checks by filter, member removal by value, and DELETE to
 * deprovision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient } from './helpers.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function entraUser(upn: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER, ENTERPRISE],
    externalId: upn.split('@')[0],
    userName: upn,
    active: true,
    displayName: upn.split('@')[0],
    emails: [{ primary: true, type: 'work', value: upn }],
    name: { formatted: 'Given Family', familyName: 'Family', givenName: 'Given' },
    [ENTERPRISE]: { employeeNumber: '701984', department: 'Tour Operations' },
    ...extra,
  };
}

describe('Microsoft Entra ID provisioning sequences', () => {
  let roster: Roster;
  let scim: ScimClient;
  beforeAll(async () => {
    roster = await startRoster();
    scim = scimClient(roster, await createConnection(roster));
  });
  afterAll(async () => {
    await roster.close();
  });

  it('provisions a user found by a lookup on userName, with the enterprise extension', async () => {
    const lookup = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent("userName eq 'x'")}`,
    );
    expect(lookup.status).toBe(400);
    expect(lookup.body.scimType).toBe('invalidFilter');
    const empty = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent('userName eq "Test_User_dfeef4c5@contoso.com"')}`,
    );
    expect(empty.body.totalResults).toBe(0);
    const created = await scim.request(
      'POST',
      '/Users',
      entraUser('Test_User_dfeef4c5@contoso.com'),
    );
    expect(created.status).toBe(201);
    expect(created.body.schemas).toEqual([USER, ENTERPRISE]);
    expect(created.body[ENTERPRISE]).toEqual({
      employeeNumber: '701984',
      department: 'Tour Operations',
    });
    const byDepartment = await scim.request(
      'GET',
      `/Users?filter=${encodeURIComponent(`${ENTERPRISE}:department eq "tour operations"`)}`,
    );
    expect(byDepartment.body.Resources.map((r: { id: string }) => r.id)).toEqual([created.body.id]);
  });

  it('applies capitalised ops, "False" strings, dotted keys without path and the manager extension path', async () => {
    const manager = await scim.request('POST', '/Users', entraUser('boss@contoso.com'));
    const user = await scim.request('POST', '/Users', entraUser('worker@contoso.com'));
    const id = user.body.id as string;
    const patched = await scim.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Worker Bee' },
        {
          op: 'Add',
          value: { 'name.givenName': 'Wanda', 'name.familyName': 'Worker', title: 'Engineer' },
        },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'wanda@contoso.com' },
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.body.id },
        { op: 'Replace', path: 'active', value: 'False' },
      ],
    });
    expect(patched.status).toBe(204);
    const after = await scim.request('GET', `/Users/${id}`);
    expect(after.body).toMatchObject({
      displayName: 'Worker Bee',
      name: { givenName: 'Wanda', familyName: 'Worker', formatted: 'Given Family' },
      title: 'Engineer',
      emails: [{ primary: true, type: 'work', value: 'wanda@contoso.com' }],
      active: false,
      [ENTERPRISE]: {
        employeeNumber: '701984',
        department: 'Tour Operations',
        manager: { value: manager.body.id },
      },
      meta: { version: 'W/"2"' },
    });
    expect((await roster.get(`/api/end_users/${id}`)).body.data).toMatchObject({
      name: 'Worker Bee',
      status: 'deactivated',
    });

    const removeManager = await scim.request('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Remove', path: `${ENTERPRISE}:manager` },
        { op: 'Replace', path: 'active', value: 'True' },
      ],
    });
    expect(removeManager.status).toBe(204);
    const cleared = await scim.request('GET', `/Users/${id}`);
    expect(cleared.body[ENTERPRISE].manager).toBeUndefined();
    expect(cleared.body.active).toBe(true);
  });

  it('answers 400 with a SCIM error for an unknown op and a read-only path', async () => {
    const user = await scim.request('POST', '/Users', entraUser('ops@contoso.com'));
    const badOp = await scim.request('PATCH', `/Users/${user.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Move', path: 'title', value: 'x' }],
    });
    expect(badOp.status).toBe(400);
    expect(badOp.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidSyntax',
      detail: 'Unknown PATCH op "Move": use add, remove or replace',
    });
    const readOnly = await scim.request('PATCH', `/Users/${user.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'groups', value: [{ value: '1' }] }],
    });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body.scimType).toBe('mutability');
  });

  it('checks membership by filter, adds and removes members by value, and deprovisions with DELETE', async () => {
    const a = (await scim.request('POST', '/Users', entraUser('m.a@contoso.com'))).body
      .id as string;
    const b = (await scim.request('POST', '/Users', entraUser('m.b@contoso.com'))).body
      .id as string;
    const group = await scim.request('POST', '/Groups', {
      schemas: [GROUP],
      externalId: 'e-1',
      displayName: 'Sales',
      members: [{ value: a }],
    });
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    const check = (member: string) =>
      scim.request(
        'GET',
        `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`id eq "${groupId}" and members eq "${member}"`)}`,
      );
    expect((await check(a)).body).toMatchObject({
      totalResults: 1,
      Resources: [{ id: groupId, displayName: 'Sales', externalId: 'e-1' }],
    });
    expect((await check(a)).body.Resources[0].members).toBeUndefined();
    expect((await check(b)).body.totalResults).toBe(0);

    const add = await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ value: b }] }],
    });
    expect(add.status).toBe(204);
    expect((await check(b)).body.totalResults).toBe(1);
    const remove = await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: a }] }],
    });
    expect(remove.status).toBe(204);
    expect((await check(a)).body.totalResults).toBe(0);

    const deleted = await scim.request('DELETE', `/Users/${b}`);
    expect(deleted.status).toBe(204);
    expect((await scim.request('GET', `/Users/${b}`)).status).toBe(404);
    expect((await roster.get(`/api/end_users/${b}`)).status).toBe(404);
    expect((await scim.request('GET', `/Groups/${groupId}`)).body.members).toEqual([]);
    const events = await roster.get(
      `/api/audit_events?actor_type=scim_connection&target_id=${b}&target_type=end_user`,
    );
    expect(events.body.data.map((e: { action: string }) => e.action)).toEqual([
      'end_user.deleted',
      'end_user.created',
    ]);
  });
});
