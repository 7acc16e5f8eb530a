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
 *
 * With the rate limit on, the two count each caller in one counter whichever path answers (the
 * same `ratelimit-*` headers request after request, checks and other routes mixed) and refuse the
 * request over the limit alike. In a cluster (two instances on PostgreSQL), a check homed on the
 * instance asked is answered below Fastify, one homed on the other is forwarded there by Fastify
 * and answered the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendezvousHome } from '../../packages/server/src/modules/cluster/membership.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import {
  ADMIN_TOKEN,
  PLATFORM_TOKEN,
  createMember,
  grantedCollaborator,
  startRoster,
  type Roster,
} from '../helpers/roster.js';

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
  const { memberId, projectId } = await grantedCollaborator(roster, {
    email: 'ada@example.com',
    privileges: ['read', 'run'],
  });
  const other = await createMember(roster, {
    email: 'bob@example.com',
    env_roles: [{ environment_type: 'dev', name: 'No access' }],
  });
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
      body: { subject: { member_id: memberId }, project_id: projectId },
      token,
    });
    expect(res.status).toBeLessThan(500);
  }
  expect((await roster.delete(`/api/api_clients/${revoked.id}`)).status).toBeLessThan(300);
  expect((await roster.post(`/api/api_clients/${rotated.id}/rotate`)).status).toBe(200);
  return {
    memberId,
    otherId: other.id,
    projectId,
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
  method?: 'GET' | 'POST';
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
  const method = request.method ?? 'POST';
  const res = await fetch(`${roster.url}${request.path ?? '/api/access/check'}`, {
    method,
    headers,
    body: method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
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

const scrape = async (roster: Roster) => (await roster.get('/metrics', null)).text;
const leanAnswers = async (roster: Roster) =>
  Number(/^roster_http_lean_answers_total (\d+)$/m.exec(await scrape(roster))?.[1] ?? 'NaN');

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
    const leanCount = (text: string) =>
      Number(/^roster_http_lean_answers_total (\d+)$/m.exec(text)?.[1] ?? 'NaN');
    const before = await leanAnswers(lean);
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
    expect(leanCount(leanText) - before).toBe(5);
    expect(leanCount(fastifyText)).toBe(0);
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

describe('with the rate limit on', () => {
  const LIMIT = 30;
  let limitedLean: Roster;
  let limitedFastify: Roster;
  const tokens = new Map<Roster, string>();

  beforeAll(async () => {
    const env = { ROSTER_RATE_LIMIT_PER_MINUTE: String(LIMIT) };
    limitedLean = await startRoster({ env });
    limitedFastify = await startRoster({ env: { ...env, ROSTER_LEAN_CHECKS: 'false' } });
    for (const roster of [limitedLean, limitedFastify]) {
      fixtures.set(roster, await setUp(roster));
      // A client of its own: a caller nothing else has counted yet.
      const res = await roster.post('/api/api_clients', { name: 'limited', scopes: ['read'] });
      expect(res.status).toBe(201);
      tokens.set(roster, res.body.data.token as string);
    }
  }, 60_000);
  afterAll(async () => {
    await limitedLean.close();
    await limitedFastify.close();
  });

  /**
   * The answer as `comparable` has it, with the seconds until the window resets (headers and the
   * 429's message) checked to within a second of `other`'s and then set aside: the two servers'
   * windows started a moment apart.
   */
  function alike(a: Answer, b: Answer) {
    const seconds = (answer: Answer) => ({
      reset: Number(answer.headers['ratelimit-reset']),
      retry:
        answer.headers['retry-after'] === undefined
          ? undefined
          : Number(answer.headers['retry-after']),
      message: /Retry in (\d+) s/.exec(answer.text)?.[1],
    });
    const [sa, sb] = [seconds(a), seconds(b)];
    expect(Math.abs(sa.reset - sb.reset)).toBeLessThanOrEqual(1);
    expect(sa.reset).toBeGreaterThan(0);
    expect(sa.reset).toBeLessThanOrEqual(60);
    expect(sa.retry === undefined).toBe(sb.retry === undefined);
    if (sa.retry !== undefined && sb.retry !== undefined) {
      expect(Math.abs(sa.retry - sb.retry)).toBeLessThanOrEqual(1);
      expect(sa.retry).toBe(sa.reset);
    }
    expect(sa.message === undefined).toBe(sb.message === undefined);
    const clean = (answer: Answer) => {
      const rest = { ...answer.headers };
      delete rest['ratelimit-reset'];
      delete rest['retry-after'];
      return comparable(
        {
          ...answer,
          headers: rest,
          // The other route's rows carry the times each server wrote them.
          text: answer.text
            .replace(/Retry in \d+ s/, 'Retry in … s')
            .replace(/"\d{4}-\d\d-\d\dT[\d:.]+Z"/g, '"…"'),
        },
        undefined,
      );
    };
    expect(clean(a)).toEqual(clean(b));
  }

  it('counts checks answered below Fastify in the same counter as every other request, and refuses the one over the limit alike', async () => {
    const limitedToken = (f: Fixture) => {
      const roster = [limitedLean, limitedFastify].find((r) => fixtures.get(r) === f);
      return tokens.get(roster as Roster) as string;
    };
    const check: Sent = {
      body: (f) => ({
        subject: { member_id: f.memberId },
        project_id: f.projectId,
        resource: 'recipe',
        privilege: 'run',
      }),
      token: limitedToken,
    };
    // Through Fastify on both servers: a route of its own, and a check body that fails the schema.
    const otherRoute: Sent = {
      body: () => undefined,
      token: limitedToken,
      method: 'GET',
      path: '/api/projects',
    };
    const invalid: Sent = {
      body: () => ({ subject: { member_id: 'one' }, project_id: true }),
      token: limitedToken,
    };
    // The first check uses the token for the first time: Fastify answers it (the token is not
    // cached yet); the later ones are answered below Fastify on the lean server.
    const sequence: Sent[] = [check, otherRoute, invalid];
    while (sequence.length < LIMIT) sequence.push(sequence.length % 5 === 0 ? otherRoute : check);
    // Over the limit: refused whichever path answers.
    sequence.push(check, otherRoute, invalid, check);
    const before = await leanAnswers(limitedLean);
    let leanEligible = 0;
    for (const [i, request] of sequence.entries()) {
      const [a, b] = [await send(limitedLean, request), await send(limitedFastify, request)];
      if (i < LIMIT) expect(a.status, `request ${i + 1}: ${a.text}`).not.toBe(429);
      else expect(a.status, `request ${i + 1}: ${a.text}`).toBe(429);
      expect(a.headers['ratelimit-limit']).toBe(String(LIMIT));
      expect(a.headers['ratelimit-remaining']).toBe(String(Math.max(0, LIMIT - i - 1)));
      alike(a, b);
      if (request === check && i > 0) leanEligible += 1;
    }
    // The checks after the first (the 429s included) were answered below Fastify.
    expect(await leanAnswers(limitedLean)).toBe(before + leanEligible);
    expect(await leanAnswers(limitedFastify)).toBe(0);
  });
});

describe.skipIf(testDialect !== 'postgres')('in a cluster (two instances on PostgreSQL)', () => {
  let cluster: Cluster;
  let here: Roster;
  let there: Roster;
  const RATE_LIMIT = 1000;
  let made = 0;

  /** A new workspace (its admin client's token) homed on `home`, with a role and a project. */
  async function workspaceHomedAt(home: Roster) {
    for (;;) {
      made += 1;
      const created = await here.post(
        '/platform/workspaces',
        { name: `Lean ${made}` },
        PLATFORM_TOKEN,
      );
      expect(created.status).toBe(201);
      const id = created.body.data.id as number;
      if (rendezvousHome([here.url, there.url], id) !== home.url) continue;
      const token = created.body.data.admin_token as string;
      const role = await here.post(
        '/api/project_roles',
        {
          project_role: {
            name: 'Recipe runners',
            config: { recipe: { privileges: ['read', 'run'] } },
          },
        },
        token,
      );
      expect(role.status).toBe(200);
      const project = await here.post(
        '/api/projects',
        { name: 'Payments', environment_type: 'dev' },
        token,
      );
      expect(project.status).toBe(201);
      return { token, projectId: project.body.data.id as number };
    }
  }

  beforeAll(async () => {
    cluster = await startCluster({
      instances: 2,
      homes: true,
      env: { ROSTER_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) },
    });
    [here, there] = cluster.instances as [Roster, Roster];
    for (const instance of [here, there]) {
      const started = Date.now();
      for (;;) {
        const ready = await instance.get('/readyz', null);
        if ((ready.body.cluster?.instances as string[] | undefined)?.length === 2) break;
        if (Date.now() - started > 10_000) throw new Error('the instances do not see each other');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }, 120_000);
  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- beforeAll may have failed before setting it
    await cluster?.close();
  });

  it('answers a check homed here below Fastify and forwards one homed elsewhere, answered alike', async () => {
    const homedHere = await workspaceHomedAt(here);
    const homedThere = await workspaceHomedAt(there);
    const ask = async (
      instance: Roster,
      ws: { token: string; projectId: number },
      member: number,
    ) =>
      instance.request('POST', '/api/access/check', {
        body: {
          subject: { member_id: member },
          project_id: ws.projectId,
          resource: 'recipe',
          privilege: 'run',
        },
        token: ws.token,
      });
    // Warm both workspaces on their homes (a cold workspace's first check goes through Fastify,
    // which waits for the load) and the tokens' cache on both instances.
    for (const instance of [here, there]) {
      for (const ws of [homedHere, homedThere]) {
        const warm = await ask(instance, ws, 987_654);
        expect(warm.status, warm.text).toBe(404);
      }
    }
    const [hereBefore, thereBefore] = [await leanAnswers(here), await leanAnswers(there)];
    // Homed here, asked here: answered below Fastify, counted by the rate limit.
    const local = await ask(here, homedHere, 987_654);
    expect(local.status).toBe(404);
    expect(local.headers.get('ratelimit-limit')).toBe(String(RATE_LIMIT));
    expect(await leanAnswers(here)).toBe(hereBefore + 1);
    // Homed there, asked here: Fastify forwards it; the home answers the signed hop through
    // Fastify too. Then the same question asked of its home directly, answered below Fastify.
    const forwarded = await ask(here, homedThere, 987_654);
    expect(await leanAnswers(here)).toBe(hereBefore + 1);
    expect(await leanAnswers(there)).toBe(thereBefore);
    const direct = await ask(there, homedThere, 987_654);
    expect(await leanAnswers(there)).toBe(thereBefore + 1);
    expect(forwarded.status).toBe(404);
    expect(forwarded.text).toBe(direct.text);
    expect(forwarded.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    // Each instance counted the request it was asked (the home did not count the hop again).
    // (Each caller here: its role and project created here, a check to warm up, this one.)
    expect(local.headers.get('ratelimit-remaining')).toBe(String(RATE_LIMIT - 4));
    expect(forwarded.headers.get('ratelimit-remaining')).toBe(String(RATE_LIMIT - 4));
    expect(direct.headers.get('ratelimit-remaining')).toBe(String(RATE_LIMIT - 2));
  }, 60_000);
});
