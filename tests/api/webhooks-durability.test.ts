/**
 * Webhook deliveries survive the server: a delivery that failed on one process is retried by the
 * next one started on the same database (the server as `npm start` runs it, stopped between), the
 * address guard runs again at delivery time (a URL accepted once is refused when the server no
 * longer allows private addresses), and on PostgreSQL two instances sharing the queue send each
 * event once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { startCluster } from '../helpers/cluster.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { startServer, type Server } from '../helpers/spawned-server.js';

const SECRET_KEY = 'webhook-test-master-key-0123456789abcdef';

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, ms = 20_000) {
  const started = Date.now();
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a delivery across a server restart', () => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  let receiver: Receiver;
  const servers: Server[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roster-webhooks-'));
    database =
      testDialect === 'sqlite'
        ? { url: path.join(dir, 'roster.sqlite'), drop: async () => {} }
        : await createTestDatabase();
    env = {
      ROSTER_DATA_DIR: dir,
      ROSTER_DATABASE_URL: database.url,
      ROSTER_WEBHOOK_RETRY_SCHEDULE: '3',
      ROSTER_WEBHOOK_TIMEOUT_MS: '2000',
    };
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await receiver.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is retried by the next process after a failure, and refused at delivery time when the address is no longer allowed', async () => {
    const first = await startServer({
      ...env,
      ROSTER_SECRET_KEY: SECRET_KEY,
      ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    servers.push(first);
    const created = await first.request('POST', '/api/webhooks', {
      url: receiver.url,
      events: ['end_user.*'],
    });
    expect(created.status).toBe(201);
    const hook = created.body.data as { id: number; secret: string };

    receiver.script(500);
    const user = await first.request('POST', '/api/end_users', {
      name: 'Restarted',
      email: 'restarted@example.com',
      environment_types: ['dev'],
    });
    expect(user.status).toBe(201);
    const [failed] = await receiver.waitFor(1);
    // The retry is due 3 s later: this process stops before it.
    const pending = await eventually('first attempt logged', async () => {
      const log = await first.request('GET', `/api/webhooks/${hook.id}/deliveries`);
      return log.body.data[0]?.attempts === 1 ? log.body.data[0] : undefined;
    });
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, response_status: 500 });
    await first.stop();
    expect(receiver.received).toHaveLength(1);

    const second = await startServer({
      ...env,
      ROSTER_SECRET_KEY: SECRET_KEY,
      ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    servers.push(second);
    const [, retried] = await receiver.waitFor(2, 20_000);
    expect(retried!.headers['webhook-id']).toBe(failed!.headers['webhook-id']);
    new Webhook(hook.secret).verify(retried!.body, retried!.headers);
    const delivered = await eventually('retry logged', async () => {
      const log = await second.request('GET', `/api/webhooks/${hook.id}/deliveries`);
      return log.body.data[0]?.status === 'succeeded' ? log.body.data[0] : undefined;
    });
    expect(delivered).toMatchObject({ status: 'succeeded', attempts: 2, response_status: 204 });
    await second.stop();

    // The same stored URL, on a server that does not allow private addresses: refused when sent.
    const third = await startServer({ ...env, ROSTER_SECRET_KEY: SECRET_KEY });
    servers.push(third);
    const again = await third.request(
      'POST',
      `/api/webhooks/${hook.id}/deliveries/${delivered.id}/redeliver`,
    );
    expect(again.status).toBe(202);
    const refused = await eventually('redelivery refused', async () => {
      const log = await third.request('GET', `/api/webhooks/${hook.id}/deliveries`);
      return log.body.data[0]?.attempts >= 1 ? log.body.data[0] : undefined;
    });
    expect(refused).toMatchObject({
      status: 'pending',
      attempts: 1,
      response_status: null,
      last_error: expect.stringMatching(/127\.0\.0\.1 is a forbidden address/),
    });
    expect(receiver.received).toHaveLength(2);
    // Three server starts on a shared machine.
  }, 120_000);
});

describe.skipIf(testDialect === 'sqlite')('two instances on one PostgreSQL database', () => {
  it('send every event exactly once', async () => {
    const receiver = await startReceiver();
    const cluster = await startCluster({
      instances: 2,
      env: { ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true', ROSTER_SECRET_KEY: SECRET_KEY },
    });
    try {
      const [a, b] = cluster.instances as [
        (typeof cluster.instances)[number],
        (typeof cluster.instances)[number],
      ];
      const created = await a.post('/api/webhooks', { url: receiver.url, events: ['end_user.*'] });
      expect(created.status).toBe(201);
      const writes = 40;
      await Promise.all(
        Array.from({ length: writes }, (_, i) =>
          (i % 2 === 0 ? a : b).post('/api/end_users', {
            name: `Once ${i}`,
            email: `once-${i}@example.com`,
            environment_types: ['dev'],
          }),
        ),
      );
      const received = await receiver.waitFor(writes, 20_000);
      // A little longer: a duplicate would arrive now.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(receiver.received).toHaveLength(writes);
      expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(writes);
    } finally {
      await cluster.close();
      await receiver.close();
    }
  }, 60_000);
});
