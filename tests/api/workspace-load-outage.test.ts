/**
 * Issue 14, "a workspace that fails to load (… database down) answers 503 for that workspace only
 * and is retried; other workspaces keep serving": a real server process (dist/main.js) on
 * PostgreSQL through a TCP proxy the test cuts. Workspaces load on first use
 * (ROSTER_INDEX_WARM=false); while the database is unreachable, a workspace already loaded keeps
 * answering its decisions from memory, a cold one answers 503 with Retry-After naming itself, the
 * process stays up, and once the database is back the cold one loads and answers like the others.
 * (tests/api/access-tenants.test.ts covers the other cause, a corrupt row.)
 *
 * PostgreSQL only: a SQLite database is a file the process holds open, it cannot go "down".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { startServer, type Server } from '../helpers/spawned-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const PLATFORM = 'platform_outage_token_0123456789';

interface Tenant {
  id: number;
  token: string;
  endUser: number;
  feature: number;
}

let database: TestDatabase;
let proxy: TcpProxy;

async function createTenant(server: Server, name: string): Promise<Tenant> {
  const created = await server.request(
    'POST',
    '/platform/workspaces',
    { name },
    {
      authorization: `Bearer ${PLATFORM}`,
    },
  );
  expect(created.status).toBe(201);
  const token = created.body.data.admin_token as string;
  const as = { authorization: `Bearer ${token}` };
  const user = await server.request(
    'POST',
    '/api/end_users',
    {
      name: 'Ada',
      email: `ada@${name.toLowerCase().replace(/\W/g, '')}.example.com`,
      environment_types: ['dev'],
    },
    as,
  );
  expect(user.status).toBe(201);
  const feature = await server.request(
    'POST',
    '/api/features',
    { environment_type: 'dev', kind: 'assistant', name: 'Helper' },
    as,
  );
  expect(feature.status).toBe(201);
  const granted = await server.request(
    'POST',
    `/api/features/${String(feature.body.data.id)}/access`,
    { end_user_ids: [user.body.data.id] },
    as,
  );
  expect(granted.status).toBeLessThan(300);
  return {
    id: created.body.data.id as number,
    token,
    endUser: user.body.data.id as number,
    feature: feature.body.data.id as number,
  };
}

/** A decision that writes nothing (dry run): answered from the workspace's index. */
function decide(server: Server, tenant: Tenant) {
  return server.request(
    'POST',
    '/api/end_users/decisions?dry_run=true',
    { environment_type: 'dev', end_user_id: tenant.endUser, feature_id: tenant.feature },
    { authorization: `Bearer ${tenant.token}` },
  );
}

beforeAll(async () => {
  if (testDialect !== 'postgres') return;
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
});

afterAll(async () => {
  if (testDialect !== 'postgres') return;
  await proxy.close();
  await database.drop();
});

describe.skipIf(testDialect !== 'postgres')(
  'a workspace that cannot load because the database is down',
  { timeout: 120_000 },
  () => {
    it('answers 503 for that workspace only, keeps the loaded ones serving, and loads it once the database is back', async () => {
      const env = {
        ROSTER_DATABASE_URL: proxy.through(database.url),
        ROSTER_PLATFORM_TOKEN: PLATFORM,
        ROSTER_INDEX_WARM: 'false',
      };
      const setup = await startServer(env);
      let warm: Tenant;
      let cold: Tenant;
      try {
        warm = await createTenant(setup, 'Warm Co');
        cold = await createTenant(setup, 'Cold Co');
      } finally {
        await setup.stop();
      }
      // A new process: no workspace is loaded until it is asked about.
      const server = await startServer(env);
      try {
        const before = await decide(server, warm);
        expect(before.status).toBe(200);
        expect(before.body.data.decision).toBe('allow');

        await proxy.cut();
        try {
          // The loaded workspace answers from memory, again and again.
          for (let i = 0; i < 5; i++) {
            const during = await decide(server, warm);
            expect(during.status, JSON.stringify(during.body)).toBe(200);
            expect(during.body.data).toEqual(before.body.data);
          }
          // The cold one cannot load: 503 for it, saying which, with Retry-After.
          const failed = await decide(server, cold);
          expect(failed.status).toBe(503);
          expect(failed.headers.get('retry-after')).not.toBeNull();
          expect(failed.body.errors[0].code).toBe('service_unavailable');
          // …and the loaded one still answers after that failure.
          expect((await decide(server, warm)).status).toBe(200);
          expect((await fetch(`${server.url}/livez`)).status).toBe(200);
        } finally {
          await proxy.restore();
        }
        // Retried: once the database is back the cold workspace loads and answers.
        const started = Date.now();
        let after = await decide(server, cold);
        while (after.status !== 200 && Date.now() - started < 20_000) {
          expect(after.status).toBe(503);
          await new Promise((resolve) => setTimeout(resolve, 200));
          after = await decide(server, cold);
        }
        expect(after.status).toBe(200);
        expect(after.body.data.decision).toBe('allow');
        expect(server.output()).not.toMatch(/"level":60/);
      } finally {
        await server.stop();
      }
    });
  },
);

it.skipIf(testDialect === 'postgres')(
  'skips the database-outage case on SQLite (a file the process holds open cannot go down)',
  () => undefined,
);
