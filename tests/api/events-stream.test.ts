/**
 * GET /api/events/stream: the audit log as Server-Sent Events. A change reaches a connected
 * client within a second; a client that reconnects with Last-Event-ID (or ?after) gets every
 * later event once, in order, as GET /api/audit_events lists them; a workspace sees its own events
 * only; heartbeats keep the connection alive; a client that goes away, even in the middle of an
 * event, leaves no listener behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { migrateToLatest, openStore } from '../../packages/server/src/storage/connect.js';
import { createTestDatabase } from '../helpers/database.js';
import { ADMIN_TOKEN, PLATFORM_TOKEN, startRoster, type Roster } from '../helpers/roster.js';
import { openStream, type SseEvent } from '../helpers/sse.js';

let roster: Roster;

beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

/** Polls until `condition` holds or 3 s pass (the assertion after it says what failed). */
async function until(condition: () => boolean): Promise<void> {
  const started = Date.now();
  while (!condition() && Date.now() - started < 3_000)
    await new Promise((resolve) => setTimeout(resolve, 20));
}

const ids = (events: SseEvent[]) => events.map((e) => Number(e.id));

/** Every audit event of the workspace after `after`, oldest first, as the list endpoint shows them. */
async function listedAfter(after: number, token = ADMIN_TOKEN): Promise<{ id: number }[]> {
  const all: { id: number }[] = [];
  for (let page = 1; ; page++) {
    const res = await roster.get(`/api/audit_events?page[size]=100&page[number]=${page}`, token);
    all.push(...(res.body.data as { id: number }[]));
    if (res.body.data.length < 100) break;
  }
  return all.filter((e) => e.id > after).sort((a, b) => a.id - b.id);
}

async function makeProject(name: string, token = ADMIN_TOKEN): Promise<void> {
  const res = await roster.post('/api/projects', { name, environment_type: 'dev' }, token);
  expect(res.status).toBe(201);
}

describe('GET /api/events/stream', () => {
  it('sends a change to a connected client within one second, with id, action and the audit event as data', async () => {
    const stream = await openStream(roster.url, ADMIN_TOKEN);
    try {
      expect(stream.status).toBe(200);
      await makeProject('Stream watchers');
      // From the moment the write is acknowledged (its own latency is not the stream's).
      const acknowledged = Date.now();
      await stream.waitFor((events) => events.some((e) => e.event === 'project.created'));
      const arrived = stream.events.find((e) => e.event === 'project.created')?.receivedAt ?? 0;
      expect(arrived - acknowledged).toBeLessThan(1_000);
      const event = stream.events.find((e) => e.event === 'project.created');
      const listed = (await roster.get('/api/audit_events?action=project.created')).body.data[0];
      expect(event?.id).toBe(String(listed.id));
      expect(JSON.parse(event?.data ?? '')).toEqual(listed);
    } finally {
      stream.close();
    }
  });

  it('resumes after Last-Event-ID with every later event once, in order, as the audit log lists them', async () => {
    const first = await openStream(roster.url, ADMIN_TOKEN);
    await makeProject('Resume one');
    await makeProject('Resume two');
    await first.waitFor(
      (events) => events.filter((e) => e.event === 'project.created').length >= 2,
    );
    const seen = first.lastEventId();
    expect(seen).toBeDefined();
    first.close();

    // Written while no client is connected.
    for (let i = 0; i < 7; i++) await makeProject(`While away ${i}`);
    const expected = (await listedAfter(Number(seen))).map((e) => e.id);
    expect(expected.length).toBeGreaterThanOrEqual(7);

    const resumed = await openStream(roster.url, ADMIN_TOKEN, { lastEventId: seen });
    try {
      await resumed.waitFor((events) => events.length >= expected.length);
      await makeProject('After resuming');
      await resumed.waitFor((events) => events.length >= expected.length + 1);
      const got = ids(resumed.events);
      expect(got.slice(0, expected.length)).toEqual(expected);
      // No repeat, in order, and the live one after the replayed ones.
      expect(new Set(got).size).toBe(got.length);
      expect(got).toEqual([...got].sort((a, b) => a - b));
    } finally {
      resumed.close();
    }
  });

  it('takes ?after when there is no Last-Event-ID, and the header wins over it', async () => {
    const log = await listedAfter(0);
    const pivot = log[log.length - 3]?.id ?? 0;
    const byQuery = await openStream(roster.url, ADMIN_TOKEN, { query: `?after=${pivot}` });
    const both = await openStream(roster.url, ADMIN_TOKEN, {
      query: '?after=0',
      lastEventId: String(pivot),
    });
    try {
      const expected = log.filter((e) => e.id > pivot).map((e) => e.id);
      await byQuery.waitFor((events) => events.length >= expected.length);
      await both.waitFor((events) => events.length >= expected.length);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ids(byQuery.events)).toEqual(expected);
      expect(ids(both.events)).toEqual(expected);
    } finally {
      byQuery.close();
      both.close();
    }
  });

  it('answers 400 to a bad Last-Event-ID or after, and 401 without a token', async () => {
    const bad = await roster.request('GET', '/api/events/stream', {
      headers: { 'last-event-id': 'abc' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].title).toMatch(/Last-Event-ID/);
    expect((await roster.get('/api/events/stream?after=-1')).status).toBe(400);
    expect((await roster.get('/api/events/stream?after=x')).status).toBe(400);
    expect((await roster.get('/api/events/stream?heartbeat_seconds=0')).status).toBe(400);
    expect((await roster.get('/api/events/stream', null)).status).toBe(401);
  });

  it("sends a workspace's events to that workspace's clients only", async () => {
    const other = await roster.post(
      '/platform/workspaces',
      { name: 'Streamed elsewhere' },
      PLATFORM_TOKEN,
    );
    const otherToken = other.body.data.admin_token as string;
    const mine = await openStream(roster.url, ADMIN_TOKEN);
    const theirs = await openStream(roster.url, otherToken);
    try {
      await makeProject('Mine only');
      await makeProject('Theirs only', otherToken);
      await mine.waitFor((events) => events.some((e) => e.data.includes('Mine only')));
      await theirs.waitFor((events) => events.some((e) => e.data.includes('Theirs only')));
      await makeProject('Mine again');
      await mine.waitFor((events) => events.some((e) => e.data.includes('Mine again')));
      expect(mine.events.some((e) => e.data.includes('Theirs only'))).toBe(false);
      expect(theirs.events.some((e) => e.data.includes('Mine'))).toBe(false);
      // Resuming from the start of the log replays that workspace's events only.
      const replay = await openStream(roster.url, otherToken, { query: '?after=0' });
      const expected = (await listedAfter(0, otherToken)).map((e) => e.id);
      await replay.waitFor((events) => events.length >= expected.length);
      expect(ids(replay.events)).toEqual(expected);
      replay.close();
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('sends heartbeat comments', async () => {
    const stream = await openStream(roster.url, ADMIN_TOKEN, { query: '?heartbeat_seconds=1' });
    try {
      const started = Date.now();
      while (!stream.comments.includes('heartbeat') && Date.now() - started < 3_000)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stream.comments).toContain('heartbeat');
    } finally {
      stream.close();
    }
  });
});

describe('clients that go away', () => {
  it('leaves no client and no feed listener behind when connections drop in the middle of events', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'roster-events-'));
    const config = loadConfig({
      PORT: '0',
      ROSTER_DATABASE_URL: database.url,
      ROSTER_DATA_DIR: dataDir,
      ROSTER_ADMIN_TOKEN: ADMIN_TOKEN,
      ROSTER_RATE_LIMIT_PER_MINUTE: '0',
    });
    const store = openStore({ url: config.databaseUrl, poolSize: 4 });
    await migrateToLatest(store);
    const { app, services } = await buildApp({ store, config });
    await services.workspaces.ensureDefaultWorkspace(config.adminToken);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const url = `http://127.0.0.1:${address.port}`;
    const post = (body: unknown) =>
      fetch(`${url}/api/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      // Raw sockets that read until an event has started to arrive, then drop mid-stream.
      const sockets = await Promise.all(
        Array.from({ length: 20 }, () => {
          return new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(address.port, '127.0.0.1', () => {
              socket.write(
                `GET /api/events/stream?after=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`,
              );
              resolve(socket);
            });
            socket.on('error', reject);
          });
        }),
      );
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              socket.on('data', (chunk: Buffer) => {
                if (chunk.toString().includes('event:')) {
                  socket.destroy();
                  resolve();
                }
              });
            }),
        ),
      );
      // Writes while the dropped connections are being noticed.
      for (let i = 0; i < 5; i++) await post({ name: `Dropped ${i}`, environment_type: 'dev' });
      await until(() => services.eventStream.clientCount() === 0);
      expect(services.eventStream.clientCount()).toBe(0);
      expect(services.eventStream.isSubscribed()).toBe(false);

      // A fetch client that aborts is dropped as well, and the stream still serves the next one.
      const aborted = await openStream(url, ADMIN_TOKEN);
      expect(services.eventStream.clientCount()).toBe(1);
      await until(() => services.eventStream.isSubscribed());
      aborted.close();
      await until(() => services.eventStream.clientCount() === 0);
      expect(services.eventStream.clientCount()).toBe(0);
      const next = await openStream(url, ADMIN_TOKEN);
      await post({ name: 'Still streaming', environment_type: 'dev' });
      await next.waitFor((events) => events.some((e) => e.data.includes('Still streaming')));
      // Closing the server ends open streams instead of waiting for them.
      next.close();
    } finally {
      await app.close();
      await store.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the stream in the API reference', () => {
  it('is documented as a text/event-stream answer', async () => {
    const document = await roster.get('/api/openapi.json', null);
    const operation = document.body.paths['/api/events/stream'].get;
    expect(Object.keys(operation.responses['200'].content)).toEqual(['text/event-stream']);
    // A client that asks with a valid token gets the stream's status and headers at once.
    const res = await roster.get('/api/events/stream?unknown_parameter=1');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('no-cache');
  });
});
