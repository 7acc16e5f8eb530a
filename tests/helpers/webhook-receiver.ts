/**
 * A local webhook receiver for tests: records every request it gets (headers and raw body) and
 * answers as the test scripts it — a status per attempt, or no answer at all (a hang).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver does with one request: answer this status, or never answer. */
export type Behaviour = number | 'hang';

export interface Receiver {
  url: string;
  received: ReceivedRequest[];
  /** Answers to the next requests, in order; after them, `fallback`. */
  script(...behaviours: Behaviour[]): void;
  fallback: Behaviour;
  /** Resolves when `count` requests (in total) have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(host = '127.0.0.1'): Promise<Receiver> {
  const received: ReceivedRequest[] = [];
  const queue: Behaviour[] = [];
  const hanging: http.ServerResponse[] = [];
  let waiters: (() => void)[] = [];
  const receiver = {} as Receiver;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (typeof value === 'string') headers[name] = value;
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const behaviour = queue.shift() ?? receiver.fallback;
      for (const wake of waiters) wake();
      if (behaviour === 'hang') {
        hanging.push(response);
        return;
      }
      response.statusCode = behaviour;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(receiver, {
    url: `http://${host}:${port}/hooks`,
    received,
    fallback: 204,
    script: (...behaviours: Behaviour[]) => queue.push(...behaviours),
    waitFor(count: number, timeoutMs = 15_000) {
      return new Promise<ReceivedRequest[]>((resolve, reject) => {
        const check = () => {
          if (received.length >= count) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve(received.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(
            new Error(`receiver: ${received.length} of ${count} requests within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return receiver;
}
