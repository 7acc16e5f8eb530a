/**
 * The key file that seals stored secrets when ROSTER_SECRET_KEY is not set (lib/secret-box.ts):
 * made whole on first use, and refused when it does not hold a key. An earlier version created
 * the file before writing it: on a full disk it stayed empty, and every secret was then sealed
 * under a key derived from nothing, which anyone can compute.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type Server } from '../helpers/spawned-server.js';

let server: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

// Stored with its signing secret, never called here (loopback allowed for that).
const hook = { url: 'http://127.0.0.1:9/hook', events: ['*'] };
const env = (dataDir: string) => ({
  ROSTER_DATA_DIR: dataDir,
  ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true',
});

describe('the secret key file', { timeout: 60_000 }, () => {
  it('is made on the first secret stored: 32 random bytes, readable by its owner only, nothing left beside it', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'roster-key-'));
    server = await startServer(env(dir));
    expect((await server.request('POST', '/api/webhooks', hook)).status).toBe(201);
    const file = path.join(dir, 'secret.key');
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    expect(key.length).toBe(32);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((name) => name.includes('secret.key'))).toEqual([
      'secret.key',
    ]);
    // The same key after a restart: what was sealed opens (the webhook's secret is read back).
    await server.stop();
    server = await startServer(env(dir));
    expect((await server.request('POST', '/api/webhooks', hook)).status).toBe(201);
    expect(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64')).toEqual(key);
  });

  it.each([
    ['empty (left by a write that failed)', ''],
    ['cut short', `${Buffer.alloc(16, 7).toString('base64')}\n`],
  ])(
    'is refused when %s: 503 naming the file, nothing stored, the file left as it is',
    async (_case, content) => {
      dir = await mkdtemp(path.join(tmpdir(), 'roster-key-'));
      const file = path.join(dir, 'secret.key');
      await writeFile(file, content, { mode: 0o600 });
      server = await startServer(env(dir));
      const refused = await server.request('POST', '/api/webhooks', hook);
      expect(refused.status).toBe(503);
      expect(refused.body.errors[0].title).toMatch(
        /^The secret key file \(secret\.key in the data directory\) holds \d+ bytes instead of 32/,
      );
      expect((await server.request('GET', '/api/webhooks')).body.data).toEqual([]);
      expect(await readFile(file, 'utf8')).toBe(content);
    },
  );
});
