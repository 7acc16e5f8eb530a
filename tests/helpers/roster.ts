/**
 * Starts a real Roster server for one test file: a fresh database on this run's dialect, the
 * default workspace with a known admin token, and a listening HTTP port. Tests talk to it only
 * over HTTP, like any client would.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RouteOptions } from 'fastify';
import {
  buildPath,
  OPERATIONS,
  type BodyOf,
  type OperationName,
  type ParamsOf,
  type QueryOf,
  type ResponseOf,
} from '@roster/contracts';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { migrateToLatest, openStore } from '../../packages/server/src/storage/connect.js';
import type { Clock } from '../../packages/server/src/lib/clock.js';
import { createTestDatabase, testDialect } from './database.js';

export const ADMIN_TOKEN = 'rst_test_admin_token_0123456789';
export const PLATFORM_TOKEN = 'platform_test_token_0123456789';

/** A clock the test moves by hand (invitation expiry, cooldowns, grant expiry). */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** What `call` sends, typed by the operations table: a body of the wrong shape does not compile. */
export interface CallInput<N extends OperationName> {
  params?: ParamsOf<N>;
  query?: QueryOf<N>;
  body?: BodyOf<N>;
  token?: string | null;
  headers?: Record<string, string>;
}

export interface RosterOptions {
  env?: Record<string, string>;
  /**
   * On SQLite, a database file in the server's data directory instead of the suite's in-memory
   * database: only a file gets the writer thread (storage/sqlite-writer.ts). No effect on
   * PostgreSQL.
   */
  sqliteFile?: boolean;
}

export interface Roster {
  url: string;
  clock: TestClock;
  adminToken: string;
  /**
   * The server's database, for a second connection: its postgres:// URL, its SQLite file's path
   * (`sqliteFile`), or ':memory:' (which no second connection can open).
   */
  databaseUrl: string;
  /** Sends a request; a JSON body is encoded, a string body is sent as it is. */
  request<T = any>(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
  ): Promise<ApiResponse<T>>;
  get<T = any>(path: string, token?: string | null): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown, token?: string | null): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown, token?: string | null): Promise<ApiResponse<T>>;
  delete<T = any>(path: string, token?: string | null): Promise<ApiResponse<T>>;
  /**
   * Calls an operation of the table (@roster/contracts operations.ts) by name, with its method and
   * path from the table; the answer's body is typed as the operation's success answer.
   */
  call<N extends OperationName>(name: N, input?: CallInput<N>): Promise<ApiResponse<ResponseOf<N>>>;
  /** Every route the app registered, for the check against the operations table. */
  routes: readonly RouteOptions[];
  /** Messages written to the outbox file (no SMTP in tests). */
  outbox(): Promise<{ to: string; subject: string; text: string }[]>;
  close(): Promise<void>;
}

export async function startRoster(options: RosterOptions = {}): Promise<Roster> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-test-'));
  const config = loadConfig({
    PORT: '0',
    ROSTER_DATA_DIR: dataDir,
    ROSTER_DATABASE_URL: database.url,
    ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    ROSTER_PLATFORM_TOKEN: PLATFORM_TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    ROSTER_PUBLIC_URL: 'http://roster.test',
    ...(options.sqliteFile === true && testDialect === 'sqlite'
      ? { ROSTER_DATABASE_URL: path.join(dataDir, 'roster.db') }
      : {}),
    ...options.env,
  });
  const store = openStore({
    url: config.databaseUrl,
    poolSize: 4,
    postgresDriver: config.postgresDriver,
    threadHeapMb: config.storeThreadHeapMb,
    threadNice: config.storeThreadNice,
  });
  await migrateToLatest(store);
  const clock = new TestClock();
  const { app, services, routes } = await buildApp({ store, config, clock });
  await services.workspaces.ensureDefaultWorkspace(config.adminToken);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    clock,
    adminToken: ADMIN_TOKEN,
    databaseUrl: config.databaseUrl,
    ...httpClient(url),
    routes,
    async outbox() {
      try {
        const text = await readFile(path.join(dataDir, 'outbox.jsonl'), 'utf8');
        return text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { to: string; subject: string; text: string });
      } catch {
        return [];
      }
    },
    async close() {
      await app.close();
      await store.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The HTTP side of a Roster handle: requests to one server as the admin unless told otherwise. */
export type HttpClient = Pick<Roster, 'request' | 'get' | 'post' | 'put' | 'delete' | 'call'>;

export function httpClient(url: string): HttpClient {
  async function request<T>(
    method: string,
    requestPath: string,
    opts: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${requestPath}`, { method, headers, body });
    // An event stream never ends: its status and headers are the answer (tests/helpers/sse.ts reads streams).
    if (response.headers.get('content-type')?.startsWith('text/event-stream') === true) {
      await response.body?.cancel();
      return { status: response.status, headers: response.headers, body: undefined as T, text: '' };
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }
  return {
    request,
    get: (p, token) => request('GET', p, { token }),
    post: (p, body, token) => request('POST', p, { body, token }),
    put: (p, body, token) => request('PUT', p, { body, token }),
    delete: (p, token) => request('DELETE', p, { token }),
    call: (name, input = {}) => {
      const { method, path: template } = OPERATIONS[name];
      const query = (input.query ?? {}) as Parameters<typeof buildPath>[2];
      return request(method.toUpperCase(), buildPath(template, input.params ?? {}, query), {
        body: input.body,
        token: input.token,
        headers: input.headers,
      });
    },
  };
}

/** The invitation token from the last mail sent to an address. */
export async function invitationTokenFor(roster: Roster, email: string): Promise<string> {
  const messages = (await roster.outbox()).filter((m) => m.to === email);
  const last = messages.at(-1);
  const match = last === undefined ? null : /\/invitations\/([A-Za-z0-9_-]+)/.exec(last.text);
  if (match?.[1] === undefined) throw new Error(`no invitation mailed to ${email}`);
  return match[1];
}

/** Invites and accepts: a collaborator with the given roles, returned as the API shows them. */
export async function createMember(
  roster: Roster,
  input: {
    name?: string;
    email: string;
    env_roles?: { environment_type: string; name: string; role_type?: string }[];
    user_group_ids?: string[];
  },
): Promise<{ id: number; name: string; email: string }> {
  const invited = await roster.post('/api/member_invitations', {
    name: input.name ?? input.email.split('@')[0],
    email: input.email,
    env_roles: input.env_roles ?? [{ environment_type: 'dev', name: 'Analyst' }],
    user_group_ids: input.user_group_ids,
  });
  if (invited.status !== 200) throw new Error(`invite failed: ${invited.status} ${invited.text}`);
  const token = await invitationTokenFor(roster, input.email);
  const accepted = await roster.post(`/invitations/${token}/accept`, {}, null);
  if (accepted.status !== 201)
    throw new Error(`accept failed: ${accepted.status} ${accepted.text}`);
  return accepted.body.data;
}

/**
 * A collaborator granted a project role on a project of their own: the project role "Recipe
 * runners" (the given recipe privileges), the dev project "Payments", the collaborator (dev role
 * "No access", so that only the grant gives access) and the grant to them.
 */
export async function grantedCollaborator(
  roster: Roster,
  input: { email: string; privileges: string[] },
): Promise<{ memberId: number; projectId: number; roleId: number }> {
  const role = await roster.post('/api/project_roles', {
    project_role: { name: 'Recipe runners', config: { recipe: { privileges: input.privileges } } },
  });
  if (role.status !== 200) throw new Error(`project role failed: ${role.status} ${role.text}`);
  const project = await roster.post('/api/projects', { name: 'Payments', environment_type: 'dev' });
  if (project.status !== 201) throw new Error(`project failed: ${project.status} ${project.text}`);
  const member = await createMember(roster, {
    email: input.email,
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
  if (grant.status !== 200) throw new Error(`grant failed: ${grant.status} ${grant.text}`);
  return {
    memberId: member.id,
    projectId: project.body.data.id as number,
    roleId: role.body.data.id as number,
  };
}
