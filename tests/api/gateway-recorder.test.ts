/**
 * The gateway's tool-call log (modules/gateway/tool-call-recorder.ts) on a real store of this
 * run's dialect: a call only appends to a buffer (nothing is written while the call is answered),
 * the buffer is written in batches, and closing (the app's shutdown) writes what is still
 * buffered: records are not lost on a clean stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import {
  migrateToLatest,
  openStore,
  type Store,
} from '../../packages/server/src/storage/connect.js';
import {
  ToolCallRecorder,
  type ToolCallRecord,
} from '../../packages/server/src/modules/gateway/tool-call-recorder.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let store: Store;
let workspaceId: number;

beforeAll(async () => {
  database = await createTestDatabase();
  store = openStore({ url: database.url, poolSize: 2 });
  await migrateToLatest(store);
  const row = await store.db
    .insertInto('workspaces')
    .values({ name: 'Recorder', environments_enabled: 1, created_at: new Date().toISOString() })
    .returning('id')
    .executeTakeFirstOrThrow();
  workspaceId = row.id;
});
afterAll(async () => {
  await store.close();
  await database.drop();
});

const record = (i: number): ToolCallRecord => ({
  workspaceId,
  agent: { id: 7, name: 'Recorder agent' },
  endUser: { id: 3, email: 'ada@example.com' },
  feature: { id: 5, name: 'Tickets MCP' },
  method: 'tools/call',
  name: `tool_${i}`,
  decision: i % 2 === 0 ? 'allow' : 'deny',
  reasons: [`reason ${i}`],
  approvalRequestId: null,
  upstreamStatus: i % 2 === 0 ? 'ok' : 'not_called',
  latencyMs: 1.5,
  at: new Date().toISOString(),
});

async function written(): Promise<number> {
  const row = await store.db
    .selectFrom('audit_events')
    .select(sql<number>`cast(count(*) as integer)`.as('n'))
    .where('action', '=', 'agent.tool_call')
    .executeTakeFirstOrThrow();
  return row.n;
}

describe('the tool-call recorder', () => {
  it('writes nothing while recording, and everything buffered when closed', async () => {
    const recorder = new ToolCallRecorder(store.db);
    for (let i = 0; i < 1_234; i++) recorder.record(record(i));
    // record() never waits for a write: nothing is written until the caller yields.
    expect(recorder.stats).toMatchObject({ recorded: 1_234, written: 0 });
    await recorder.close();
    expect(await written()).toBe(1_234);
    expect(recorder.stats).toMatchObject({ recorded: 1_234, written: 1_234, dropped: 0 });
    const last = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'agent.tool_call')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(last).toMatchObject({
      actor_type: 'agent',
      actor_id: '7',
      actor_name: 'Recorder agent',
      target_type: 'agent',
      target_id: '7',
    });
    expect(JSON.parse(last.after_json ?? '{}')).toMatchObject({
      end_user_id: 3,
      feature_id: 5,
      tool: 'tool_1233',
      decision: 'deny',
      upstream_status: 'not_called',
      reasons: ['reason 1233'],
    });
  });

  it('keeps the first 500 characters of a caller’s over-long tool name', async () => {
    const recorder = new ToolCallRecorder(store.db);
    recorder.record({ ...record(1), name: `long_${'x'.repeat(100_000)}` });
    await recorder.close();
    const last = await store.db
      .selectFrom('audit_events')
      .select('after_json')
      .where('action', '=', 'agent.tool_call')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const tool = (JSON.parse(last.after_json ?? '{}') as { tool: string }).tool;
    expect(tool).toBe(`long_${'x'.repeat(495)}`);
  });
});
