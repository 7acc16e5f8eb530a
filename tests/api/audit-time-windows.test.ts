/**
 * The audit log's time window (`since` inclusive, `until` exclusive) on a log of 12,000 events.
 * A window with fewer than 10,000 events is read through the (workspace_id, created_at, id) index
 * (migration 0038), a larger one by walking the log newest first (audit.repository.ts,
 * SMALL_WINDOW_EVENTS); either way a page, its total and the export hold exactly the events whose
 * time falls in the window, newest ID first. The expected events are read straight from the
 * database with SQL of the test's own (not the server's query), and the log's times are not in
 * the order of its IDs: the server's own events (written first, lower IDs) are later in time than
 * the bulk ones, so a window read as a range of IDs would be caught.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_TOTAL_CAP as TOTAL_CAP,
  // The windows below sit on both sides of it.
  SMALL_WINDOW_EVENTS,
} from '../../packages/server/src/modules/audit/audit.repository.js';
import { openStore, type Store } from '../../packages/server/src/storage/connect.js';
import { testDialect } from '../helpers/database.js';
import { startRoster, type Roster } from '../helpers/roster.js';

/** Events inserted in bulk, one every 10 s from 2026-01-01T00:00:10Z. */
const BULK = 12_000;

/** The time of bulk event i (1-based). */
const at = (i: number): string => new Date(Date.UTC(2026, 0, 1) + i * 10_000).toISOString();

let roster: Roster;
let store: Store;
/** Every event of the workspace (id, time, action), newest ID first: the oracle. */
let log: { id: number; created_at: string; action: string }[];

beforeAll(async () => {
  // A file on SQLite: the bulk insert comes through a second connection, as an operator's would.
  roster = await startRoster({ sqliteFile: true });
  // The server's own events first (a few writes), later in time than every bulk event.
  for (const name of ['Window one', 'Window two', 'Window three']) {
    const created = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name,
    });
    expect(created.status).toBe(201);
  }
  store = openStore({ url: roster.databaseUrl, poolSize: 1, sqliteWriter: 'main' });
  const workspace = await sql<{
    id: number;
  }>`select id from workspaces order by id limit 1`.execute(store.db);
  const workspaceId = workspace.rows[0]!.id;
  const numbers =
    testDialect === 'postgres'
      ? `generate_series(1, ${BULK}) as n(i)`
      : `(with recursive n(i) as (select 1 union all select i + 1 from n where i < ${BULK}) select i from n) as n`;
  const time =
    testDialect === 'postgres'
      ? `to_char(timestamp '2026-01-01' + i * interval '10 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"')`
      : `strftime('%Y-%m-%dT%H:%M:%S.000Z', '2026-01-01', '+' || (i * 10) || ' seconds')`;
  // SSO settings' events: log entries only, which no cache reloads on.
  await sql
    .raw(
      `insert into audit_events (workspace_id, actor_type, actor_id, actor_name, action,
         target_type, target_id, target_name, created_at)
       select ${workspaceId}, 'member', '1', 'Bulk',
         case when i % 2 = 0 then 'sso_oidc.updated' else 'sso_oidc.tested' end,
         'sso_oidc', cast(i as text), 'Bulk', ${time}
       from ${numbers}`,
    )
    .execute(store.db);
  log = (
    await sql<{
      // PostgreSQL's bigint arrives as a string.
      id: number | string;
      created_at: string;
      action: string;
    }>`select id, created_at, action from audit_events where workspace_id = ${workspaceId} order by id desc`.execute(
      store.db,
    )
  ).rows.map((row) => ({ ...row, id: Number(row.id) }));
  expect(log.filter((event) => event.created_at === at(1))).toHaveLength(1);
}, 60_000);
afterAll(async () => {
  await store.close();
  await roster.close();
});

interface Window {
  name: string;
  since?: string;
  until?: string;
  action?: string;
}

/** The window's events from the oracle, newest ID first. */
function expected(window: Window): number[] {
  return log
    .filter(
      (event) =>
        (window.since === undefined || event.created_at >= window.since) &&
        (window.until === undefined || event.created_at < window.until) &&
        (window.action === undefined || event.action === window.action),
    )
    .map((event) => event.id);
}

function query(window: Window): string {
  const parts: string[] = [];
  if (window.since !== undefined) parts.push(`since=${encodeURIComponent(window.since)}`);
  if (window.until !== undefined) parts.push(`until=${encodeURIComponent(window.until)}`);
  if (window.action !== undefined) parts.push(`action=${window.action}`);
  return parts.join('&');
}

const WINDOWS: { window: Window; events: 'few' | 'many' | 'none' }[] = [
  // A poller's `since`: the last 30 bulk events, and the server's own (later) events.
  { window: { name: 'since the last 30 bulk events', since: at(BULK - 29) }, events: 'few' },
  {
    window: { name: 'since a time after every event', since: '2030-01-01T00:00:00.000Z' },
    events: 'none',
  },
  {
    window: { name: 'until a time before every event', until: '2025-01-01T00:00:00.000Z' },
    events: 'none',
  },
  {
    window: { name: 'a window of 2,000 in the middle', since: at(5001), until: at(7001) },
    events: 'few',
  },
  { window: { name: 'until the 6,000th bulk event', until: at(6000) }, events: 'few' },
  { window: { name: 'until the 11,000th bulk event', until: at(11_000) }, events: 'many' },
  { window: { name: 'since the 1,500th bulk event', since: at(1500) }, events: 'many' },
  {
    window: { name: 'from the 100th to the 11,000th', since: at(100), until: at(11_000) },
    events: 'many',
  },
  {
    window: {
      name: 'one action, 2,000 in time',
      since: at(5001),
      until: at(7001),
      action: 'sso_oidc.tested',
    },
    events: 'few',
  },
  {
    window: { name: 'one action, 11,000 in time', until: at(11_001), action: 'sso_oidc.tested' },
    events: 'many',
  },
];

describe('a time window of the audit log', () => {
  it('has its windows on both sides of the index read', () => {
    for (const { window, events } of WINDOWS) {
      const inTime = expected({ ...window, action: undefined }).length;
      if (events === 'none') expect(inTime, window.name).toBe(0);
      if (events === 'few') expect(inTime, window.name).toBeGreaterThan(0);
      if (events === 'few') expect(inTime, window.name).toBeLessThan(SMALL_WINDOW_EVENTS);
      if (events === 'many')
        expect(inTime, window.name).toBeGreaterThanOrEqual(SMALL_WINDOW_EVENTS);
    }
  });

  for (const { window } of WINDOWS)
    it(`lists ${window.name}: pages and total as the events' times say`, async () => {
      const ids = expected(window);
      for (const number of [1, 3]) {
        const page = await roster.get(
          `/api/audit_events?page[size]=100&page[number]=${number}&${query(window)}`,
        );
        expect(page.status).toBe(200);
        expect(page.body.data.map((event: { id: number }) => event.id)).toEqual(
          ids.slice((number - 1) * 100, number * 100),
        );
        expect(page.body.total).toBe(Math.min(ids.length, TOTAL_CAP));
      }
    });

  it('exports exactly a small window and a large one', async () => {
    for (const window of [WINDOWS[3]!.window, WINDOWS[5]!.window]) {
      const exported = await roster.get(`/api/audit_events?format=ndjson&${query(window)}`);
      expect(exported.status).toBe(200);
      const ids = exported.text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => (JSON.parse(line) as { id: number }).id);
      expect(ids).toEqual(expected(window));
    }
  });

  it('answers the same after new events join a small window', async () => {
    const window: Window = { name: 'since the last 30 bulk events', since: at(BULK - 29) };
    const before = await roster.get(`/api/audit_events?page[size]=100&${query(window)}`);
    const created = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Window four',
    });
    expect(created.status).toBe(201);
    const after = await roster.get(`/api/audit_events?page[size]=100&${query(window)}`);
    const totalBefore: number = before.body.total;
    expect(after.body.total).toBe(totalBefore + 1);
    expect(after.body.data[0].target).toMatchObject({ type: 'feature', name: 'Window four' });
    expect(after.body.data.slice(1)).toEqual(before.body.data);
  });
});
