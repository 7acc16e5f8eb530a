/**
 * Operations: /metrics in Prometheus format (requests by route pattern and status, decisions by
 * outcome, index, change feed, SCIM, webhooks; ROSTER_METRICS_TOKEN), readiness (migrations, the
 * database, on PostgreSQL through an outage and back without a restart), liveness, and the logs
 * (JSON lines carrying the request ID, probes not logged at info, errors naming their code).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { migrateToLatest, openStore } from '../../packages/server/src/storage/connect.js';
import { createTestDatabase, testDialect } from '../helpers/database.js';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { startCluster } from '../helpers/cluster.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { startServer } from '../helpers/spawned-server.js';

/** The value of one sample (`name{labels} value`), or undefined when it is not there. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    const matches = Object.entries(labels).every(([key, value]) =>
      labelText.split(/,(?=[a-z_]+=")/).includes(`${key}="${value}"`),
    );
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
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

describe('/metrics', () => {
  let roster: Roster;
  beforeAll(async () => {
    roster = await startRoster({ env: { ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    await roster.close();
  });
  const scrape = async () => {
    const res = await roster.get('/metrics', null);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text;
  };

  it('counts HTTP requests by route pattern and status, with latency histograms', async () => {
    expect((await roster.get('/api/members/424242')).status).toBe(404);
    expect((await roster.get('/api/members/434343')).status).toBe(404);
    expect((await roster.get('/no/such/route/12345')).status).toBe(404);
    const text = await scrape();
    const labels = { method: 'GET', route: '/api/members/:id', status: '404' };
    expect(sample(text, 'roster_http_requests_total', labels)).toBe(2);
    expect(sample(text, 'roster_http_request_duration_seconds_count', labels)).toBe(2);
    expect(
      sample(text, 'roster_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
    ).toBe(2);
    // Raw URLs never become labels.
    expect(text).not.toContain('424242');
    expect(text).not.toContain('12345');
    // A path no API route knows counts under the catch-all route's pattern.
    expect(
      sample(text, 'roster_http_requests_total', { method: 'GET', route: '/*', status: '404' }),
    ).toBe(1);
  });

  it('counts decisions by outcome with latency, and shows the index and the change feed', async () => {
    const kim = await createMember(roster, { email: 'kim@example.com' });
    const ask = (privilege: [string, string]) =>
      roster.post('/api/access/check', {
        subject: { member_id: kim.id },
        environment_type: 'dev',
        resource: privilege[0],
        privilege: privilege[1],
      });
    const before = await scrape();
    const count = (text: string, outcome: string) =>
      sample(text, 'roster_decisions_total', { outcome }) ?? 0;
    expect((await ask(['folder', 'view'])).body.data.allowed).toBe(true);
    expect((await ask(['team', 'invite'])).body.data.allowed).toBe(false);
    expect((await ask(['team', 'invite'])).body.data.allowed).toBe(false);
    const batch = await roster.post('/api/access/check_batch', {
      checks: [
        {
          subject: { member_id: 99999 },
          environment_type: 'dev',
          resource: 'folder',
          privilege: 'view',
        },
      ],
    });
    expect(batch.status).toBe(200);
    const after = await scrape();
    expect(count(after, 'allowed') - count(before, 'allowed')).toBe(1);
    expect(count(after, 'denied') - count(before, 'denied')).toBe(2);
    expect(count(after, 'error') - count(before, 'error')).toBe(1);
    expect(
      sample(after, 'roster_decision_duration_seconds_count', { outcome: 'denied' }),
    ).toBeGreaterThanOrEqual(2);

    expect(sample(after, 'roster_access_index_workspaces')).toBe(1);
    expect(sample(after, 'roster_access_index_build_seconds')).toBeGreaterThan(0);
    expect(sample(after, 'roster_change_feed_lag_events')).toBe(0);
    expect(sample(after, 'roster_change_feed_seconds_since_sync')).toBeGreaterThanOrEqual(0);
    expect(sample(after, 'roster_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts SCIM operations and webhook deliveries', async () => {
    const scim = await roster.request(
      'GET',
      '/scim/v2/00000000-0000-0000-0000-000000000000/Users',
      {
        token: 'not-a-scim-token',
      },
    );
    expect(scim.status).toBe(401);
    const text = await scrape();
    expect(
      sample(text, 'roster_scim_operations_total', {
        method: 'GET',
        resource: 'Users',
        status: '401',
      }),
    ).toBe(1);

    const receiver = await startReceiver();
    try {
      receiver.script(500);
      const hook = await roster.post('/api/webhooks', { url: receiver.url, events: ['feature.*'] });
      expect(hook.status).toBe(201);
      const feature = await roster.post('/api/features', {
        environment_type: 'dev',
        kind: 'assistant',
        name: 'M',
      });
      expect(feature.status).toBe(201);
      await receiver.waitFor(1);
      const afterFailure = await eventually('failed attempt counted', async () => {
        const now = await scrape();
        return sample(now, 'roster_webhook_deliveries_total', { outcome: 'failed' }) === 1
          ? now
          : undefined;
      });
      expect(sample(afterFailure, 'roster_webhook_queue_pending')).toBe(1);
      expect(
        sample(afterFailure, 'roster_webhook_delivery_duration_seconds_count', {
          outcome: 'failed',
        }),
      ).toBe(1);
    } finally {
      await receiver.close();
    }
  });

  it('wants ROSTER_METRICS_TOKEN as a bearer token when it is set', async () => {
    const guarded = await startRoster({
      env: { ROSTER_METRICS_TOKEN: 'metrics-token-0123456789abcdef' },
    });
    try {
      const none = await guarded.get('/metrics', null);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(none.text).not.toContain('roster_');
      expect((await guarded.get('/metrics', 'metrics-token-0123456789abcdeX')).status).toBe(401);
      expect((await guarded.get('/metrics', 'metrics-token')).status).toBe(401);
      // The admin API token is not the metrics token.
      expect((await guarded.get('/metrics')).status).toBe(401);
      const ok = await guarded.get('/metrics', 'metrics-token-0123456789abcdef');
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('roster_http_requests_total');
    } finally {
      await guarded.close();
    }
  });
});

describe('readiness and liveness', () => {
  it('is ready only when every migration ran, and says which are missing', async () => {
    const cluster = await startCluster();
    const store = cluster.openDatabase();
    try {
      const [roster] = cluster.instances;
      const ready = await roster!.get('/readyz', null);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ok', database: 'ok', dialect: testDialect });
      // As if this version started on a database another deployment step has not migrated yet.
      const last = await sql<{ name: string }>`
        select name from kysely_migration order by name desc limit 1`.execute(store.db);
      const name = last.rows[0]!.name;
      const row = await sql<{ timestamp: string }>`
        select timestamp from kysely_migration where name = ${name}`.execute(store.db);
      await sql`delete from kysely_migration where name = ${name}`.execute(store.db);
      const pending = await roster!.get('/readyz', null);
      expect(pending.status).toBe(503);
      expect(pending.body).toMatchObject({
        status: 'unavailable',
        database: 'ok',
        migrations: 'pending',
        error: `Migrations not applied yet: ${name}.`,
      });
      // Liveness does not depend on it.
      expect((await roster!.get('/livez', null)).status).toBe(200);
      expect((await roster!.get('/healthz', null)).body).toEqual({ status: 'ok' });
      await sql`insert into kysely_migration (name, timestamp) values (${name}, ${row.rows[0]!.timestamp})`.execute(
        store.db,
      );
      expect((await roster!.get('/readyz', null)).status).toBe(200);
    } finally {
      await store.close();
      await cluster.close();
    }
  });

  it.skipIf(testDialect === 'sqlite')(
    'goes 503 when PostgreSQL is lost and 200 when it returns, without a restart',
    async () => {
      const database = await createTestDatabase();
      const target = new URL(database.url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-ready-'));
      const config = loadConfig({
        PORT: '0',
        ROSTER_DATA_DIR: dataDir,
        ROSTER_DATABASE_URL: proxy.through(database.url),
        ROSTER_RATE_LIMIT_PER_MINUTE: '0',
      });
      const store = openStore({ url: config.databaseUrl, poolSize: 2 });
      await migrateToLatest(store);
      const { app } = await buildApp({ store, config });
      try {
        await app.listen({ port: 0, host: '127.0.0.1' });
        const address = app.server.address();
        if (address === null || typeof address === 'string') throw new Error('no port');
        const readyz = async () => {
          const res = await fetch(`http://127.0.0.1:${address.port}/readyz`);
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        };
        expect((await readyz()).status).toBe(200);
        await proxy.cut();
        const down = await readyz();
        expect(down).toMatchObject({
          status: 503,
          body: { status: 'unavailable', database: 'unavailable' },
        });
        expect((await fetch(`http://127.0.0.1:${address.port}/livez`)).status).toBe(200);
        await proxy.restore();
        await eventually('ready again', async () =>
          (await readyz()).status === 200 ? true : undefined,
        );
      } finally {
        await app.close();
        await store.close();
        await proxy.close();
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});

describe('logs', () => {
  it('are JSON lines carrying the request ID; probes are not logged at info; errors name their code', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'roster-logs-'));
    const server = await startServer({
      ROSTER_DATA_DIR: dir,
      ROSTER_DATABASE_URL: path.join(dir, 'roster.sqlite'),
    });
    try {
      const members = await server.request('GET', '/api/members', undefined, {
        'x-request-id': 'trace-abc-123',
      });
      expect(members.status).toBe(200);
      expect(members.headers.get('x-request-id')).toBe('trace-abc-123');
      const missing = await server.request('GET', '/api/members/999999', undefined, {
        'x-request-id': 'trace-missing-1',
      });
      expect(missing.status).toBe(404);
      // Not a sane ID: replaced by a generated one.
      const odd = await server.request('GET', '/api/members', undefined, {
        'x-request-id': 'bad id with spaces',
      });
      expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      for (const probe of ['/healthz', '/readyz', '/livez', '/metrics'])
        expect((await fetch(`${server.url}${probe}`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));

      const lines = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'));
      const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logs.length).toBeGreaterThan(4);
      // Every line that is not the start banner's plain words is a JSON object.
      const other = server
        .output()
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('{'));
      for (const line of other)
        expect(line).toMatch(
          /^(Roster is listening on |API reference: |Roster created | {2}Admin API token)/,
        );

      const traced = logs.filter((log) => log.reqId === 'trace-abc-123');
      expect(traced.map((log) => log.msg)).toEqual(['incoming request', 'request completed']);
      const refused = logs.find((log) => log.reqId === 'trace-missing-1' && 'code' in log);
      expect(refused).toMatchObject({ code: 'member.not_found', status: 404 });
      const probes = logs.filter((log) =>
        /^\/(healthz|readyz|livez|metrics)/.test(
          (log.req as { url?: string } | undefined)?.url ?? '',
        ),
      );
      expect(probes).toEqual([]);
      // Every request's lines carry its ID.
      for (const log of logs.filter(
        (l) => l.msg === 'incoming request' || l.msg === 'request completed',
      ))
        expect(typeof log.reqId).toBe('string');
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
