/**
 * The server as `npm start` runs it: the built main.js, configured only by environment variables.
 * Proves the first start prints the admin token once, that the token works, and that a second
 * start on the same data keeps the workspace and prints nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const MAIN = path.resolve('packages/server/dist/main.js');

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
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
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
      const token = /\n {2}(rst_[A-Za-z0-9_-]+)\n/.exec(first.output())?.[1];
      expect(token).toBeDefined();
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
    const second = await startServer(env);
    try {
      expect(second.output()).not.toMatch(/admin API token/);
      const groups = await fetch(`${second.url}/api/user_groups`, {
        headers: {
          authorization: `Bearer ${/\n {2}(rst_[A-Za-z0-9_-]+)\n/.exec(first.output())?.[1] ?? ''}`,
        },
      });
      expect(groups.status).toBe(200);
    } finally {
      await stop(second);
    }
  });

  it('refuses to start with an invalid setting and names the variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: 'eighty', ROSTER_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('PORT must be a whole number');
  });
});
