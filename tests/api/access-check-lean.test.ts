/**
 * `POST /api/access/check` is served below Fastify (http/lean-path.ts,
 * modules/decisions/decisions.lean.ts) unless ROSTER_LEAN_CHECKS=false. The two must be
 * indistinguishable to a client: two servers with the same data, one of each, get the same
 * requests (valid checks, allowed and denied; bodies that are not JSON, nest too deep, poison the
 * prototype, have wrong types or miss fields; unknown members, projects and end users; a privilege
 * outside the catalogue; no token, a revoked one, a rotated one's old token; an oversized body; a
 * wrong content type; a query string; a caller's request ID) and must answer with the same status,
 * body and headers (the date and a generated request ID aside). /metrics shows that the lean
 * server answered the checks itself and counted them as Fastify's route does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createMember, startRoster, type Roster } from '../helpers/roster.js';

let lean: Roster;
let viaFastify: Roster;

/** What each server's setup produced; the same IDs on both (fresh databases, same writes). */
interface Fixture {
  memberId: number;
  otherId: number;
  projectId: number;
  revokedToken: string;
  rotatedOldToken: string;
  liveToken: string;
}
const fixtures = new Map<Roster, Fixture>();

async function setUp(roster: Roster): Promise<Fixture> {
  const role = await roster.post('/api/project_roles', {
    project_role: { name: 'Recipe runners', config: { recipe: { privileges: ['read', 'run'] } } },
  });
  expect(role.status).toBe(200);
  const project = await roster.post('/api/projects', { name: 'Payments', environment_type: 'dev' });
  expect(project.status).toBe(201);
  const member = await createMember(roster, {
    email: 'ada@example.com',
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
  const other = await createMember(roster, {
    email: 'bob@example.com',
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
  const grant = await roster.put(`/api/projects/${project.body.data.id}/project_grants`, {
    project_grants: [
      {
        assignment_type: 'User',
        assignment_id: String(member.id),
        project_role_id: role.body.data.id,
      },
    ],
  });
  expect(grant.status).toBe(200);
  const client = async (name: string) => {
    const res = await roster.post('/api/api_clients', { name, scopes: ['read'] });
    expect(res.status).toBe(201);
    return res.body.data as { id: number; token: string };
  };
  const revoked = await client('revoked');
  const rotated = await client('rotated');
  const live = await client('live');
  // Each token used once, so that it is in the cache before it is revoked or rotated.
  for (const token of [revoked.token, rotated.token, live.token]) {
    const res = await roster.request('POST', '/api/access/check', {
      body: { subject: { member_id: member.id }, project_id: project.body.data.id },
      token,
    });
    expect(res.status).toBeLessThan(500);
  }
  expect((await roster.delete(`/api/api_clients/${revoked.id}`)).status).toBeLessThan(300);
  expect((await roster.post(`/api/api_clients/${rotated.id}/rotate`)).status).toBe(200);
  return {
    memberId: member.id,
    otherId: other.id,
    projectId: project.body.data.id as number,
    revokedToken: revoked.token,
    rotatedOldToken: rotated.token,
    liveToken: live.token,
  };
}

beforeAll(async () => {
  lean = await startRoster();
  viaFastify = await startRoster({ env: { ROSTER_LEAN_CHECKS: 'false' } });
  for (const roster of [lean, viaFastify]) fixtures.set(roster, await setUp(roster));
  expect(fixtures.get(lean)?.memberId).toBe(fixtures.get(viaFastify)?.memberId);
  expect(fixtures.get(lean)?.projectId).toBe(fixtures.get(viaFastify)?.projectId);
});
afterAll(async () => {
  await lean.close();
  await viaFastify.close();
});

interface Sent {
  /** The body as sent (a string is sent as it is). */
  body: (f: Fixture) => unknown;
  /** Which token: the admin's (default), none, or one of the fixture's. */
  token?: (f: Fixture) => string | null;
  headers?: Record<string, string>;
  path?: string;
}

interface Answer {
  status: number;
  text: string;
  headers: Record<string, string>;
}

async function send(roster: Roster, request: Sent): Promise<Answer> {
  const f = fixtures.get(roster);
  if (f === undefined) throw new Error('no fixture');
  const token = request.token === undefined ? ADMIN_TOKEN : request.token(f);
  const body = request.body(f);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    ...request.headers,
  };
  const res = await fetch(`${roster.url}${request.path ?? '/api/access/check'}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const all: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    all[name] = value;
  });
  return { status: res.status, text: await res.text(), headers: all };
}

/**
 * The answer without what differs by nature: the date, a generated request ID's value, and the
 * random public IDs of the roles and grants each server made (`pr-…`, `pg-…`, the same length).
 */
function comparable(answer: Answer, givenRequestId: string | undefined) {
  const { date, 'x-request-id': requestId, ...headers } = answer.headers;
  expect(date).toEqual(expect.any(String));
  if (givenRequestId === undefined) expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  else expect(requestId).toBe(givenRequestId);
  const text = answer.text.replace(/"(p[rg])-[A-Za-z0-9_-]{16}"/g, '"$1-…"');
  return { status: answer.status, text, headers };
}

const cases: [string, Sent][] = [
  [
    'an allowed check',
    {
      body: (f) => ({
        subject: { member_id: f.memberId },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'run',
      }),
    },
  ],
  [
    'a denied check',
    {
      body: (f) => ({
        subject: { member_id: f.otherId },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'run',
      }),
    },
  ],
  [
    'a check with unknown fields (removed) and the charset in the content type',
    {
      body: (f) => ({
        subject: { member_id: f.memberId, extra: 1 },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'read',
        extra: 'x',
      }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    },
  ],
  [
    'an explained check by email',
    {
      body: (f) => ({
        subject: { email: 'ada@example.com' },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'read',
        explain: true,
      }),
    },
  ],
  [
    "a caller's request ID",
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      headers: { 'x-request-id': 'trace-42.a:b' },
    },
  ],
  [
    'an insane request ID (replaced)',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      headers: { 'x-request-id': 'no spaces allowed' },
    },
  ],
  ['a body that is not JSON', { body: () => '{"subject": {"member_id": ' }],
  ['an empty body', { body: () => '' }],
  ['a body nesting too deep', { body: () => '['.repeat(500) + ']'.repeat(500) }],
  [
    'a poisoned prototype',
    { body: () => '{"subject":{"member_id":1},"project_id":1,"__proto__":{"x":1}}' },
  ],
  ['wrong types', { body: () => ({ subject: { member_id: 'one' }, project_id: true }) }],
  ['missing fields', { body: () => ({}) }],
  ['a JSON array', { body: () => [1, 2] }],
  [
    'an unknown member',
    { body: (f) => ({ subject: { member_id: 987_654 }, project_id: f.projectId }) },
  ],
  [
    'an unknown email',
    { body: (f) => ({ subject: { email: 'nobody@example.com' }, project_id: f.projectId }) },
  ],
  [
    'an unknown project',
    { body: (f) => ({ subject: { member_id: f.memberId }, project_id: 987_654 }) },
  ],
  [
    'a privilege outside the catalogue',
    {
      body: (f) => ({
        subject: { member_id: f.memberId },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'fly',
      }),
    },
  ],
  ['an unknown end user', { body: () => ({ subject: { end_user_id: 987_654 }, feature_id: 1 }) }],
  [
    'no token',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      token: () => null,
    },
  ],
  [
    'an unknown token',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      token: () => 'rst_not_a_token_of_anyone_0123456789',
    },
  ],
  [
    'a revoked token',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      token: (f) => f.revokedToken,
    },
  ],
  [
    "a rotated client's old token",
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      token: (f) => f.rotatedOldToken,
    },
  ],
  [
    "another API client's token",
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      token: (f) => f.liveToken,
    },
  ],
  [
    'a body over the 1 MiB limit',
    {
      body: (f) => ({
        subject: { member_id: f.memberId },
        project_id: f.projectId,
        padding: 'x'.repeat(1024 * 1024),
      }),
    },
  ],
  [
    'a large valid body (read by Fastify, under its limit)',
    {
      body: (f) => ({
        subject: { member_id: f.memberId },
        project_id: f.projectId,
        padding: 'x'.repeat(40_000),
      }),
    },
  ],
  [
    'a wrong content type',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      headers: { 'content-type': 'text/plain' },
    },
  ],
  [
    'a query string',
    {
      body: (f) => ({ subject: { member_id: f.memberId }, project_id: f.projectId }),
      path: '/api/access/check?explain=true',
    },
  ],
];

describe('POST /api/access/check below Fastify and through it', () => {
  it.each(cases)('answers %s alike', async (_name, request) => {
    // Twice each: the first request of a kind may warm a cache the second one uses.
    for (let round = 0; round < 2; round += 1) {
      const [a, b] = [await send(lean, request), await send(viaFastify, request)];
      const given = request.headers?.['x-request-id'];
      const sane =
        given !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : undefined;
      expect(comparable(a, sane)).toEqual(comparable(b, sane));
    }
  });

  it('answers the checks below Fastify, counted as the route counts them', async () => {
    const scrape = async (roster: Roster) => (await roster.get('/metrics', null)).text;
    const leanAnswers = (text: string) =>
      Number(/^roster_http_lean_answers_total (\d+)$/m.exec(text)?.[1] ?? 'NaN');
    const before = leanAnswers(await scrape(lean));
    const body = (f: Fixture) => ({
      subject: { member_id: f.memberId },
      project_id: f.projectId,
      resource: 'recipe',
      privilege: 'run',
    });
    for (let i = 0; i < 5; i += 1) {
      expect((await send(lean, { body })).status).toBe(200);
      expect((await send(viaFastify, { body })).status).toBe(200);
    }
    const [leanText, fastifyText] = [await scrape(lean), await scrape(viaFastify)];
    expect(leanAnswers(leanText) - before).toBe(5);
    expect(leanAnswers(fastifyText)).toBe(0);
    // The request and decision metrics agree: the same series, the same counts.
    const counts = (text: string) =>
      text
        .split('\n')
        .filter(
          (line) =>
            line.startsWith(
              'roster_http_request_duration_seconds_count{method="POST",route="/api/access/check"',
            ) || line.startsWith('roster_decisions_total'),
        );
    expect(counts(leanText).length).toBeGreaterThan(0);
    expect(counts(leanText)).toEqual(counts(fastifyText));
  });
});
