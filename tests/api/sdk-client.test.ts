/**
 * The SDK (packages/sdk) against a real server: the typed client, paging iterators, typed errors
 * read from the API's error bodies, the change stream (including a reconnect after a dropped
 * connection), the access snapshot, and the local authorizer's answers and refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RosterError,
  createLocalAuthorizer,
  createRosterClient,
  items,
  pages,
  streamEvents,
  type RosterClient,
  type StreamedEvent,
} from '../../packages/sdk/src/index.js';
import { ADMIN_TOKEN, createMember, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let client: RosterClient;

beforeAll(async () => {
  roster = await startRoster();
  client = createRosterClient({ baseUrl: roster.url, token: ADMIN_TOKEN });
});
afterAll(async () => {
  await roster.close();
});

/** What a call threw (the SDK throws RosterError for every answer that is not a success). */
async function thrown(call: () => Promise<unknown>): Promise<RosterError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof RosterError) return error;
    throw error;
  }
  throw new Error('the call did not throw');
}

async function lastEventId(): Promise<number> {
  return (await roster.get('/api/audit_events?page[size]=1')).body.data[0].id as number;
}

describe('the typed client', () => {
  it('reads and writes with the generated types', async () => {
    const created = await client.POST('/api/projects', {
      body: { name: 'SDK typed', environment_type: 'dev' },
    });
    expect(created.response.status).toBe(201);
    const id = created.data?.data.id;
    expect(id).toBeTypeOf('number');
    const got = await client.GET('/api/projects/{id}', { params: { path: { id: String(id) } } });
    expect(got.data?.data.name).toBe('SDK typed');
  });

  it('walks every page of a list, one request per page, as the list endpoint pages it', async () => {
    for (let i = 0; i < 7; i++)
      await client.POST('/api/projects', { body: { name: `Paged ${i}`, environment_type: 'dev' } });
    const listed = (await roster.get('/api/projects?page[size]=100')).body;
    const seen: number[][] = [];
    for await (const page of pages(client, '/api/projects', { query: { 'page[size]': 3 } }))
      seen.push(page.map((project) => project.id));
    expect(seen.every((page) => page.length <= 3)).toBe(true);
    expect(seen).toHaveLength(Math.ceil(listed.total / 3));
    expect(seen.flat()).toEqual(listed.data.map((p: { id: number }) => p.id));
    const names: string[] = [];
    for await (const project of items(client, '/api/projects', { query: { 'page[size]': 2 } }))
      names.push(project.name);
    expect(names).toEqual(listed.data.map((p: { name: string }) => p.name));
  });

  it('throws RosterError with the status, code and message of the error body', async () => {
    const missing = await thrown(() =>
      client.GET('/api/members/{id}', { params: { path: { id: '987654' } } }),
    );
    const raw = await roster.get('/api/members/987654');
    expect(missing).toMatchObject({
      status: 404,
      code: raw.body.errors[0].code,
      message: raw.body.errors[0].title,
    });
    expect(missing.code).toBe('not_found');

    const invalid = await thrown(() =>
      client.POST('/api/projects', { body: { name: '', environment_type: 'dev' } }),
    );
    const rawInvalid = await roster.post('/api/projects', { name: '', environment_type: 'dev' });
    expect(invalid).toMatchObject({
      status: 400,
      code: 'bad_request',
      message: rawInvalid.body.errors[0].title,
    });

    const stranger = createRosterClient({ baseUrl: roster.url, token: 'rst_not_a_token' });
    const refused = await thrown(() => stranger.GET('/api/members'));
    expect(refused).toMatchObject({
      status: 401,
      code: 'unauthorized',
      message: 'Invalid or revoked API token',
    });
  });
});

describe('streamEvents', () => {
  it('yields the audit events after a position, and resumes after a dropped connection with none lost or repeated', async () => {
    const start = await lastEventId();
    let connections = 0;
    // The first connection is cut after its first event: the SDK must reconnect with Last-Event-ID.
    const cuttingFetch: typeof fetch = async (input, init) => {
      connections += 1;
      const response = await fetch(input, init);
      if (connections > 1 || response.body === null) return response;
      const reader = response.body.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) {
            controller.close();
            return;
          }
          const text = new TextDecoder().decode(value);
          const first = text.indexOf('id: ');
          if (first < 0) {
            controller.enqueue(value);
            return;
          }
          // Everything up to the end of the first event, then the connection drops.
          controller.enqueue(
            new TextEncoder().encode(text.slice(0, text.indexOf('\n\n', first) + 2)),
          );
          await reader.cancel();
          controller.error(new Error('connection dropped'));
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    for (let i = 0; i < 4; i++)
      await client.POST('/api/projects', {
        body: { name: `Streamed ${i}`, environment_type: 'dev' },
      });
    const expected = (await roster.get('/api/audit_events?page[size]=100')).body.data
      .map((e: { id: number }) => e.id)
      .filter((id: number) => id > start)
      .sort((a: number, b: number) => a - b);
    const abort = new AbortController();
    const received: StreamedEvent[] = [];
    for await (const item of streamEvents({
      baseUrl: roster.url,
      token: ADMIN_TOKEN,
      after: start,
      signal: abort.signal,
      fetch: cuttingFetch,
    })) {
      received.push(item);
      if (received.length === expected.length) abort.abort();
    }
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(received.map((r) => r.event.id)).toEqual(expected);
    expect(received.every((r) => r.ordered)).toBe(true);
    expect(received[0]?.event.action).toBe('project.created');
  });

  it('stops with a RosterError when the server refuses the stream', async () => {
    const error = await thrown(async () => {
      const events = streamEvents({ baseUrl: roster.url, token: 'rst_nope' });
      await events.next();
    });
    expect(error.status).toBe(401);
  });
});

describe('GET /api/access/snapshot', () => {
  it('holds the access rows and the change-log position they reflect', async () => {
    const member = await createMember(roster, { email: 'snapshot@example.com' });
    const position = await lastEventId();
    const res = await roster.get('/api/access/snapshot');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ format: 1, workspace_id: 1, position });
    const members = res.body.data.tables.members as { columns: string[]; rows: unknown[][] };
    expect(members.columns).toEqual(['id', 'name', 'email', 'email_key']);
    expect(members.rows).toContainEqual([
      member.id,
      member.name,
      'snapshot@example.com',
      'snapshot@example.com',
    ]);
    expect(res.body.data.tables.environments.rows.map((row: unknown[]) => row[1])).toEqual([
      'dev',
      'test',
      'prod',
    ]);
    // Compressed for a client that accepts it (fetch does, and decompresses it).
    const compressed = await roster.request('GET', '/api/access/snapshot', {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(compressed.headers.get('content-encoding')).toBe('gzip');
    expect({ ...compressed.body.data, generated_at: null }).toEqual({
      ...res.body.data,
      generated_at: null,
    });
  });

  it('is refused to a credential without every environment and project', async () => {
    const limited = await roster.post('/api/api_clients', {
      name: 'Dev only',
      environment_types: ['dev'],
    });
    const token = limited.body.data.token as string;
    const res = await roster.get('/api/access/snapshot', token);
    expect(res.status).toBe(403);
    const error = await thrown(() => createLocalAuthorizer({ baseUrl: roster.url, token }));
    expect(error).toMatchObject({
      status: 403,
      code: 'forbidden',
      message: res.body.errors[0].title,
    });
  });
});

describe('createLocalAuthorizer', () => {
  it('answers and explains as the server, refuses as the server, and follows changes', async () => {
    const local = await createLocalAuthorizer({ baseUrl: roster.url, token: ADMIN_TOKEN });
    try {
      const member = await createMember(roster, {
        email: 'local@example.com',
        env_roles: [{ environment_type: 'dev', name: 'No access' }],
      });
      const role = await roster.post('/api/project_roles', {
        project_role: { name: 'Local runners', config: { recipe: { privileges: ['run'] } } },
      });
      const project = await roster.post('/api/projects', {
        name: 'Local',
        environment_type: 'dev',
      });
      const check = {
        subject: { member_id: member.id },
        project_id: project.body.data.id as number,
        resource: 'recipe',
        privilege: 'run',
        explain: true,
      };
      await local.waitFor(await lastEventId());
      const before = await roster.post('/api/access/check', check);
      expect(local.check(check)).toEqual(before.body.data);
      expect(local.check(check).allowed).toBe(false);

      await roster.put(`/api/projects/${check.project_id}/project_grants`, {
        project_grants: [
          {
            assignment_type: 'User',
            assignment_id: String(member.id),
            project_role_id: role.body.data.id,
          },
        ],
      });
      await local.waitFor(await lastEventId());
      const after = await roster.post('/api/access/check', check);
      expect(after.body.data.allowed).toBe(true);
      expect(local.check(check)).toEqual(after.body.data);

      const unknown = { ...check, subject: { member_id: 987_654 } };
      const serverRefusal = await roster.post('/api/access/check', unknown);
      const localRefusal = await thrown(async () => {
        await Promise.resolve();
        local.check(unknown);
      });
      expect(localRefusal).toMatchObject({
        status: serverRefusal.status,
        code: serverRefusal.body.errors[0].code,
        message: serverRefusal.body.errors[0].title,
      });
    } finally {
      local.close();
    }
  });
});
