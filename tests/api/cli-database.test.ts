/**
 * The `roster` commands that work on the configured database (the server's own configuration):
 * serve, migrate, admin create, clients create|rotate and backup, run as the real binary next to
 * a running `roster serve`, with their exit codes and messages on bad input.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialect, type TestDatabase } from '../helpers/database.js';
import { roster, serve, type Served } from '../helpers/cli.js';

const ADMIN_TOKEN = 'rst_cli_admin_token_0123456789';

let dataDir: string;
let database: TestDatabase;
let env: Record<string, string>;
let server: Served | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'roster-cli-'));
  database = await createTestDatabase();
  env = {
    ROSTER_DATA_DIR: dataDir,
    ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    // SQLite: a file (the CLI and the server are two processes); PostgreSQL: this run's database.
    ...(database.url.startsWith('postgres') ? { ROSTER_DATABASE_URL: database.url } : {}),
  };
});
afterAll(async () => {
  await server?.stop();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const api = (url: string, pathname: string, token: string, init: RequestInit = {}) =>
  fetch(`${url}${pathname}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('roster on the database', { timeout: 300_000 }, () => {
  it('answers --help for every command, and a usage error with exit code 2', async () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['migrate', '--help'],
      ['admin', 'create', '--help'],
      ['clients', 'create', '--help'],
      ['clients', 'rotate', '--help'],
      ['backup', '--help'],
      ['export', '--help'],
      ['apply', '--help'],
    ]) {
      const result = await roster(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout).toMatch(/^Usage: roster/);
    }
    const unknown = await roster(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const missing = await roster(['clients', 'create']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--name <name>' not specified");
  });

  it('migrates a new database, and says there is no workspace before the first start', async () => {
    const migrated = await roster(['migrate'], env);
    expect(migrated).toMatchObject({ code: 0, stdout: '' });
    expect(migrated.stderr).toMatch(/^Database migrated \((sqlite|postgres): /);
    const early = await roster(['clients', 'create', '--name', 'early'], env);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('The database has no workspace yet');
  });

  it('serves, then creates and rotates API clients whose token the running server accepts', async () => {
    server = await serve(env);
    const { url } = server;
    expect((await api(url, '/api/members', ADMIN_TOKEN)).status).toBe(200);

    const created = await roster(
      ['clients', 'create', '--name', 'ci', '--environments', 'dev'],
      env,
    );
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^rst_[A-Za-z0-9_-]+$/);
    expect(created.stderr).toMatch(
      /API client (\d+) "ci" created \(environments: dev; projects: all\)/,
    );
    const id = /API client (\d+)/.exec(created.stderr)?.[1] ?? '';
    expect((await api(url, '/api/members', token)).status).toBe(200);
    // Scoped as asked: no access to PROD.
    const prod = await api(url, '/api/projects', token, {
      method: 'POST',
      body: JSON.stringify({ name: 'P', environment_type: 'prod' }),
    });
    expect(prod.status).toBe(403);

    const rotated = await roster(['clients', 'rotate', id], env);
    expect(rotated.code).toBe(0);
    const newToken = rotated.stdout.trim();
    expect(newToken).toMatch(/^rst_/);
    expect(newToken).not.toBe(token);
    expect((await api(url, '/api/members', newToken)).status).toBe(200);
    // The server learns of the rotation from the change log (another process wrote it).
    await eventually(
      async () => (await api(url, '/api/members', token)).status === 401,
      'the old token to be refused',
    );

    const audit = await api(url, '/api/audit_events?action=api_client.rotated', ADMIN_TOKEN);
    const events = ((await audit.json()) as { data: { actor: unknown }[] }).data;
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events[0])).toContain('roster CLI');
  });

  it.skipIf(testDialect === 'sqlite')(
    'a rotation by the CLI reaches a server that does not poll the change log (PostgreSQL: the log notifies)',
    async () => {
      // With the poll off, a server learns of another process's write only from the NOTIFY the
      // audit event's insert queues (migration 0023); the CLI is no request of a server's.
      const quiet = await serve({ ...env, ROSTER_CHANGE_POLL_MS: '0' });
      try {
        const created = await roster(['clients', 'create', '--name', 'quiet'], env);
        expect(created.code).toBe(0);
        const token = created.stdout.trim();
        const id = /API client (\d+)/.exec(created.stderr)?.[1] ?? '';
        expect((await api(quiet.url, '/api/members', token)).status).toBe(200);
        const rotated = await roster(['clients', 'rotate', id], env);
        expect(rotated.code).toBe(0);
        const started = Date.now();
        await eventually(
          async () => (await api(quiet.url, '/api/members', token)).status === 401,
          'the old token to be refused without the poll',
        );
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        await quiet.stop();
      }
    },
  );

  it('refuses bad client input with clear errors', async () => {
    const notNumber = await roster(['clients', 'rotate', 'abc'], env);
    expect(notNumber).toMatchObject({ code: 2 });
    expect(notNumber.stderr).toContain('The API client ID must be a number, got "abc"');
    const unknown = await roster(['clients', 'rotate', '99999'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^roster: /);
    const environment = await roster(
      ['clients', 'create', '--name', 'x', '--environments', 'qa'],
      env,
    );
    expect(environment.code).toBe(1);
    expect(environment.stderr).toContain('Environment qa not found');
    const workspace = await roster(['clients', 'create', '--name', 'x', '--workspace', '404'], env);
    expect(workspace.code).toBe(1);
    expect(workspace.stderr).toContain('Workspace 404 not found');
  });

  it('creates a console admin who can sign in, and refuses a short password', async () => {
    const short = await roster(
      ['admin', 'create', '--email', 'ops@example.com', '--password', 'short'],
      env,
    );
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('The password must have 10 to 200 characters');
    const badEmail = await roster(['admin', 'create', '--email', 'nope', '--password', 'x'], env);
    expect(badEmail.code).toBe(2);
    expect(badEmail.stderr).toContain('--email must be an email address');

    const created = await roster(
      ['admin', 'create', '--email', 'ops@example.com', '--name', 'Ops', '--password-stdin'],
      env,
      'correct horse battery\n',
    );
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('Console admin ops@example.com');
    const url = server?.url ?? '';
    const signIn = await fetch(`${url}/api/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', password: 'correct horse battery' }),
    });
    expect(signIn.status).toBe(200);
    const members = (await (await api(url, '/api/members', ADMIN_TOKEN)).json()) as {
      data: { email: string; roles: { role_name: string }[] }[];
    };
    const ops = members.data.find((m) => m.email === 'ops@example.com');
    expect(ops?.roles.map((r) => r.role_name)).toEqual(['Admin', 'Admin', 'Admin']);
  });

  it('backs up SQLite while the server runs, and a server starts from the copy', async () => {
    const file = path.join(dataDir, 'backup', 'roster-copy.sqlite');
    if (testDialect === 'postgres') {
      const result = await roster(['backup', file], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('pg_dump --format=custom');
      expect(existsSync(file)).toBe(false);
      return;
    }
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.dirname(file));
    // Written while the running server serves and writes.
    const url = server?.url ?? '';
    const writes = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api(url, '/api/user_groups', ADMIN_TOKEN, {
          method: 'POST',
          body: JSON.stringify({ user_group: { name: `During backup ${i}` } }),
        }),
      ),
    );
    const result = await roster(['backup', file], env);
    await writes;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^Backed up .*roster\.sqlite to .*roster-copy\.sqlite \(\d+ pages\)/,
    );
    const again = await roster(['backup', file], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');

    const restored = await serve({
      ...env,
      ROSTER_DATA_DIR: path.dirname(file),
      ROSTER_DATABASE_URL: file,
    });
    try {
      // The copy is the same workspace: its admin token, its collaborators.
      const members = (await (await api(restored.url, '/api/members', ADMIN_TOKEN)).json()) as {
        data: { email: string }[];
      };
      expect(members.data.map((m) => m.email)).toContain('ops@example.com');
      expect(restored.output()).not.toContain('Admin API token:');
    } finally {
      await restored.stop();
    }
  });
});
