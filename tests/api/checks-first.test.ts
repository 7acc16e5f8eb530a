/**
 * On SQLite with its writer thread (a database file, the default writer) a single access check
 * is answered before the requests Fastify serves that arrived with it (http/lean-path.ts,
 * `startInSlice`, and lib/main-thread-slices.ts): Node reads every ready socket in one go, and
 * each request started in that go used to run until its first wait before the next socket was
 * read, so a check behind a burst of other requests waited for all of them. On PostgreSQL, and
 * with SQLite's writes on the main thread, the requests start as they are read
 * (docs/performance.md, "Tenth round"), and this test does not apply.
 *
 * The test holds the server's event loop (it runs in this process) while a burst of requests and
 * then a check reach its sockets, so that all of them are read in the same go, and records the
 * order in which the answers come back. The other requests are liveness probes, answered without
 * the database, so the order is the same on both stores. They still come back in the order they
 * were sent, and all of them are answered.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testDialect } from '../helpers/database.js';
import { ADMIN_TOKEN, grantedCollaborator, startRoster, type Roster } from '../helpers/roster.js';

let roster: Roster;
let checkBody: string;

beforeAll(async () => {
  // A file, not the suite's in-memory database: only a file gets the writer thread.
  roster = await startRoster({ sqliteFile: true });
  const { memberId, projectId } = await grantedCollaborator(roster, {
    email: 'ada@example.com',
    privileges: ['run'],
  });
  checkBody = JSON.stringify({
    subject: { member_id: memberId },
    project_id: projectId,
    resource: 'recipe',
    privilege: 'run',
  });
});
afterAll(async () => {
  await roster.close();
});

/** A keep-alive connection whose answers are collected as text. */
interface Connection {
  socket: Socket;
  received: string;
}

function open(url: string): Promise<Connection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      resolve(connection);
    });
    const connection: Connection = { socket, received: '' };
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      connection.received += text;
    });
    socket.once('error', reject);
  });
}

const probe = 'GET /livez HTTP/1.1\r\nHost: roster.test\r\n\r\n';
function check(body: string): string {
  return (
    'POST /api/access/check HTTP/1.1\r\nHost: roster.test\r\n' +
    `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Resolves once every connection has a whole answer (this test's answers carry a length). */
function answered(connections: Connection[], order: number[]): Promise<void> {
  return new Promise((resolve) => {
    const seen = (index: number) => {
      order.push(index);
      if (order.length === connections.length) resolve();
    };
    connections.forEach((connection, index) => {
      const done = () => {
        const head = connection.received.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(connection.received);
        if (head < 0 || length === null) return false;
        return connection.received.length >= head + 4 + Number(length[1]);
      };
      connection.socket.on('data', function onData() {
        if (!done()) return;
        connection.socket.off('data', onData);
        seen(index);
      });
    });
  });
}

/** Holds this process's event loop (the server's too) for `ms`. */
function holdTheLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

it.skipIf(testDialect === 'postgres')(
  'answers a check before the requests that reached the server with it, and those in order',
  async () => {
    const burst = 20;
    const connections = await Promise.all(
      Array.from({ length: burst + 1 }, () => open(roster.url)),
    );
    // One request on each first, so that the server has accepted every connection and is reading it.
    for (const connection of connections) connection.socket.write(probe);
    await answered(connections, []);
    for (const connection of connections) connection.received = '';

    const order: number[] = [];
    const all = answered(connections, order);
    for (const connection of connections.slice(0, burst)) connection.socket.write(probe);
    connections[burst]?.socket.write(check(checkBody));
    holdTheLoop(200);
    await all;

    const checkAnswer = connections[burst]?.received ?? '';
    expect(checkAnswer).toMatch(/^HTTP\/1\.1 200 /);
    expect(checkAnswer).toContain('"allowed":true');
    for (const connection of connections.slice(0, burst)) {
      expect(connection.received).toMatch(/^HTTP\/1\.1 200 /);
    }
    // The check first, then the probes in the order they were sent.
    expect(order).toEqual([burst, ...Array.from({ length: burst }, (_, index) => index)]);
    for (const connection of connections) connection.socket.destroy();
  },
);
