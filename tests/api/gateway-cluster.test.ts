/**
 * The MCP gateway on two instances of one PostgreSQL database: locking the end user or disabling
 * the agent on instance A stops the agent's calls through instance B within the index's staleness
 * bound (one second: NOTIFY, the poll as a safety net; docs/decisions.md), and unlocking or
 * enabling restores them. No cache of the gateway (agents, upstreams, decisions) outlives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import type { Roster } from '../helpers/roster.js';
import { startUpstream, type Upstream } from '../helpers/mcp-upstream.js';

const STALENESS_BOUND_MS = 1_000;

type Outcome = 'forwarded' | 'refused' | 'rejected';

async function outcomeOf(client: Client): Promise<Outcome> {
  try {
    const result = await client.callTool({ name: 'search', arguments: { q: 'cluster' } });
    return result.isError === true ? 'refused' : 'forwarded';
  } catch {
    return 'rejected';
  }
}

/** Calls through B until the outcome is `expected`; throws when the bound passes first. */
async function waitFor(client: Client, expected: Outcome): Promise<number> {
  const started = Date.now();
  for (;;) {
    const outcome = await outcomeOf(client);
    if (outcome === expected) return Date.now() - started;
    if (Date.now() - started > STALENESS_BOUND_MS)
      throw new Error(`instance B still answered ${outcome} after ${STALENESS_BOUND_MS} ms`);
  }
}

describe.skipIf(testDialect === 'sqlite')(
  'the gateway on two instances of one PostgreSQL database (SQLite runs one instance: skipped)',
  () => {
    let cluster: Cluster;
    let upstream: Upstream;
    let a: Roster;
    let b: Roster;
    let user: number;
    let agent: number;
    let client: Client;

    beforeAll(async () => {
      upstream = await startUpstream();
      cluster = await startCluster({ instances: 2 });
      [a, b] = cluster.instances as [Roster, Roster];
      user = (
        await a.post('/api/end_users', {
          name: 'Carol',
          email: 'carol@cluster.example.com',
          environment_types: ['dev'],
        })
      ).body.data.id;
      const feature = (
        await a.post('/api/features', {
          environment_type: 'dev',
          kind: 'mcp_server',
          name: 'Cluster MCP',
          upstream: { url: upstream.url },
        })
      ).body.data.id;
      await a.post(`/api/features/${feature}/access`, { end_user_ids: [user] });
      const created = await a.post('/api/agents', {
        name: 'Carol’s agent',
        environment_type: 'dev',
        end_user_id: user,
        feature_ids: [feature],
      });
      agent = created.body.data.id;
      client = new Client({ name: 'cluster-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/${feature}`), {
          requestInit: { headers: { authorization: `Bearer ${created.body.data.token}` } },
        }),
      );
    });
    afterAll(async () => {
      await client.close();
      await cluster.close();
      await upstream.close();
    });

    it('stops calls through B within the bound when A locks the user, and restores them on unlock', async () => {
      expect(await outcomeOf(client)).toBe('forwarded');
      expect((await a.post(`/api/end_users/${user}/lock`)).status).toBe(200);
      expect(await waitFor(client, 'refused')).toBeLessThanOrEqual(STALENESS_BOUND_MS);
      expect((await a.post(`/api/end_users/${user}/unlock`)).status).toBe(200);
      expect(await waitFor(client, 'forwarded')).toBeLessThanOrEqual(STALENESS_BOUND_MS);
    });

    it('stops a disabled agent’s calls through B within the bound (its cached identity evicted)', async () => {
      const disable = (disabled: boolean) =>
        a.request('PATCH', `/api/agents/${agent}`, { body: { disabled } });
      expect((await disable(true)).status).toBe(200);
      expect(await waitFor(client, 'rejected')).toBeLessThanOrEqual(STALENESS_BOUND_MS);
      expect((await disable(false)).status).toBe(200);
      expect(await waitFor(client, 'forwarded')).toBeLessThanOrEqual(STALENESS_BOUND_MS);
    });

    it('says the secret keys differ when B cannot decrypt headers A sealed (no ROSTER_SECRET_KEY: a key file per instance)', async () => {
      const sealed = await a.post('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Sealed MCP',
        upstream: { url: upstream.url, headers: { Authorization: 'Bearer sealed-on-a' } },
      });
      await a.post(`/api/features/${sealed.body.data.id}/access`, { end_user_ids: [user] });
      const agentOnA = await a.post('/api/agents', {
        name: 'Sealed agent',
        environment_type: 'dev',
        end_user_id: user,
        feature_ids: [sealed.body.data.id],
      });
      const res = await fetch(`${b.url}/mcp/${sealed.body.data.id}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${agentOnA.body.data.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status).toBe(503);
      expect((await res.json()).errors[0].title).toContain(
        'every instance needs the same ROSTER_SECRET_KEY',
      );
    });
  },
);
