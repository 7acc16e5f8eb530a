/**
 * Malformed input that used to answer 500 (found by a fuzzer; tests/api/fuzz.test.ts keeps
 * looking): deeply nested JSON, numbers that are not finite or beyond a column's range, and SCIM
 * filters comparing `id` with a number. Each is a 400 naming the problem, on both stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundedInteger } from '@roster/contracts';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { migrateToLatest, openStore } from '../../packages/server/src/storage/connect.js';
import { createMember, startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, type ScimClient } from '../scim/helpers.js';

let roster: Roster;
let groupId: string;
beforeAll(async () => {
  roster = await startRoster();
  await createMember(roster, { email: 'bad-input@example.com' });
  const group = await roster.post('/api/user_groups', { user_group: { name: 'Bad input' } });
  groupId = group.body.data.id;
});
afterAll(async () => {
  await roster.close();
});

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const DEPTH_TITLE = 'The JSON body nests deeper than 400 levels of arrays and objects';

describe('deeply nested JSON', () => {
  it('answers 400 to 10,000 levels on authenticated and unauthenticated endpoints', async () => {
    const body = `{"user_group":{"name":${nested(10_000)}}}`;
    const authed = await roster.request('POST', '/api/user_groups', { body });
    expect(authed.status).toBe(400);
    expect(authed.body).toEqual({ errors: [{ code: 'bad_request', title: DEPTH_TITLE }] });

    const invitation = await roster.request('POST', '/invitations/inv_0123456789abcdef/accept', {
      body: nested(10_000),
      token: null,
    });
    expect(invitation.status).toBe(400);
    const console = await roster.request('POST', '/api/console/session', {
      body: `{"email":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      token: null,
    });
    expect(console.status).toBe(400);
    expect(console.text).toContain(DEPTH_TITLE);
  });

  it('counts brackets inside strings as text, and accepts 400 levels', async () => {
    const brackets = await roster.post('/api/user_groups', {
      user_group: { name: `${'['.repeat(150)}${'{'.repeat(50)}` },
    });
    expect(brackets.status).toBe(200);
    // 1,000 brackets after an escaped quote and an escaped backslash are still inside the string:
    // the answer is about its length, not about nesting.
    const escaped = await roster.post('/api/user_groups', {
      user_group: { name: `a"\\"${'['.repeat(1000)}` },
    });
    expect(escaped.status).toBe(400);
    expect(escaped.body.errors[0].title).toBe(
      'user_group.name must NOT have more than 200 characters',
    );
    // 400 levels parse and reach validation, which refuses the shape (not the depth).
    const deepButAllowed = await roster.request('POST', '/api/user_groups', {
      body: `{"user_group":{"name":${nested(398)}}}`,
    });
    expect(deepButAllowed.status).toBe(400);
    expect(deepButAllowed.body.errors[0].title).toBe('user_group.name must be string');
    const tooDeep = await roster.request('POST', '/api/user_groups', {
      body: `{"user_group":{"name":${nested(399)}}}`,
    });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors[0].title).toBe(DEPTH_TITLE);
  });

  it('answers a SCIM 400 to deep nesting on SCIM endpoints', async () => {
    const connection = await createConnection(roster, 'test');
    const deep = await roster.request('POST', `/scim/v2/${connection.id}/Users`, {
      body: `{"userName":${nested(10_000)}}`,
      token: connection.token,
      headers: { 'content-type': 'application/scim+json' },
    });
    expect(deep.status).toBe(400);
    expect(deep.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect(deep.body.detail).toBe(DEPTH_TITLE);
  });
});

describe('numbers outside what the store can hold', () => {
  it('answers 400 to non-finite page numbers and sizes on every list endpoint', async () => {
    for (const list of ['/api/members', '/api/user_groups', '/api/projects', '/api/end_users']) {
      for (const value of ['1e400', 'Infinity', '-Infinity', '9'.repeat(400)]) {
        for (const key of ['page[number]', 'page[size]']) {
          const res = await roster.get(`${list}?${key}=${value}`);
          expect(res.status, `${list} ${key}=${value}`).toBe(400);
          expect(res.body.errors[0].title, `${list} ${key}=${value}`).toMatch(
            /^page\[(number|size)\] must (be a finite number|be <= \d+)$/,
          );
        }
      }
    }
    const finite = await roster.get('/api/members?page[number]=1e400');
    expect(finite.body).toEqual({
      errors: [{ code: 'bad_request', title: 'page[number] must be a finite number' }],
    });
  });

  it('answers 400 to non-finite numbers in integer arrays of the query', async () => {
    for (const query of ['user_ids=1e400', 'user_ids[]=Infinity', 'user_ids=1&user_ids=1e400']) {
      const res = await roster.delete(`/api/user_groups/${groupId}/members?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.errors[0].title, query).toMatch(/must be a finite number/);
    }
  });

  it('answers 400 to IDs beyond the 32-bit ID columns in bodies and queries', async () => {
    const migration = await roster.post('/api/roles_migration/custom_role', {
      privilege_group_id: 1e21,
      environment_role: { name: 'E' },
      project_role: { name: 'P' },
    });
    expect(migration.status).toBe(400);
    expect(migration.body.errors[0].title).toBe('privilege_group_id must be <= 2147483647');

    const check = await roster.post('/api/access/check', {
      subject: { member_id: 2_147_483_648 },
      environment_type: 'dev',
      resource: 'Recipes',
      privilege: 'read',
    });
    expect(check.status).toBe(400);
    expect(check.body.errors[0].title).toBe('subject.member_id must be <= 2147483647');

    // Sent as text: 2^53 + 1 is not a double, and JSON.stringify would round it.
    const members = await roster.request('POST', `/api/user_groups/${groupId}/members`, {
      body: '{"user_ids":[9007199254740993]}',
    });
    expect(members.status).toBe(400);
    const approvals = await roster.get('/api/approval_requests?end_user_id=2147483648');
    expect(approvals.status).toBe(400);
    expect(approvals.body.errors[0].title).toBe('end_user_id must be <= 2147483647');
    // The largest ID is a valid question: nothing has it.
    const largest = await roster.get('/api/approval_requests?end_user_id=2147483647');
    expect(largest.status).toBe(200);
  });
});

describe('date-times', () => {
  it('answers 400 to a leap second, which RFC 3339 allows and Date cannot hold', async () => {
    const since = await roster.get('/api/audit_events?since=2016-12-31T23:59:60Z');
    expect(since.status).toBe(400);
    expect(since.body.errors[0].title).toBe('since must match format "date-time"');
    const member = await createMember(roster, { email: 'leap@example.com' });
    const add = await roster.post(`/api/user_groups/${groupId}/members`, {
      user_ids: [member.id],
      expires_at: '2030-06-30T23:59:60Z',
    });
    expect(add.status).toBe(400);
    expect(add.body.errors[0].title).toBe('expires_at must match format "date-time"');
    const fine = await roster.post(`/api/user_groups/${groupId}/members`, {
      user_ids: [member.id],
      expires_at: '2030-06-30T23:59:59Z',
    });
    expect(fine.status).toBe(200);
  });
});

describe('SCIM', () => {
  let scim: ScimClient;
  const ids: string[] = [];
  beforeAll(async () => {
    scim = scimClient(roster, await createConnection(roster, 'prod'));
    for (const name of ['ann', 'ben', 'cid']) {
      const created = await scim.request('POST', '/Users', { userName: `${name}@example.com` });
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
  });
  const filter = (f: string) => scim.request('GET', `/Users?filter=${encodeURIComponent(f)}`);

  it('refuses a number compared with id (a string attribute) with invalidFilter', async () => {
    for (const f of [
      'id eq 1.5',
      'id gt 1.5',
      'id eq 1e400',
      `id eq ${'9'.repeat(40)}`,
      'id lt 2',
    ]) {
      const res = await filter(f);
      expect(res.status, f).toBe(400);
      expect(res.body.scimType, f).toBe('invalidFilter');
      expect(res.body.detail, f).toMatch(/^id compares with a string, not /);
    }
  });

  it('compares id strings: eq finds the ID, gt compares the text, odd strings match nothing', async () => {
    const [first] = ids as [string];
    expect(
      (await filter(`id eq "${first}"`)).body.Resources.map((r: { id: string }) => r.id),
    ).toEqual([first]);
    for (const odd of ['1.5', '1e400', '9'.repeat(40), '2147483648', '-1']) {
      const res = await filter(`id eq "${odd}"`);
      expect(res.status, odd).toBe(200);
      expect(res.body.totalResults, odd).toBe(0);
    }
    // Lexicographic (RFC 7644 §3.4.2.2 for strings): every ID's text is greater than "0".
    const all = await filter('id gt "0"');
    expect(all.status).toBe(200);
    expect(all.body.totalResults).toBe(3);
    const none = await filter('id lt "0"');
    expect(none.body.totalResults).toBe(0);
  });

  it('answers an empty page to a startIndex beyond any row, in the query and in .search', async () => {
    for (const startIndex of [1e21, 9_223_372_036_854_775_808, 1e308]) {
      const res = await scim.request('POST', '/Users/.search', { startIndex });
      expect(res.status, String(startIndex)).toBe(200);
      expect(res.body.totalResults).toBe(3);
      expect(res.body.Resources ?? []).toEqual([]);
    }
    const query = await scim.request('GET', '/Users?startIndex=2147483647');
    expect(query.status).toBe(200);
    expect(query.body.Resources ?? []).toEqual([]);
  });
});

describe('the rule that every request number is bounded', () => {
  async function appWithRoute(schema: Record<string, unknown>) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-bounds-'));
    const store = openStore({ url: ':memory:', poolSize: 1 });
    await migrateToLatest(store);
    const { app } = await buildApp({
      store,
      config: loadConfig({ ROSTER_DATA_DIR: dataDir, ROSTER_DATABASE_URL: ':memory:' }),
    });
    app.post('/extra', { schema }, () => ({}));
    return {
      ready: () => app.ready(),
      async close() {
        await app.close();
        await store.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  }

  it('refuses to start with a route whose body or query has an unbounded integer', async () => {
    for (const schema of [
      { body: Type.Object({ n: Type.Integer({ minimum: 1 }) }) },
      { querystring: Type.Object({ ids: Type.Array(Type.Number({ maximum: 5 })) }) },
      { body: Type.Object({ a: Type.Union([Type.String(), Type.Integer()]) }) },
    ]) {
      const app = await appWithRoute(schema);
      await expect(app.ready()).rejects.toThrow(
        /POST \/extra (body|querystring): every integer and number in a request schema needs a minimum and a maximum/,
      );
      await app.close().catch(() => undefined);
    }
  });

  it('starts with bounded integers', async () => {
    const app = await appWithRoute({ body: Type.Object({ n: BoundedInteger(0, 10) }) });
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });
});
