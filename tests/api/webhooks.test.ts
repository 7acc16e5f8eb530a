/**
 * Webhooks: endpoints receive the audit events they subscribe to, signed as the Standard Webhooks
 * specification says (the receiver verifies with the reference library, standardwebhooks), from
 * a queue in the database: retries on the configured schedule, a delivery log, redelivery, the
 * endpoint disabled after failures with an audit event, and writes never held up by a receiver
 * that fails or hangs. The SSRF guard refuses loopback, link-local and private addresses.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

let roster: Roster;
let receiver: Receiver;
let counter = 0;

beforeAll(async () => {
  roster = await startRoster({
    env: {
      ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
      ROSTER_WEBHOOK_RETRY_SCHEDULE: '1,1',
      ROSTER_WEBHOOK_DISABLE_AFTER: '2',
      ROSTER_WEBHOOK_TIMEOUT_MS: '1000',
    },
  });
});
afterAll(async () => {
  await roster.close();
});
afterEach(async () => {
  // Each test's webhooks go, so that later tests' events are not sent to earlier receivers.
  const list = await roster.get('/api/webhooks');
  for (const hook of list.body.data as { id: number }[])
    await roster.delete(`/api/webhooks/${hook.id}`);
  await receiver.close();
});

async function createWebhook(events: string[], url?: string) {
  receiver = await startReceiver();
  const res = await roster.post('/api/webhooks', {
    url: url ?? receiver.url,
    events,
    description: 'test receiver',
  });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: number; secret: string; url: string };
}

async function createEndUser() {
  counter += 1;
  const res = await roster.post('/api/end_users', {
    name: `Hooked ${counter}`,
    email: `hooked-${counter}@example.com`,
    environment_types: ['dev'],
  });
  expect(res.status, res.text).toBe(201);
  return res.body.data as { id: number; email: string };
}

async function auditEventOf(action: string, targetId: number | string) {
  const res = await roster.get(
    `/api/audit_events?action=${action}&target_id=${String(targetId)}&page[size]=1`,
  );
  return res.body.data[0] as { id: number; action: string };
}

async function deliveriesOf(id: number) {
  const res = await roster.get(`/api/webhooks/${id}/deliveries`);
  expect(res.status).toBe(200);
  return res.body.data as {
    id: number;
    event_id: number;
    message_id: string;
    status: string;
    attempts: number;
    response_status: number | null;
    last_error: string | null;
  }[];
}

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, ms = 15_000) {
  const started = Date.now();
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('webhook endpoints', () => {
  it('shows the whsec_ secret once, then lists, gets, updates and deletes the endpoint', async () => {
    const created = await createWebhook(['end_user.*', 'scim.*']);
    expect(created).toMatchObject({
      url: receiver.url,
      events: ['end_user.*', 'scim.*'],
      description: 'test receiver',
      enabled: true,
      consecutive_failures: 0,
      disabled_reason: null,
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{40,}={0,2}$/);

    const got = await roster.get(`/api/webhooks/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body.data.secret).toBeUndefined();
    expect(got.text).not.toContain(created.secret.slice(6));
    const list = await roster.get('/api/webhooks');
    expect(list.body.data.map((h: { id: number }) => h.id)).toEqual([created.id]);

    const patched = await roster.request('PATCH', `/api/webhooks/${created.id}`, {
      body: { events: ['*'], description: 'everything' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ events: ['*'], description: 'everything' });

    // The audit log has the changes, never the secret.
    const audit = await roster.get(`/api/audit_events?target_type=webhook&target_id=${created.id}`);
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual([
      'webhook.updated',
      'webhook.created',
    ]);
    expect(audit.text).not.toContain(created.secret.slice(6));

    expect((await roster.delete(`/api/webhooks/${created.id}`)).status).toBe(204);
    expect((await roster.get(`/api/webhooks/${created.id}`)).status).toBe(404);
  });

  it('refuses bad input with a 400 naming the problem', async () => {
    receiver = await startReceiver();
    const cases: [unknown, RegExp][] = [
      [{ url: 'ftp://example.com/hook', events: ['*'] }, /url/],
      [{ url: 'not a url', events: ['*'] }, /url/],
      [{ url: receiver.url, events: [] }, /events/],
      [{ url: receiver.url, events: ['end_user.*.x'] }, /events/],
      [{ url: receiver.url, events: ['END USER'] }, /events/],
      [{ url: receiver.url }, /events/],
    ];
    for (const [body, message] of cases) {
      const res = await roster.post('/api/webhooks', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.errors[0].title).toMatch(message);
    }
    const empty = await roster.request('PATCH', '/api/webhooks/1', { body: {} });
    expect(empty.status).toBe(400);
    expect((await roster.get('/api/webhooks/99999999')).status).toBe(404);
    expect((await roster.get('/api/webhooks/abc')).status).toBe(400);
  });
});

describe('deliveries', () => {
  it('sends matching events signed as Standard Webhooks, verified by the reference library', async () => {
    const hook = await createWebhook(['end_user.created']);
    // Not subscribed: a feature's event is not sent.
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Off',
    });
    expect(feature.status).toBe(201);
    const user = await createEndUser();
    const [request] = await receiver.waitFor(1);
    if (request === undefined) throw new Error('no request');

    const verified = new Webhook(hook.secret).verify(request.body, request.headers) as {
      type: string;
      timestamp: string;
      data: { id: number; action: string; target: { type: string; id: string } };
    };
    const event = await auditEventOf('end_user.created', user.id);
    expect(verified.type).toBe('end_user.created');
    expect(verified.data).toMatchObject({
      id: event.id,
      action: 'end_user.created',
      target: { type: 'end_user', id: String(user.id) },
    });
    // The same event as GET /api/audit_events shows it.
    const listed = await roster.get(`/api/audit_events?action=end_user.created&page[size]=100`);
    expect(listed.body.data.find((e: { id: number }) => e.id === event.id)).toEqual(verified.data);
    expect(request.headers['webhook-id']).toBe(`msg_${event.id}`);
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(request.headers['content-type']).toBe('application/json');
    // A tampered body or another secret does not verify.
    expect(() => new Webhook(hook.secret).verify(`${request.body} `, request.headers)).toThrow();
    const other = `whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`;
    expect(() => new Webhook(other).verify(request.body, request.headers)).toThrow();

    const deliveries = await eventually('delivery logged', async () => {
      const rows = await deliveriesOf(hook.id);
      return rows[0]?.status === 'succeeded' ? rows : undefined;
    });
    expect(deliveries).toEqual([
      expect.objectContaining({
        event_id: event.id,
        message_id: `msg_${event.id}`,
        status: 'succeeded',
        attempts: 1,
        response_status: 204,
        last_error: null,
      }),
    ]);
    // Only the subscribed event was sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(1);
  });

  it('retries a failed delivery on the schedule with the same webhook-id, without holding up writes', async () => {
    const hook = await createWebhook(['end_user.*']);
    receiver.script(500, 'hang');
    const started = Date.now();
    const user = await createEndUser();
    // The receiver fails and then hangs: the write answered regardless.
    expect(Date.now() - started).toBeLessThan(800);
    const requests = await receiver.waitFor(3, 20_000);
    const event = await auditEventOf('end_user.created', user.id);
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual(Array(3).fill(`msg_${event.id}`));
    for (const request of requests) new Webhook(hook.secret).verify(request.body, request.headers);
    // 1 s between attempts (ROSTER_WEBHOOK_RETRY_SCHEDULE=1,1), plus the 1 s timeout of the hang.
    const [first, second, third] = requests.map((r) => r.at);
    expect(second! - first!).toBeGreaterThanOrEqual(900);
    expect(third! - second!).toBeGreaterThanOrEqual(1_900);

    const [delivery] = await eventually('retried delivery succeeded', async () => {
      const rows = await deliveriesOf(hook.id);
      return rows[0]?.status === 'succeeded' ? rows : undefined;
    });
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3, response_status: 204 });

    // Writes while the receiver hangs are not slowed down either.
    receiver.fallback = 'hang';
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      await createEndUser();
      timings.push(Date.now() - before);
    }
    expect(Math.max(...timings)).toBeLessThan(800);
  });

  it('gives a delivery up after its last retry and disables the endpoint after repeated failures, with an audit event', async () => {
    const hook = await createWebhook(['end_user.created']);
    receiver.fallback = 500;
    await createEndUser();
    await createEndUser();
    // 2 deliveries × 3 attempts (ROSTER_WEBHOOK_DISABLE_AFTER=2).
    await receiver.waitFor(6, 20_000);
    const disabled = await eventually('endpoint disabled', async () => {
      const res = await roster.get(`/api/webhooks/${hook.id}`);
      return res.body.data.enabled === false ? res.body.data : undefined;
    });
    expect(disabled).toMatchObject({
      enabled: false,
      consecutive_failures: 2,
      disabled_reason: expect.stringMatching(/2 deliveries in a row.*HTTP 500/),
    });
    const deliveries = await deliveriesOf(hook.id);
    expect(deliveries.map((d) => [d.status, d.attempts, d.response_status])).toEqual([
      ['failed', 3, 500],
      ['failed', 3, 500],
    ]);
    const audit = await roster.get(
      `/api/audit_events?action=webhook.disabled&target_id=${hook.id}`,
    );
    expect(audit.body.data).toEqual([
      expect.objectContaining({
        actor: { type: 'system', id: null, name: 'webhook dispatcher' },
        target: { type: 'webhook', id: String(hook.id), name: receiver.url },
      }),
    ]);
    // Disabled: new events are not queued for it.
    await createEndUser();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(receiver.received).toHaveLength(6);

    // Enabled again: a fresh count, and events flow.
    receiver.fallback = 204;
    const enabled = await roster.request('PATCH', `/api/webhooks/${hook.id}`, {
      body: { enabled: true },
    });
    expect(enabled.body.data).toMatchObject({
      enabled: true,
      consecutive_failures: 0,
      disabled_reason: null,
    });
    await createEndUser();
    await receiver.waitFor(7);
  });

  it('redelivers one delivery with the same webhook-id, and signs with a rotated secret', async () => {
    const hook = await createWebhook(['end_user.created']);
    await createEndUser();
    const [first] = await receiver.waitFor(1);
    const [delivery] = await eventually('delivered', async () => {
      const rows = await deliveriesOf(hook.id);
      return rows[0]?.status === 'succeeded' ? rows : undefined;
    });

    const rotated = await roster.post(`/api/webhooks/${hook.id}/rotate_secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.data.secret).toMatch(/^whsec_/);
    expect(rotated.body.data.secret).not.toBe(hook.secret);

    const again = await roster.post(
      `/api/webhooks/${hook.id}/deliveries/${delivery!.id}/redeliver`,
    );
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ status: 'pending', message_id: delivery!.message_id });
    const [, second] = await receiver.waitFor(2);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body).toBe(first!.body);
    new Webhook(rotated.body.data.secret).verify(second!.body, second!.headers);
    expect(() => new Webhook(hook.secret).verify(second!.body, second!.headers)).toThrow();
    expect((await deliveriesOf(hook.id)).length).toBe(2);

    expect((await roster.post(`/api/webhooks/${hook.id}/deliveries/99999/redeliver`)).status).toBe(
      404,
    );
  });
});

describe('a receiver that hangs', () => {
  it('holds up neither writes nor the deliveries of other endpoints', async () => {
    const slow = await startRoster({
      env: { ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true', ROSTER_WEBHOOK_TIMEOUT_MS: '6000' },
    });
    const hanging = await startReceiver();
    receiver = await startReceiver();
    try {
      hanging.fallback = 'hang';
      for (const url of [hanging.url, receiver.url])
        expect((await slow.post('/api/webhooks', { url, events: ['end_user.*'] })).status).toBe(
          201,
        );
      const create = (n: number) =>
        slow.post('/api/end_users', {
          name: `Slow ${n}`,
          email: `slow-${n}@example.com`,
          environment_types: ['dev'],
        });
      expect((await create(1)).status).toBe(201);
      await hanging.waitFor(1);
      await receiver.waitFor(1);
      // The first attempt to the hanging endpoint is still waiting for its 6 s timeout.
      const started = Date.now();
      expect((await create(2)).status).toBe(201);
      const written = Date.now();
      await receiver.waitFor(2, 5_000);
      expect(written - started).toBeLessThan(1_500);
      expect(Date.now() - written).toBeLessThan(3_000);
      expect(hanging.received.length).toBeGreaterThanOrEqual(1);
    } finally {
      await hanging.close();
      await slow.close();
    }
  });
});

describe('SSRF guard (ROSTER_WEBHOOK_ALLOW_PRIVATE unset)', () => {
  let guarded: Roster;
  beforeAll(async () => {
    guarded = await startRoster();
  });
  afterAll(async () => {
    await guarded.close();
  });

  it('refuses URLs that resolve to loopback, link-local or private addresses', async () => {
    receiver = await startReceiver();
    for (const url of [
      receiver.url,
      'http://localhost:8080/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/hook',
      'http://192.168.0.10/hook',
      'http://172.16.5.4/hook',
      'http://[::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fd00::1]/hook',
      'http://0.0.0.0/hook',
    ]) {
      const res = await guarded.post('/api/webhooks', { url, events: ['*'] });
      expect(res.status, url).toBe(400);
      expect(res.body.errors[0].title, url).toMatch(
        /loopback, link-local or private address.*ROSTER_WEBHOOK_ALLOW_PRIVATE=true/,
      );
    }
    const unresolvable = await guarded.post('/api/webhooks', {
      url: 'https://does-not-exist.invalid/hook',
      events: ['*'],
    });
    expect(unresolvable.status).toBe(400);
    expect(unresolvable.body.errors[0].title).toMatch(/does not resolve/);
    expect((await guarded.get('/api/webhooks')).body.data).toEqual([]);
  });

  it('refuses IPv6 addresses that carry a forbidden IPv4 address, and allows public ones', async () => {
    for (const url of [
      'http://[::127.0.0.1]/hook', // IPv4-compatible
      'http://[::ffff:0:7f00:1]/hook', // SIIT
      'http://[64:ff9b::a9fe:a9fe]/latest/meta-data', // NAT64 of 169.254.169.254
      'http://[64:ff9b::10.0.0.1]/hook',
      'http://[2002:c0a8:1::1]/hook', // 6to4 of 192.168.0.1
      'http://[2001:0:4136:e378::1]/hook', // Teredo
      'http://[fec0::1]/hook', // site-local
    ]) {
      const res = await guarded.post('/api/webhooks', { url, events: ['*'] });
      expect(res.status, url).toBe(400);
      expect(res.body.errors[0].title, url).toMatch(/loopback, link-local or private address/);
    }
    expect((await guarded.get('/api/webhooks')).body.data).toEqual([]);
    // A DNS64 network synthesises 64:ff9b::<public IPv4> for every IPv4-only host: allowed.
    for (const url of ['http://[64:ff9b::808:808]/hook', 'http://[2002:808:808::1]/hook']) {
      const res = await guarded.post('/api/webhooks', { url, events: ['*'] });
      expect(res.status, url).toBe(201);
      expect((await guarded.delete(`/api/webhooks/${res.body.data.id}`)).status).toBe(204);
    }
  });
});
