/**
 * Filters, projections, versions, concurrency, the drift rule for externally managed groups,
 * and real time: what a SCIM write changes is what the next API read and decision see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient } from './helpers.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const q = (filter: string) => `/Users?filter=${encodeURIComponent(filter)}`;

describe('SCIM behaviour', () => {
  let roster: Roster;
  let scim: ScimClient;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    roster = await startRoster();
    scim = scimClient(roster, await createConnection(roster));
    const people = [
      ['alice@example.com', 'Alice', 'Anders', 'alice@home.org', true],
      ['bob@example.com', 'Bob', 'Berg', 'bob@home.net', true],
      ['carol@example.org', 'Carol', 'Anders', 'carol@home.org', false],
    ] as const;
    for (const [userName, given, family, home, active] of people) {
      const created = await scim.request('POST', '/Users', {
        userName,
        name: { givenName: given, familyName: family },
        emails: [
          { value: userName, type: 'work', primary: true },
          { value: home, type: 'home' },
        ],
        active,
      });
      ids[given] = created.body.id;
    }
  });
  afterAll(async () => {
    await roster.close();
  });

  async function found(filter: string): Promise<string[]> {
    const response = await scim.request('GET', q(filter));
    expect(response.status).toBe(200);
    return response.body.Resources.map((r: { id: string }) => r.id);
  }

  it('supports every comparison operator and and/or/not with grouping', async () => {
    expect(await found('name.familyName eq "anders"')).toEqual([ids.Alice, ids.Carol]);
    expect(await found('name.familyName ne "Anders"')).toEqual([ids.Bob]);
    expect(await found('userName co "EXAMPLE"')).toEqual([ids.Alice, ids.Bob, ids.Carol]);
    expect(await found('userName sw "b"')).toEqual([ids.Bob]);
    expect(await found('userName ew ".org"')).toEqual([ids.Carol]);
    expect(await found('userName gt "bob@example.com"')).toEqual([ids.Carol]);
    expect(await found('userName le "bob@example.com"')).toEqual([ids.Alice, ids.Bob]);
    expect(await found('emails.value eq "bob@home.net"')).toEqual([ids.Bob]);
    expect(await found('emails[value ew ".org"]')).toEqual([ids.Alice, ids.Carol]);
    expect(
      await found('name.familyName eq "Anders" and (emails co "home.org" or emails co "nothing")'),
    ).toEqual([ids.Alice, ids.Carol]);
    expect(await found('not (name.familyName eq "Anders") or active eq false')).toEqual([
      ids.Bob,
      ids.Carol,
    ]);
    expect(await found('displayName pr')).toEqual([]);
    expect(await found('externalId pr or name.givenName pr')).toEqual([
      ids.Alice,
      ids.Bob,
      ids.Carol,
    ]);
    expect(await found(`id eq "${ids.Bob}"`)).toEqual([ids.Bob]);
    expect(
      await found(
        'meta.lastModified gt "2000-01-01T00:00:00Z" and meta.created le "2999-01-01T00:00:00Z"',
      ),
    ).toEqual([ids.Alice, ids.Bob, ids.Carol]);
  });

  it('answers 400 invalidFilter for bad syntax and unsupported attributes', async () => {
    const bad = await scim.request('GET', q('userName eq'));
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe('invalidFilter');
    const unknown = await scim.request('GET', q('shoeSize gt 42'));
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '400',
      scimType: 'invalidFilter',
      detail: 'Unknown attribute in filter: shoeSize',
    });
  });

  it('projects attributes and excludedAttributes, keeping id and schemas', async () => {
    const only = await scim.request(
      'GET',
      `/Users/${ids.Alice}?attributes=userName,name.givenName`,
    );
    expect(only.body).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id: ids.Alice,
      userName: 'alice@example.com',
      name: { givenName: 'Alice' },
    });
    const without = await scim.request(
      'GET',
      `/Users/${ids.Alice}?excludedAttributes=emails,groups,meta`,
    );
    expect(without.body.emails).toBeUndefined();
    expect(without.body.groups).toBeUndefined();
    expect(without.body.userName).toBe('alice@example.com');
    const search = await scim.request('POST', '/Users/.search', {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
      filter: 'userName sw "a"',
      attributes: ['userName'],
      count: 10,
    });
    expect(search.status).toBe(200);
    expect(search.body.Resources).toEqual([
      {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        id: ids.Alice,
        userName: 'alice@example.com',
      },
    ]);
  });

  it('answers 412 when If-Match names an old version, and applies a write with the current one', async () => {
    const current = await scim.request('GET', `/Users/${ids.Bob}`);
    const etag = current.headers.get('etag') ?? '';
    expect(etag).toBe(current.body.meta.version);
    const body = { ...current.body, title: 'Captain' };
    const ok = await scim.request('PUT', `/Users/${ids.Bob}`, body, { 'if-match': etag });
    expect(ok.status).toBe(200);
    const stale = await scim.request('PUT', `/Users/${ids.Bob}`, body, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: '412' });
    const stalePatch = await scim.request(
      'PATCH',
      `/Users/${ids.Bob}`,
      { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'x' }] },
      { 'if-match': etag },
    );
    expect(stalePatch.status).toBe(412);
  });

  it('loses no member when 20 PATCHes add different members to one group at once, and a retry is harmless', async () => {
    const users: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      users.push(
        (await scim.request('POST', '/Users', { userName: `parallel${i}@example.com` })).body.id,
      );
    }
    const group = await scim.request('POST', '/Groups', { displayName: 'Parallel', members: [] });
    const add = (id: string) =>
      scim.request('PATCH', `/Groups/${group.body.id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
      });
    const answers = await Promise.all(users.map(add));
    expect(answers.map((a) => a.status)).toEqual(users.map(() => 204));
    const retried = await add(users[0] as string);
    expect(retried.status).toBe(204);
    const after = await scim.request('GET', `/Groups/${group.body.id}`);
    expect(after.body.members.map((m: { value: string }) => m.value).sort()).toEqual(
      [...users].sort(),
    );
    // Each PATCH got its own version.
    expect(after.body.meta.version).toBe('W/"22"');
    expect((await roster.get(`/api/end_user_groups/${group.body.id}`)).body.data.users_count).toBe(
      20,
    );
  });

  it('keeps a member added by hand until the next full sync from the identity provider', async () => {
    const group = await scim.request('POST', '/Groups', {
      displayName: 'Drift',
      members: [{ value: ids.Alice }],
    });
    const groupId = group.body.id as string;
    const manual = await roster.post(`/api/end_user_groups/${groupId}/members`, {
      end_user_ids: [Number(ids.Bob)],
    });
    expect(manual.status).toBe(200);
    const members = await roster.get(`/api/end_user_groups/${groupId}/members`);
    expect(
      members.body.data.map((m: { id: number; source: string }) => [String(m.id), m.source]),
    ).toEqual([
      [ids.Alice, 'external'],
      [ids.Bob, 'manual'],
    ]);
    // An incremental PATCH leaves the manual member alone…
    await scim.request('PATCH', `/Groups/${groupId}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: ids.Carol }] }],
    });
    expect((await roster.get(`/api/end_user_groups/${groupId}`)).body.data.users_count).toBe(3);
    // …a full sync (PUT) makes the group exactly what the identity provider says.
    const put = await scim.request('PUT', `/Groups/${groupId}`, {
      displayName: 'Drift',
      members: [{ value: ids.Alice }, { value: ids.Carol }],
    });
    expect(put.status).toBe(200);
    const synced = await roster.get(`/api/end_user_groups/${groupId}/members`);
    expect(
      synced.body.data.map((m: { id: number; source: string }) => [String(m.id), m.source]),
    ).toEqual([
      [ids.Alice, 'external'],
      [ids.Carol, 'external'],
    ]);
  });

  it('is seen by the next decision: a group grant allows, deactivation denies', async () => {
    const user = (await scim.request('POST', '/Users', { userName: 'decider@example.com' })).body
      .id as string;
    const group = await scim.request('POST', '/Groups', {
      displayName: 'Deciders',
      members: [{ value: user }],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Helper',
    });
    expect(feature.status).toBe(201);
    const granted = await roster.post(`/api/features/${feature.body.data.id}/access`, {
      end_user_group_ids: [Number(group.body.id)],
    });
    expect(granted.status).toBe(200);
    const decide = () =>
      roster.post('/api/end_users/decisions', {
        end_user_id: Number(user),
        environment_type: 'dev',
        feature_id: feature.body.data.id,
      });
    expect((await decide()).body.data.decision).toBe('allow');
    await scim.request('PATCH', `/Users/${user}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    const denied = await decide();
    expect(denied.body.data.decision).toBe('deny');
    expect(denied.body.data.reasons[0].type).toBe('status');
  });

  it('adopts an end user made by hand: access to its environment, the event, and its userName taken after', async () => {
    const byHand = await roster.post('/api/end_users', {
      name: 'Hand Made',
      email: 'Hand@Adopt.example.com',
      environment_types: ['prod'],
    });
    expect(byHand.status).toBe(201);
    const id = byHand.body.data.id as number;
    const adopted = await scim.request('POST', '/Users', {
      userName: 'hand@adopt.example.com',
      name: { givenName: 'Hand', familyName: 'Adopted' },
    });
    expect(adopted.status).toBe(201);
    expect(adopted.body.id).toBe(String(id));
    const user = await roster.get(`/api/end_users/${id}`);
    expect(user.body.data).toMatchObject({
      name: 'Hand Adopted',
      environment_types: ['dev', 'prod'],
    });
    const events = await roster.get(
      `/api/audit_events?action=end_user.scim_linked&target_id=${id}`,
    );
    expect(events.body.data).toHaveLength(1);
    const again = await scim.request('POST', '/Users', { userName: 'HAND@adopt.example.com' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      scimType: 'uniqueness',
      detail: 'A user with userName HAND@adopt.example.com already exists',
    });
  });

  it('creates one user when the same new userName is sent twice at once', async () => {
    const create = () => scim.request('POST', '/Users', { userName: 'twice@at-once.example.com' });
    const answers = await Promise.all([create(), create()]);
    // The second waits for the first's write (SQLite's lock, PostgreSQL's unique index) and is
    // refused, whichever lookup or insert sees the first one.
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    expect(answers.find((a) => a.status === 409)?.body.scimType).toBe('uniqueness');
    expect(await found('userName eq "twice@at-once.example.com"')).toHaveLength(1);
  });

  it('serves discovery documents', async () => {
    const config = await scim.request('GET', '/ServiceProviderConfig');
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 1000 },
      etag: { supported: true },
      bulk: { supported: false },
    });
    const types = await scim.request('GET', '/ResourceTypes');
    expect(types.body.Resources.map((r: { endpoint: string }) => r.endpoint)).toEqual([
      '/Users',
      '/Groups',
    ]);
    const schemas = await scim.request('GET', '/Schemas');
    expect(schemas.body.Resources.map((r: { id: string }) => r.id)).toEqual([
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:ietf:params:scim:schemas:core:2.0:Group',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    ]);
    const missing = await scim.request('GET', '/Nope');
    expect(missing.status).toBe(404);
    expect(missing.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  });
});
