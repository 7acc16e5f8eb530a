/**
 * The load generator's HTTP client (bench/lib/lean-http.mjs): what bench/mixed.mjs measures is
 * only as right as the client that reads the answers, so it is tested against node:http's server
 * on each way that server frames a response.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface LeanResponse {
  status: number;
  body: Buffer;
}
interface LeanClient {
  request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<LeanResponse>;
  destroy(): void;
}
type LeanModule = { LeanHttpClient: new (origin: string) => LeanClient };

let lean: LeanModule;
let server: http.Server;
let origin: string;
/** The remote port of each request's socket, in order: which socket each request came on. */
const ports: number[] = [];

beforeAll(async () => {
  lean = (await import(path.resolve('bench/lib/lean-http.mjs'))) as LeanModule;
  server = http.createServer((request, response) => {
    ports.push(request.socket.remotePort ?? 0);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = Buffer.concat(chunks).toString('utf8');
      const url = request.url ?? '';
      if (url === '/echo') {
        const text = JSON.stringify({
          method: request.method,
          received,
          authorization: request.headers.authorization,
          contentType: request.headers['content-type'],
        });
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        response.end(text);
      } else if (url === '/chunked') {
        // No Content-Length: node:http frames the body in chunks, here three, sent apart.
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.write('first ');
        setTimeout(() => {
          response.write('second ');
          setTimeout(() => response.end('third'), 5);
        }, 5);
      } else if (url === '/empty') {
        response.writeHead(204);
        response.end();
      } else if (url === '/close') {
        response.writeHead(200, { connection: 'close', 'content-length': 2 });
        response.end('ok');
      } else if (url === '/slow-body') {
        // The head and the body in separate TCP segments.
        response.writeHead(404, { 'content-type': 'application/json', 'content-length': 17 });
        response.flushHeaders();
        setTimeout(() => response.end('{"error":"gone"} '), 10);
      } else {
        response.writeHead(500, { 'content-length': 0 });
        response.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('the load generator’s lean HTTP client', () => {
  it('sends method, headers and a UTF-8 body, and reads a Content-Length answer', async () => {
    const client = new lean.LeanHttpClient(origin);
    const body = JSON.stringify({ name: 'Zoë 😀' });
    const { status, body: answer } = await client.request(
      'POST',
      '/echo',
      { authorization: 'Bearer t', 'content-type': 'application/json' },
      body,
    );
    expect(status).toBe(200);
    expect(JSON.parse(answer.toString('utf8'))).toEqual({
      method: 'POST',
      received: body,
      authorization: 'Bearer t',
      contentType: 'application/json',
    });
    client.destroy();
  });

  it('reads chunked bodies, empty answers and bodies that arrive after their head', async () => {
    const client = new lean.LeanHttpClient(origin);
    const chunked = await client.request('GET', '/chunked', {});
    expect(chunked.status).toBe(200);
    expect(chunked.body.toString()).toBe('first second third');
    const empty = await client.request('DELETE', '/empty', {});
    expect(empty.status).toBe(204);
    expect(empty.body.length).toBe(0);
    const slow = await client.request('GET', '/slow-body', {});
    expect(slow.status).toBe(404);
    expect(slow.body.toString()).toBe('{"error":"gone"} ');
    client.destroy();
  });

  it('reuses a kept-alive socket, opens more for requests in flight together', async () => {
    const client = new lean.LeanHttpClient(origin);
    ports.length = 0;
    await client.request('GET', '/echo', {});
    await client.request('GET', '/echo', {});
    expect(new Set(ports).size).toBe(1);
    ports.length = 0;
    await Promise.all([1, 2, 3].map(() => client.request('GET', '/echo', {})));
    expect(new Set(ports).size).toBe(3);
    client.destroy();
  });

  it('does not reuse a socket the server closes, and resends on one closed while idle', async () => {
    const client = new lean.LeanHttpClient(origin);
    ports.length = 0;
    expect((await client.request('GET', '/close', {})).body.toString()).toBe('ok');
    expect((await client.request('GET', '/echo', {})).status).toBe(200);
    expect(ports[0]).not.toBe(ports[1]);
    // The server ends every idle kept-alive socket (as its keepAliveTimeout does); the next
    // request on the pooled socket finds it closed and goes again on a new one.
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await client.request('GET', '/echo', {})).status).toBe(200);
    client.destroy();
  });

  it('rejects when the server is gone', async () => {
    const client = new lean.LeanHttpClient('http://127.0.0.1:1');
    await expect(client.request('GET', '/echo', {})).rejects.toThrow();
    client.destroy();
  });
});
