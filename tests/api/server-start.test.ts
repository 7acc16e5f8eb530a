/**
 * The server as `npm start` runs it: the built main.js, configured only by environment variables.
 * Proves the first start says where the console is and prints the admin token once, labelled, that
 * the token works, that a second start on the same data keeps the workspace and prints no token,
 * and that `GET /` tells a non-browser client where things are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const MAIN = path.resolve('packages/server/dist/main.js');
/** The labelled line that carries the generated admin token on the first start. */
const TOKEN_LINE = /Admin API token: (rst_[A-Za-z0-9_-]+)\n/;

interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
}

async function startServer(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ROSTER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start:\n${output}`));
    }, 60_000);
    const check = () => {
      const match = /Roster is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      reject(new Error(`server exited with ${String(code)}:\n${output}`));
    });
  });
  return { child, output: () => output, url };
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode !== null) return;
  const exited = new Promise((resolve) => started.child.once('exit', resolve));
  started.child.kill('SIGTERM');
  await exited;
}

let dataDir: string;
let database: TestDatabase;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'roster-start-'));
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

// Each case starts Node processes that migrate and build indexes: slow on a loaded 2-core machine.
describe('starting the server from the command line', { timeout: 120_000 }, () => {
  it('prints the generated admin token once, and that token works until restart and after', async () => {
    // SQLite runs need a file (not :memory:) so the second start sees the first one's data.
    const env: Record<string, string> = {
      ROSTER_DATA_DIR: dataDir,
      ...(database.url.startsWith('postgres') ? { ROSTER_DATABASE_URL: database.url } : {}),
    };
    const first = await startServer(env);
    try {
      const token = TOKEN_LINE.exec(first.output())?.[1];
      expect(token).toBeDefined();
      // Plain words for the person who started it, not only JSON logs.
      expect(first.output()).toContain(
        `Roster is listening on ${first.url} — open ${first.url}/setup to create the first console admin with the admin API token.`,
      );
      const health = await fetch(`${first.url}/healthz`);
      expect(health.status).toBe(200);
      const members = await fetch(`${first.url}/api/members`, {
        headers: { authorization: `Bearer ${token ?? ''}` },
      });
      expect(members.status).toBe(200);
      expect(await members.json()).toEqual({ data: [], total: 0, page: { number: 1, size: 100 } });
    } finally {
      await stop(first);
    }
    // The second start also creates the first console admin: it then points at the sign-in page.
    const second = await startServer({
      ...env,
      ROSTER_ADMIN_EMAIL: 'first@example.com',
      ROSTER_ADMIN_PASSWORD: 'first admin password',
    });
    try {
      expect(second.output()).not.toMatch(TOKEN_LINE);
      expect(second.output()).not.toMatch(/rst_/);
      expect(second.output()).toContain(
        `Roster is listening on ${second.url} — open ${second.url}/ to sign in to the console.`,
      );
      const groups = await fetch(`${second.url}/api/user_groups`, {
        headers: {
          authorization: `Bearer ${TOKEN_LINE.exec(first.output())?.[1] ?? ''}`,
        },
      });
      expect(groups.status).toBe(200);
    } finally {
      await stop(second);
    }
  });

  it('answers GET / from curl or a script with where the console and the API are', async () => {
    const started = await startServer({
      ROSTER_DATA_DIR: dataDir,
      ...(database.url.startsWith('postgres') ? { ROSTER_DATABASE_URL: database.url } : {}),
    });
    try {
      // fetch sends `Accept: */*`, as curl does.
      const root = await fetch(`${started.url}/`);
      expect(root.status).toBe(200);
      expect(root.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await root.json()).toEqual({
        name: 'Roster',
        message: expect.stringContaining(
          'Open this address in a web browser for the admin console',
        ),
        console: '/',
        setup: '/setup',
        api_docs: '/api/docs',
        openapi: '/api/openapi.json',
        health: '/healthz',
      });
      // Other unknown paths stay a JSON 404 for API clients.
      expect((await fetch(`${started.url}/nothing-here`)).status).toBe(404);
    } finally {
      await stop(started);
    }
  });

  it.each([
    ['PORT', 'eighty', 'PORT must be a whole number'],
    ['ROSTER_TRUST_PROXY', 'yes please', 'ROSTER_TRUST_PROXY must be true, false, a number'],
    ['ROSTER_TRUST_PROXY', '10.0.0.0/33', 'ROSTER_TRUST_PROXY must be'],
    // The console's settings and the secret key are read by the same loader, at start.
    ['ROSTER_LOGIN_ATTEMPTS_PER_IP', '-1', 'ROSTER_LOGIN_ATTEMPTS_PER_IP must be a whole number'],
    ['ROSTER_SECRET_KEY', 'shorter than 32', 'ROSTER_SECRET_KEY must be at least 32 characters'],
  ])('refuses to start with an invalid %s and names the variable', async (name, value, message) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, [name]: value, ROSTER_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(message);
  });
});
