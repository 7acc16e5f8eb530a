/**
 * The change stream across instances on one PostgreSQL database: an event written on A reaches
 * a stream on B within a second, and concurrent writers on both instances (whose IDs commit out of
 * order) reach a client that drops and resumes with Last-Event-ID with no gap and no repeat. An ID
 * held by a slow transaction holds later events back until it commits (up to a second); one that
 * commits later still is sent without an `id:` line, so the clients' position stays ordered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../packages/server/src/storage/connect.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import { ADMIN_TOKEN, type Roster } from '../helpers/roster.js';
import { openStream } from '../helpers/sse.js';

describe.skipIf(testDialect === 'sqlite')(
  'the change stream on two instances (SQLite runs a single instance: skipped there)',
  () => {
    let cluster: Cluster;
    let a: Roster;
    let b: Roster;

    beforeAll(async () => {
      cluster = await startCluster({ instances: 2 });
      [a, b] = cluster.instances as [Roster, Roster];
    });
    afterAll(async () => {
      await cluster.close();
    });

    it('sends an event written on instance A to a stream on instance B within one second', async () => {
      const stream = await openStream(b.url, ADMIN_TOKEN);
      try {
        // The stream starts following the log when its first client connects.
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (let i = 0; i < 3; i++) {
          const name = `Across instances ${i}`;
          const created = await a.post('/api/projects', { name, environment_type: 'dev' });
          expect(created.status).toBe(201);
          // From the moment A acknowledged the write (A's own latency is not the stream's).
          const acknowledged = Date.now();
          await stream.waitFor((events) => events.some((e) => e.data.includes(name)));
          const arrived = stream.events.find((e) => e.data.includes(name))?.receivedAt ?? 0;
          expect(arrived - acknowledged).toBeLessThan(1_000);
        }
      } finally {
        stream.close();
      }
    });

    it('resumes on B after concurrent writes on both instances with every event once, in ID order', async () => {
      const startId = (await a.get('/api/audit_events?page[size]=1')).body.data[0].id as number;
      const first = await openStream(b.url, ADMIN_TOKEN, { lastEventId: String(startId) });
      const write = (instance: Roster, name: string) =>
        instance.post('/api/projects', { name, environment_type: 'dev' });
      const burst = async (label: string) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => write(i % 2 === 0 ? a : b, `${label} ${i}`)),
        );
        expect(results.every((r) => r.status === 201)).toBe(true);
      };
      await burst('Concurrent one');
      await first.waitFor((events) => events.length >= 5);
      first.close();
      const received = [...first.events];
      const resumeAfter = first.lastEventId() ?? String(startId);
      await burst('Concurrent two');

      const second = await openStream(a.url, ADMIN_TOKEN, { lastEventId: resumeAfter });
      try {
        const listed = (await a.get('/api/audit_events?page[size]=100')).body.data as {
          id: number;
        }[];
        const expected = listed
          .map((e) => e.id)
          .filter((id) => id > startId)
          .sort((x, y) => x - y);
        expect(expected).toHaveLength(40);
        await second.waitFor(
          (events) => received.length + events.filter((e) => e.id !== undefined).length >= 40,
          5_000,
        );
        const ids = [...received, ...second.events]
          .filter((e) => e.id !== undefined)
          .map((e) => Number(e.id));
        expect(ids).toEqual(expected);
      } finally {
        second.close();
      }
    });
  },
);

describe.skipIf(testDialect === 'sqlite')(
  'IDs that commit out of order on PostgreSQL (SQLite commits them in order: skipped there)',
  () => {
    let cluster: Cluster;
    let a: Roster;
    let store: Store;

    beforeAll(async () => {
      cluster = await startCluster({ instances: 1 });
      a = cluster.instances[0] as Roster;
      store = cluster.openDatabase();
    });
    afterAll(async () => {
      await store.close();
      await cluster.close();
    });

    /**
     * Opens a transaction that takes an audit event ID now and commits when `commit()` is called,
     * as a slow write would.
     */
    async function slowWrite(name: string): Promise<{ id: number; commit(): Promise<void> }> {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let taken: (id: number) => void = () => undefined;
      const idTaken = new Promise<number>((resolve) => {
        taken = resolve;
      });
      const done = store.db.transaction().execute(async (trx) => {
        const row = await trx
          .insertInto('audit_events')
          .values({
            workspace_id: 1,
            actor_type: 'system',
            actor_id: null,
            actor_name: 'slow writer',
            action: 'project.updated',
            target_type: 'project',
            target_id: null,
            target_name: name,
            before_json: null,
            after_json: null,
            created_at: new Date().toISOString(),
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        taken(row.id);
        await gate;
      });
      return {
        id: await idTaken,
        async commit() {
          release();
          await done;
        },
      };
    }

    it('holds a later event back until an earlier ID commits, then sends both in ID order', async () => {
      const stream = await openStream(a.url, ADMIN_TOKEN);
      try {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const slow = await slowWrite('Slow but in time');
        const fast = await a.post('/api/projects', { name: 'Fast', environment_type: 'dev' });
        expect(fast.status).toBe(201);
        await new Promise((resolve) => setTimeout(resolve, 300));
        // The later event waits for the gap below it.
        expect(stream.events.some((e) => e.data.includes('"Fast"'))).toBe(false);
        await slow.commit();
        await stream.waitFor((events) => events.some((e) => e.data.includes('"Fast"')));
        const ids = stream.events.map((e) => Number(e.id));
        expect(ids[0]).toBe(slow.id);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(stream.events.every((e) => e.id !== undefined)).toBe(true);
      } finally {
        stream.close();
      }
    });

    it('sends an ID that commits after the grace period without an id line, keeping the position', async () => {
      const stream = await openStream(a.url, ADMIN_TOKEN);
      try {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const slow = await slowWrite('Slow and late');
        const fast = await a.post('/api/projects', { name: 'Not held', environment_type: 'dev' });
        expect(fast.status).toBe(201);
        // After the grace period the later event goes out without waiting any longer.
        await stream.waitFor((events) => events.some((e) => e.data.includes('"Not held"')), 5_000);
        const position = stream.lastEventId();
        await slow.commit();
        await stream.waitFor(
          (events) => events.some((e) => e.data.includes('Slow and late')),
          5_000,
        );
        const late = stream.events.find((e) => e.data.includes('Slow and late'));
        expect(late?.id).toBeUndefined();
        expect(JSON.parse(late?.data ?? '{}').id).toBe(slow.id);
        expect(stream.lastEventId()).toBe(position);
        expect(Number(position)).toBeGreaterThan(slow.id);
      } finally {
        stream.close();
      }
    });
  },
);
