/**
 * Migration 0015 on a database that already holds approval requests, on both stores: requests
 * made through the API, the migration taken down to the schema before it and run up again. What
 * the rows then say is what an upgraded install sees: pending requests expire a day after they
 * opened, approvals of the old kind are for one call, and old rejections count as reported (so
 * the first call after the upgrade asks again, as it did before).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import {
  migrateToLatest,
  openStore,
  type Store,
} from '../../packages/server/src/storage/connect.js';
import { approvalFlowsMigration } from '../../packages/server/src/storage/migrations/0015-approval-flows.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const TOKEN = 'rst_migration_admin_token_0123456789';

let database: TestDatabase;
let store: Store;
let dataDir: string;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'roster-approval-migration-'));
  store = openStore({ url: database.url, poolSize: 2 });
  await migrateToLatest(store);
  const built = await buildApp({
    store,
    config: loadConfig({
      ROSTER_DATA_DIR: dataDir,
      ROSTER_DATABASE_URL: database.url,
      ROSTER_ADMIN_TOKEN: TOKEN,
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    }),
  });
  app = built.app;
  await built.services.workspaces.ensureDefaultWorkspace(TOKEN);
});

afterAll(async () => {
  await app.close();
  await store.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function api(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${TOKEN}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  return { status: res.statusCode, body: res.json() };
}

it('backfills expiry, scope and reported rejections when it runs on existing requests', async () => {
  const user = (
    await api('POST', '/api/end_users', {
      name: 'Mia',
      email: 'mia@example.com',
      environment_types: ['dev'],
    })
  ).body.data.id;
  const requestFor = async (name: string) => {
    const feature = (
      await api('POST', '/api/features', { environment_type: 'dev', kind: 'mcp_server', name })
    ).body.data.id;
    await api('POST', '/api/policies', {
      environment_type: 'dev',
      name,
      feature_id: feature,
      scope: { type: 'all' },
      effect: 'require_approval',
    });
    const asked = await api('POST', '/api/end_users/decisions', {
      environment_type: 'dev',
      end_user_id: user,
      feature_id: feature,
    });
    return { feature, id: asked.body.data.approval_request_id as number };
  };
  const pending = await requestFor('Pending');
  const approved = await requestFor('Approved');
  const rejected = await requestFor('Rejected');
  expect((await api('POST', `/api/approval_requests/${approved.id}/approve`)).status).toBe(200);
  expect((await api('POST', `/api/approval_requests/${rejected.id}/reject`)).status).toBe(200);

  // Kysely<any>, as migrations take it: the schema before 0015 is not today's row types.
  const db = store.db as unknown as Kysely<any>;
  const migration = approvalFlowsMigration(store.dialect);
  if (migration.down === undefined) throw new Error('0015 has no down migration');
  await migration.down(db);
  await migration.up(db);

  const rows = await store.db
    .selectFrom('approval_requests')
    .select(['id', 'status', 'created_at', 'decided_at', 'expires_at', 'scope', 'used_at'])
    .orderBy('id')
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const p = byId.get(pending.id);
  expect(Date.parse(p?.expires_at ?? '') - Date.parse(p?.created_at ?? '')).toBe(86_400_000);
  expect(byId.get(approved.id)).toMatchObject({ status: 'approved', scope: 'once' });
  const r = byId.get(rejected.id);
  expect(r).toMatchObject({ status: 'rejected', scope: null });
  expect(r?.used_at).toBe(r?.decided_at);

  // The upgraded rows behave: the old approval is good for one call; the old rejection was
  // already answered, so the next call asks again.
  const decide = (feature: number) =>
    api('POST', '/api/end_users/decisions', {
      environment_type: 'dev',
      end_user_id: user,
      feature_id: feature,
    });
  expect((await decide(approved.feature)).body.data.decision).toBe('allow');
  const again = await decide(rejected.feature);
  expect(again.body.data.decision).toBe('require_approval');
  expect(again.body.data.approval_request_id).not.toBe(rejected.id);
});
