import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient } from './helpers.js';

describe('SCIM connections', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startRoster();
  });
  afterAll(async () => {
    await roster.close();
  });

  it('creates a connection with its base URL and a token shown once', async () => {
    const created = await roster.post('/api/scim_connections', {
      environment_type: 'prod',
      target: 'end_users',
    });
    expect(created.status).toBe(201);
    const data = created.body.data;
    expect(data).toMatchObject({
      environment_type: 'prod',
      target: 'end_users',
      name: 'SCIM prod end users',
      default_role: null,
      default_role_type: null,
      base_url: `http://roster.test/scim/v2/${data.id}`,
      rotated_at: null,
      last_sync_at: null,
      users_count: 0,
      groups_count: 0,
    });
    expect(data.token).toMatch(/^rscim_/);
    expect(data.token_prefix).toBe(data.token.slice(0, 12));

    const fetched = await roster.get(`/api/scim_connections/${data.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.data.token).toBeUndefined();
    const listed = await roster.get('/api/scim_connections');
    expect(listed.body.data.map((c: { id: string }) => c.id)).toContain(data.id);
  });

  it('returns 400 for an unknown environment and for an unknown target', async () => {
    const unknown = await roster.post('/api/scim_connections', {
      environment_type: 'staging',
      target: 'end_users',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({
      errors: [{ code: 'bad_request', title: 'Environment staging not found' }],
    });
    const wrongTarget = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'robots',
    });
    expect(wrongTarget.status).toBe(400);
  });

  it('rotates the token: the old one is refused at once, the new one works', async () => {
    const connection = await createConnection(roster);
    const rotated = await roster.post(`/api/scim_connections/${connection.id}/rotate_token`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.token).not.toBe(connection.token);
    expect(rotated.body.data.rotated_at).not.toBeNull();
    const old = await scimClient(roster, connection).request('GET', '/Users');
    expect(old.status).toBe(401);
    expect(old.headers.get('content-type')).toContain('application/scim+json');
    expect(old.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '401',
      detail: 'Invalid or missing bearer token for this SCIM connection',
    });
    const fresh = await scimClient(roster, {
      ...connection,
      token: rotated.body.data.token,
    }).request('GET', '/Users');
    expect(fresh.status).toBe(200);
  });

  it("refuses one connection's token on another connection", async () => {
    const a = await createConnection(roster);
    const b = await createConnection(roster);
    const crossed = await scimClient(roster, { ...b, token: a.token }).request('GET', '/Users');
    expect(crossed.status).toBe(401);
  });

  it('keeps the last sync time to the second: a write within a second of it does not move it', async () => {
    const connection = await createConnection(roster);
    const scim = scimClient(roster, connection);
    const lastSync = async () =>
      (await roster.get(`/api/scim_connections/${connection.id}`)).body.data.last_sync_at as string;
    expect(
      (await scim.request('POST', '/Users', { userName: 'one@sync.example.com' })).status,
    ).toBe(201);
    const first = await lastSync();
    expect(
      (await scim.request('POST', '/Users', { userName: 'two@sync.example.com' })).status,
    ).toBe(201);
    const second = await lastSync();
    // Unchanged, unless this slow machine took a second between the two writes.
    if (second !== first)
      expect(Date.parse(second) - Date.parse(first)).toBeGreaterThanOrEqual(1000);
    roster.clock.advance(1_500);
    expect(
      (await scim.request('POST', '/Users', { userName: 'three@sync.example.com' })).status,
    ).toBe(201);
    expect(Date.parse(await lastSync())).toBeGreaterThanOrEqual(Date.parse(first) + 1_500);
  });

  it('records the last sync time and counts, and deleting stops the endpoint but keeps the users', async () => {
    const connection = await createConnection(roster);
    const scim = scimClient(roster, connection);
    const user = await scim.request('POST', '/Users', { userName: 'kept@conn.example.com' });
    expect(user.status).toBe(201);
    const after = await roster.get(`/api/scim_connections/${connection.id}`);
    expect(after.body.data.users_count).toBe(1);
    expect(after.body.data.last_sync_at).not.toBeNull();

    const deleted = await roster.delete(`/api/scim_connections/${connection.id}`);
    expect(deleted.status).toBe(204);
    expect((await scim.request('GET', '/Users')).status).toBe(401);
    expect((await roster.get(`/api/scim_connections/${connection.id}`)).status).toBe(404);
    const endUser = await roster.get(`/api/end_users/${user.body.id}`);
    expect(endUser.status).toBe(200);
    expect(endUser.body.data.email).toBe('kept@conn.example.com');
  });

  describe('who may manage a collaborators connection', () => {
    const FULL_SCOPE_ONLY = {
      errors: [
        {
          code: 'forbidden',
          title:
            'This needs full workspace access: a console admin of every environment, or an API client that may manage every environment and project',
        },
      ],
    };
    let devOnly = '';

    beforeAll(async () => {
      const client = await roster.post('/api/api_clients', {
        name: 'DEV only',
        environment_types: ['dev'],
      });
      expect(client.status).toBe(201);
      devOnly = client.body.data.token;
    });

    it('returns 403 to an API client limited to one environment creating one, even in its environment', async () => {
      const res = await roster.post(
        '/api/scim_connections',
        { environment_type: 'dev', target: 'collaborators' },
        devOnly,
      );
      expect(res.status).toBe(403);
      expect(res.body).toEqual(FULL_SCOPE_ONLY);
    });

    it('still lets that client create an end_users connection in its environment', async () => {
      const res = await roster.post(
        '/api/scim_connections',
        { environment_type: 'dev', target: 'end_users' },
        devOnly,
      );
      expect(res.status).toBe(201);
      expect(res.body.data.target).toBe('end_users');
    });

    it('returns 403 to that client changing, rotating or deleting an existing one, which it may still read', async () => {
      const connection = await createConnection(roster, 'dev', 'collaborators');
      const changed = await roster.request('PATCH', `/api/scim_connections/${connection.id}`, {
        body: { default_role: 'Admin' },
        token: devOnly,
      });
      const rotated = await roster.post(
        `/api/scim_connections/${connection.id}/rotate_token`,
        undefined,
        devOnly,
      );
      const deleted = await roster.delete(`/api/scim_connections/${connection.id}`, devOnly);
      const read = await roster.get(`/api/scim_connections/${connection.id}`, devOnly);

      for (const res of [changed, rotated, deleted]) {
        expect(res.status).toBe(403);
        expect(res.body).toEqual(FULL_SCOPE_ONLY);
      }
      expect(read.status).toBe(200);
      expect(read.body.data.default_role).toBe('Analyst');
      expect((await scimClient(roster, connection).request('GET', '/Users')).status).toBe(200);
    });
  });

  it('audits connection changes', async () => {
    const connection = await createConnection(roster);
    const events = await roster.get(
      `/api/audit_events?target_type=scim_connection&target_id=${connection.id}`,
    );
    expect(events.body.data.map((e: { action: string }) => e.action)).toEqual([
      'scim_connection.created',
    ]);
  });
});
