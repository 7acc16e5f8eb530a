/**
 * A SCIM request authenticates from a cache of the connections whose tokens authenticated before
 * (scim.connection-cache.ts; docs/performance.md, "Sixth round"): one statement fewer on every
 * SCIM request. What must not change: a rotated token, a deleted connection and a renamed one
 * take effect at once on the instance that made the change, and on every other instance within
 * the change feed's staleness bound (docs/decisions.md), even when that instance had the old
 * token cached; `last_sync_at` is still kept to the second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimConnection } from '../scim/helpers.js';

const STALENESS_BOUND_MS = 1_000;

const userBody = (userName: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  name: { givenName: 'Given', familyName: 'Family' },
  emails: [{ primary: true, value: userName, type: 'work' }],
  active: true,
});

/** Asks `instance` with `token` until the status is `expected`; the time it took. */
async function waitForStatus(
  instance: Roster,
  connection: ScimConnection,
  token: string,
  expected: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    const res = await scimClient(instance, { ...connection, token }).request('GET', '/Users');
    if (res.status === expected) return Date.now() - started;
    if (Date.now() - started > STALENESS_BOUND_MS)
      throw new Error(`still ${res.status} ${res.text} after ${STALENESS_BOUND_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('one instance: a cached token', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startRoster();
  });
  afterAll(async () => {
    await roster.close();
  });

  it('stops working at once when rotated, and the new one works', async () => {
    const connection = await createConnection(roster);
    const client = scimClient(roster, connection);
    expect((await client.request('GET', '/Users')).status).toBe(200);
    expect((await client.request('GET', '/Users')).status).toBe(200);

    const rotated = await roster.post(`/api/scim_connections/${connection.id}/rotate_token`);
    expect(rotated.status).toBe(200);
    expect((await client.request('GET', '/Users')).status).toBe(401);
    const fresh = scimClient(roster, { ...connection, token: rotated.body.data.token });
    expect((await fresh.request('GET', '/Users')).status).toBe(200);
    expect((await client.request('GET', '/Users')).status).toBe(401);
  });

  it('stops working at once when its connection is deleted', async () => {
    const connection = await createConnection(roster);
    const client = scimClient(roster, connection);
    expect((await client.request('GET', '/Users')).status).toBe(200);
    expect((await roster.delete(`/api/scim_connections/${connection.id}`)).status).toBe(204);
    expect((await client.request('GET', '/Users')).status).toBe(401);
  });

  it('answers as the renamed connection at once (the audit actor is its new name)', async () => {
    const connection = await createConnection(roster);
    const client = scimClient(roster, connection);
    expect((await client.request('GET', '/Users')).status).toBe(200);
    const renamed = await roster.request('PATCH', `/api/scim_connections/${connection.id}`, {
      body: { name: 'Renamed directory' },
    });
    expect(renamed.status).toBe(200);
    expect((await client.request('POST', '/Users', userBody('renamed@cache.example'))).status).toBe(
      201,
    );
    const events = await roster.get(
      `/api/audit_events?actor_type=scim_connection&actor_id=${connection.id}`,
    );
    expect(events.status).toBe(200);
    expect(events.body.data[0].actor.name).toBe('Renamed directory');
  });

  it('refuses at once to provision with a default role deleted after the token was cached', async () => {
    const role = await roster.post('/api/roles', {
      role: { name: 'SCIM cached default', privileges: { Recipes: ['read'] } },
    });
    expect(role.status).toBe(200);
    const connection = await createConnection(roster, 'dev', 'collaborators', {
      default_role: 'SCIM cached default',
      default_role_type: 'privilege_group',
    });
    const client = scimClient(roster, connection);
    expect((await client.request('GET', '/Users')).status).toBe(200);
    // The connection's default role goes by the foreign key's ON DELETE SET NULL, not by a write
    // to the connection: the role's own change must evict the cached connection.
    expect((await roster.delete(`/api/roles/${role.body.data.id}`)).status).toBeLessThan(300);
    const created = await client.request('POST', '/Users', userBody('orphan@cache.example'));
    expect(created.status).toBe(400);
    expect(created.body.detail).toContain('no longer exists');
  });

  it('keeps last_sync_at to the second: a write a second after the last moves it', async () => {
    const connection = await createConnection(roster);
    const client = scimClient(roster, connection);
    const lastSync = async () =>
      (await roster.get(`/api/scim_connections/${connection.id}`)).body.data.last_sync_at as
        string | null;
    expect((await client.request('POST', '/Users', userBody('first@cache.example'))).status).toBe(
      201,
    );
    const first = await lastSync();
    expect(first).not.toBeNull();
    roster.clock.advance(5_000);
    expect((await client.request('POST', '/Users', userBody('second@cache.example'))).status).toBe(
      201,
    );
    const second = await lastSync();
    expect(Date.parse(second ?? '') - Date.parse(first ?? '')).toBeGreaterThanOrEqual(5_000);
    // Within the second of the last: no update (the connection's row, cached, says so too).
    expect((await client.request('POST', '/Users', userBody('third@cache.example'))).status).toBe(
      201,
    );
    expect(await lastSync()).toBe(second);
  });
});

describe.skipIf(testDialect === 'sqlite')(
  'two instances on one PostgreSQL database (SQLite runs a single instance: skipped there)',
  () => {
    let cluster: Cluster;
    let a: Roster;
    let b: Roster;

    beforeAll(async () => {
      cluster = await startCluster({ instances: 2 });
      [a, b] = cluster.instances as [Roster, Roster];
    });
    afterAll(async () => {
      await cluster.close();
    });

    it('refuses on instance B, within the bound, a token rotated on instance A after B cached it', async () => {
      const connection = await createConnection(a);
      const onB = scimClient(b, connection);
      expect((await onB.request('GET', '/Users')).status).toBe(200);
      expect((await onB.request('GET', '/Users')).status).toBe(200);

      const rotated = await a.post(`/api/scim_connections/${connection.id}/rotate_token`);
      expect(rotated.status).toBe(200);
      const token = rotated.body.data.token as string;
      expect(await waitForStatus(b, connection, connection.token, 401)).toBeLessThanOrEqual(
        STALENESS_BOUND_MS,
      );
      expect((await scimClient(b, { ...connection, token }).request('GET', '/Users')).status).toBe(
        200,
      );

      // And a deletion on A, with the new token cached on B.
      expect((await a.delete(`/api/scim_connections/${connection.id}`)).status).toBe(204);
      expect(await waitForStatus(b, connection, token, 401)).toBeLessThanOrEqual(
        STALENESS_BOUND_MS,
      );
    });

    it('refuses on instance A a token rotated on instance B, both having cached it', async () => {
      const connection = await createConnection(b);
      for (const instance of [a, b])
        expect((await scimClient(instance, connection).request('GET', '/Users')).status).toBe(200);
      const rotated = await b.post(`/api/scim_connections/${connection.id}/rotate_token`);
      expect(rotated.status).toBe(200);
      expect((await scimClient(b, connection).request('GET', '/Users')).status).toBe(401);
      await waitForStatus(a, connection, connection.token, 401);
      await waitForStatus(a, connection, rotated.body.data.token as string, 200);
    });
  },
);
