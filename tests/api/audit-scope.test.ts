/**
 * Who sees which audit events (docs/integration.md, "Who sees what"): the audit log, its CSV and
 * NDJSON export and the change stream show a credential limited to some environments only the
 * events of those environments, and no workspace-level event; a credential limited to some
 * projects does not see the other projects' events; a full-scope credential sees every event. A
 * console collaborator whose roles cover DEV only gets the same answer through its session cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, ADMIN_PASSWORD, signIn, startConsoleRoster } from '../e2e/helpers.js';
import { ADMIN_TOKEN, invitationTokenFor, type Roster } from '../helpers/roster.js';
import { openStream } from '../helpers/sse.js';

let roster: Roster;
/** API client tokens. */
let prodToken: string;
let projectToken: string;
/** Names of the projects written per environment (the events' target names). */
const project = { dev: 'Dev ledger', prod: 'Prod ledger', prodOther: 'Prod other' };
let prodProjectId: number;

interface Listed {
  id: number;
  action: string;
  target: { type: string; id: string | null; name: string | null };
  after: Record<string, unknown> | null;
  before: Record<string, unknown> | null;
}

async function createClient(body: Record<string, unknown>): Promise<string> {
  const res = await roster.post('/api/api_clients', body);
  expect(res.status).toBe(201);
  return res.body.data.token as string;
}

async function createProject(name: string, environment_type: string): Promise<number> {
  const res = await roster.post('/api/projects', { name, environment_type });
  expect(res.status).toBe(201);
  return res.body.data.id as number;
}

async function createFeature(name: string, environment_type: string): Promise<void> {
  const res = await roster.post('/api/features', { name, environment_type, kind: 'assistant' });
  expect(res.status).toBe(201);
}

async function createEndUser(email: string, environment_types: string[]): Promise<void> {
  const res = await roster.post('/api/end_users', {
    name: email.split('@')[0],
    email,
    environment_types,
  });
  expect(res.status).toBe(201);
}

/** Every event a credential lists, page after page (pages of 50, so paging is exercised). */
async function listAll(
  get: (path: string) => Promise<{ status: number; body: any }>,
): Promise<{ events: Listed[]; total: number }> {
  const events: Listed[] = [];
  let total = -1;
  for (let page = 1; ; page++) {
    const res = await get(`/api/audit_events?page[size]=50&page[number]=${page}`);
    expect(res.status).toBe(200);
    total = res.body.total as number;
    events.push(...(res.body.data as Listed[]));
    if (res.body.data.length < 50) break;
  }
  return { events, total };
}

const names = (events: Listed[]) => new Set(events.map((e) => e.target.name));

beforeAll(async () => {
  roster = await startConsoleRoster({
    console: { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  prodToken = await createClient({ name: 'Prod reader', environment_types: ['prod'] });
  await createProject(project.dev, 'dev');
  prodProjectId = await createProject(project.prod, 'prod');
  await createProject(project.prodOther, 'prod');
  projectToken = await createClient({
    name: 'One prod project',
    environment_types: ['prod'],
    project_ids: [prodProjectId],
  });
  await createFeature('Dev assistant', 'dev');
  await createFeature('Prod assistant', 'prod');
  await createEndUser('dev-only@example.com', ['dev']);
  await createEndUser('prod-only@example.com', ['prod']);
  // In two environments: workspace-level (docs/integration.md).
  await createEndUser('both@example.com', ['dev', 'prod']);
  // A workspace-level event: a collaborator group.
  const group = await roster.post('/api/user_groups', { user_group: { name: 'Auditors' } });
  expect(group.status).toBe(200);
  // Enough PROD events for more than one page.
  for (let i = 0; i < 30; i++) await createProject(`Prod bulk ${i}`, 'prod');
  for (let i = 0; i < 30; i++) await createProject(`Dev bulk ${i}`, 'dev');
});
afterAll(async () => {
  await roster.close();
});

describe('audit events by scope', () => {
  it('a full-scope client lists every event: DEV, PROD and workspace-level', async () => {
    const { events, total } = await listAll((p) => roster.get(p, ADMIN_TOKEN));
    expect(total).toBe(events.length);
    const seen = names(events);
    for (const name of [
      project.dev,
      project.prod,
      'Dev assistant',
      'Prod assistant',
      'Auditors',
      'Prod reader',
      'both',
    ])
      expect(seen).toContain(name);
  });

  it('a PROD-only client lists only PROD events, with totals and paging that count only those', async () => {
    const { events, total } = await listAll((p) => roster.get(p, prodToken));
    expect(total).toBe(events.length);
    const seen = names(events);
    for (const name of [project.prod, project.prodOther, 'Prod assistant', 'prod-only'])
      expect(seen).toContain(name);
    for (const name of [
      project.dev,
      'Dev assistant',
      'dev-only',
      'both',
      'Auditors',
      'Prod reader',
    ])
      expect(seen).not.toContain(name);
    // Every listed event is a PROD one: 2 projects + 30 bulk + a feature + an end user.
    expect(events).toHaveLength(34);
    expect(events.some((e) => e.target.name?.startsWith('Dev'))).toBe(false);
    // A filter narrows within what the client may see.
    const filtered = await roster.get('/api/audit_events?action=project.created', prodToken);
    expect(filtered.body.total).toBe(32);
  });

  it('a client limited to one PROD project does not see the other PROD projects', async () => {
    const { events } = await listAll((p) => roster.get(p, projectToken));
    const seen = names(events);
    expect(seen).toContain(project.prod);
    expect(seen).toContain('Prod assistant');
    expect(seen).not.toContain(project.prodOther);
    expect(seen).not.toContain(project.dev);
    // The projects endpoint refuses the other project too: the same rule.
    const other = (await roster.get('/api/projects?page[size]=100', ADMIN_TOKEN)).body.data.find(
      (p: { name: string }) => p.name === project.prodOther,
    );
    expect((await roster.get(`/api/projects/${other.id}`, projectToken)).status).toBe(403);
  });

  it('exports (CSV and NDJSON) only the PROD events to a PROD-only client', async () => {
    const listed = (await listAll((p) => roster.get(p, prodToken))).events.map((e) => e.id);
    const ndjson = await fetch(`${roster.url}/api/audit_events?format=ndjson`, {
      headers: { authorization: `Bearer ${prodToken}` },
    });
    expect(ndjson.status).toBe(200);
    const lines = (await ndjson.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Listed);
    expect(lines.map((e) => e.id)).toEqual(listed);

    const csv = await fetch(`${roster.url}/api/audit_events?format=csv`, {
      headers: { authorization: `Bearer ${prodToken}` },
    });
    expect(csv.status).toBe(200);
    const rows = (await csv.text()).trim().split(/\r?\n/).slice(1);
    expect(rows.map((row) => Number(row.split(',')[0]))).toEqual(listed);

    const full = await fetch(`${roster.url}/api/audit_events?format=ndjson`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const all = (await full.text()).trim().split('\n');
    expect(all.length).toBeGreaterThan(lines.length + 30);
  });

  it('streams only PROD events to a PROD-only client, on resumption and live; a full-scope stream gets all', async () => {
    const prodStream = await openStream(roster.url, prodToken, { query: '?after=0' });
    const fullStream = await openStream(roster.url, ADMIN_TOKEN, { query: '?after=0' });
    try {
      expect(prodStream.status).toBe(200);
      // Resumption from 0: the PROD events written so far, as the list shows them.
      const listed = (await listAll((p) => roster.get(p, prodToken))).events
        .map((e) => String(e.id))
        .reverse();
      await prodStream.waitFor((events) => events.length >= listed.length);
      expect(prodStream.events.map((e) => e.id)).toEqual(listed);
      // Live: a DEV event, a workspace-level one, then a PROD one (IDs in that order, so the
      // PROD one arriving means the others would have by then).
      await createProject('Live dev', 'dev');
      const group = await roster.post('/api/user_groups', { user_group: { name: 'Live group' } });
      expect(group.status).toBe(200);
      await createProject('Live prod', 'prod');
      await prodStream.waitFor((events) =>
        events.some((e) => JSON.parse(e.data).target.name === 'Live prod'),
      );
      await fullStream.waitFor((events) =>
        events.some((e) => JSON.parse(e.data).target.name === 'Live prod'),
      );
      const prodNames = prodStream.events.map((e) => JSON.parse(e.data).target.name as string);
      expect(prodNames).not.toContain('Live dev');
      expect(prodNames).not.toContain('Live group');
      expect(prodNames.filter((n) => n.startsWith('Dev'))).toEqual([]);
      const fullNames = fullStream.events.map((e) => JSON.parse(e.data).target.name as string);
      for (const name of ['Live dev', 'Live group', 'Live prod', project.dev, 'Auditors'])
        expect(fullNames).toContain(name);
    } finally {
      prodStream.close();
      fullStream.close();
    }
  });

  it('a console collaborator with DEV roles only reads every environment, in the API and so in the audit log', async () => {
    // Console collaborators read every environment (their roles limit writes only: "Read Only
    // console users can see everything but change nothing"), so the audit log, which follows the
    // credential's read scope, shows them every event, as it does a full-scope client.
    const email = 'dev-analyst@example.com';
    const invited = await roster.post('/api/member_invitations', {
      name: 'Dev Analyst',
      email,
      env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
    });
    expect(invited.status).toBe(200);
    const token = await invitationTokenFor(roster, email);
    const accepted = await roster.post(
      `/api/console/invitations/${token}/accept`,
      { name: 'Dev Analyst', password: 'dev analyst password' },
      null,
    );
    expect(accepted.status).toBe(201);
    const session = await signIn(roster, email, 'dev analyst password');
    expect((await session.request('GET', `/api/projects/${prodProjectId}`)).status).toBe(200);
    const { events, total } = await listAll((p) => session.request('GET', p));
    expect(total).toBe(events.length);
    const full = await listAll((p) => roster.get(p, ADMIN_TOKEN));
    expect(events.map((e) => e.id)).toEqual(full.events.map((e) => e.id));
    const seen = names(events);
    for (const name of [project.dev, project.prod, 'prod-only', 'both', 'Auditors'])
      expect(seen).toContain(name);
    const exported = await session.request('GET', '/api/audit_events?format=ndjson');
    expect(exported.status).toBe(200);
    const lines = exported.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Listed);
    expect(lines.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });
});
