/**
 * Two gaps of home instances (docs/operations.md, "Several instances: home instances"), on two
 * PostgreSQL instances where the home is reached through a proxy that can hold its answers back:
 *
 * - a non-dry-run end-user decision whose forward times out after the home received it is decided
 *   twice (by the home, then by the receiving instance answering itself) but recorded once: the
 *   receiving instance names the decision in the signed hop, the record has a unique key, and the
 *   second decision answers what the first recorded without writing (no second approval request);
 * - a correctly signed forward is counted by the instance the caller asked, not again by the home.
 *
 * SQLite is one instance by nature: skipped there.
 *
 * Both instances, the proxy and the test share one process: on a busy machine its event loop
 * stalls for hundreds of milliseconds. The forward timeout and the lease are set long enough that
 * a stall neither times a forward out (the receiving instance would then rightly answer itself and
 * skip the home for a lease, which the first test must not see) nor lets the home's lease lapse;
 * the second test holds the home's answer back well past the timeout.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../packages/server/src/modules/cluster/membership.js';
import { startCluster, type Cluster, type Instance } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { PLATFORM_TOKEN, type Roster } from '../helpers/roster.js';

const FORWARD_TIMEOUT_MS = 3_000;
/** The product's default lease: a heartbeat 200 ms apart keeps it whatever the loop's stalls. */
const LEASE_MS = 10_000;
const RATE_LIMIT = 40;

/** A free loopback port: the home's real port must be known before the proxy and it start. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A proxy in front of the home: requests pass at once, answers are held back `delayMs` — a home
 * that received and handled the request but answers later than the forward timeout.
 */
async function startSlowProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const proxy = {
    delayMs: 0,
    url: '',
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    const later = (action: () => void) => {
      if (proxy.delayMs === 0) action();
      else setTimeout(action, proxy.delayMs);
    };
    upstream.on('data', (chunk: Buffer) => {
      later(() => {
        if (!client.destroyed) client.write(chunk);
      });
    });
    upstream.on('end', () => {
      later(() => client.end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  proxy.url = `http://127.0.0.1:${address.port}`;
  return proxy;
}

interface Workspace {
  id: number;
  token: string;
}

async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(testDialect !== 'postgres')(
  'home instances: forwarded decisions recorded once, counted once (two instances on PostgreSQL)',
  () => {
    let cluster: Cluster;
    let receiver: Roster;
    let home: Instance;
    let proxy: Awaited<ReturnType<typeof startSlowProxy>>;
    let made = 0;

    /** A new workspace whose home is the slow instance (about every second one is). */
    async function workspaceHomedAtTheSlowOne(): Promise<Workspace> {
      for (;;) {
        made += 1;
        const created = await receiver.post(
          '/platform/workspaces',
          { name: `Forwarded ${made}` },
          PLATFORM_TOKEN,
        );
        expect(created.status).toBe(201);
        const id = created.body.data.id as number;
        if (rendezvousHome([receiver.url, proxy.url], id) === proxy.url)
          return { id, token: created.body.data.admin_token as string };
      }
    }

    beforeAll(async () => {
      const env = {
        ROSTER_FORWARD_TIMEOUT_MS: String(FORWARD_TIMEOUT_MS),
        ROSTER_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
        ROSTER_CLUSTER_LEASE_MS: String(LEASE_MS),
      };
      cluster = await startCluster({ instances: 1, homes: true, env });
      receiver = cluster.instances[0] as Roster;
      const port = await freePort();
      proxy = await startSlowProxy(port);
      // The home's URL for the others is the proxy's: every hop to it goes through the proxy.
      home = await cluster.addInstance({
        PORT: String(port),
        ROSTER_INSTANCE_URL: proxy.url,
      });
      await until(
        async () => {
          const ready = await receiver.get('/readyz', null);
          return (ready.body.cluster?.instances as string[] | undefined)?.length === 2;
        },
        10_000,
        'the receiving instance sees the home',
      );
    }, 120_000);

    afterAll(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may have failed before setting it
      await cluster?.close();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- likewise
      await proxy?.close();
    });

    // First: after the timed-out forward of the next test, the receiving instance skips the home
    // for a lease.
    it('counts a forwarded request on the instance the caller asked, not again on the home', async () => {
      proxy.delayMs = 0;
      const ws = await workspaceHomedAtTheSlowOne();
      const question = { email: 'nobody@example.com', environment_type: 'dev', feature_id: 1 };
      // Every request below is the workspace's admin client's: one rate-limit key.
      const loads = async (instance: Roster) =>
        ((await instance.get('/readyz', null)).body.index as { loads: number }).loads;
      const [homeLoads, receiverLoads] = [await loads(home), await loads(receiver)];
      let answered = 0;
      let limited = false;
      while (!limited && answered <= RATE_LIMIT) {
        // A valid question (an invalid one is refused before it is forwarded), answered 404 by
        // the home: nobody has that email.
        const res = await receiver.post(
          '/api/end_users/decisions?dry_run=true',
          question,
          ws.token,
        );
        expect([404, 429]).toContain(res.status);
        if (res.status === 429) limited = true;
        else answered += 1;
      }
      // They were answered by the home (it loaded the workspace; the receiving instance did not) …
      expect(await loads(home)).toBe(homeLoads + 1);
      expect(await loads(receiver)).toBe(receiverLoads);
      // … the receiving instance counted each of them …
      expect(limited).toBe(true);
      expect(answered).toBe(RATE_LIMIT);
      // … and the home counted none of the signed hops: the caller's own budget there is whole.
      const direct = await home.post('/api/end_users/decisions?dry_run=true', question, ws.token);
      expect(direct.status).not.toBe(429);
      expect(direct.headers.get('ratelimit-remaining')).toBe(String(RATE_LIMIT - 1));
    }, 60_000);

    it('records a decision once when the home answers after the forward timed out, with one approval request', async () => {
      const ws = await workspaceHomedAtTheSlowOne();
      const as = (path: string, body: unknown) => receiver.post(path, body, ws.token);
      const user = await as('/api/end_users', {
        name: 'Slow Sam',
        email: 'slow.sam@example.com',
        environment_types: ['dev'],
      });
      expect(user.status).toBe(201);
      const feature = await as('/api/features', {
        environment_type: 'dev',
        kind: 'mcp_server',
        name: 'Payments MCP',
      });
      expect(feature.status).toBe(201);
      const policy = await as('/api/policies', {
        name: 'Refunds need approval',
        environment_type: 'dev',
        feature_id: feature.body.data.id,
        tools: ['refund'],
        scope: { type: 'all' },
        effect: 'require_approval',
      });
      expect(policy.status).toBe(201);
      const question = {
        end_user_id: user.body.data.id,
        environment_type: 'dev',
        feature_id: feature.body.data.id,
      };
      // Warm the home first, so that it records well within the hold-back below.
      proxy.delayMs = 0;
      const warm = await as('/api/end_users/decisions?dry_run=true', { ...question, tool: 'read' });
      expect(warm.status).toBe(200);

      proxy.delayMs = FORWARD_TIMEOUT_MS * 2;
      // One decision: after a timed-out forward the receiving instance skips that home for a lease.
      for (const tool of ['refund']) {
        const started = Date.now();
        const answer = await as('/api/end_users/decisions', { ...question, tool });
        // The forward timed out: the receiving instance answered itself.
        expect(Date.now() - started).toBeGreaterThanOrEqual(FORWARD_TIMEOUT_MS);
        expect(answer.status, answer.text).toBe(200);
        const events = await receiver.get(
          `/api/audit_events?action=end_user.decision&target_id=${question.end_user_id}`,
          ws.token,
        );
        const recorded = (
          events.body.data as {
            after: { tool: string; decision: string; approval_request_id: number | null };
          }[]
        ).filter((e) => e.after.tool === tool);
        // The home recorded it (it received the request); the receiving instance did not again.
        expect(recorded, `tool ${tool}`).toHaveLength(1);
        expect(recorded[0]?.after.decision).toBe(answer.body.data.decision);
        expect(recorded[0]?.after.approval_request_id).toBe(answer.body.data.approval_request_id);
      }
      // One approval request for the refund, the one the answer named; and its one audit event.
      const requests = await receiver.get('/api/approval_requests', ws.token);
      expect(requests.body.total).toBe(1);
      const opened = await receiver.get(
        '/api/audit_events?action=approval_request.created',
        ws.token,
      );
      expect(opened.body.total).toBe(1);
    }, 60_000);
  },
);
