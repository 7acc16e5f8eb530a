/**
 * A lean HTTP/1.1 keep-alive client for the load generators: requests written as one string on a
 * pooled socket, responses parsed by hand (status, Content-Length or chunked body), nothing else.
 *
 * Why: the generator shares the machine's two cores with the server it measures, and node:http's
 * client (Agent, ClientRequest, IncomingMessage streams) cost it ~0.17–0.21 ms of CPU a request
 * under the mixed load, a fifth of the machine at the server's capacity. Whatever the generator
 * takes the server's threads wait for, and its own delay in sending is counted in the latencies
 * (docs/performance.md, "Seventeenth round"). wrk and autocannon write their clients this way for
 * the same reason. `--client node` in bench/mixed.mjs keeps node:http for comparison with the
 * earlier rounds.
 *
 * Enough of HTTP/1.1 for a server that answers with Content-Length or chunked bodies (Fastify,
 * Node's http); a response with neither (a body delimited by the connection's close) is refused,
 * loudly, rather than guessed at. One request at a time per socket (no pipelining); a socket that
 * is free goes back to the pool, so the pool holds as many sockets as requests were ever in flight
 * at once, as node:http's Agent with `maxSockets: Infinity` does.
 */
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

/** Parses one response at the start of `buffer`: null until it is all there. */
function parseResponse(buffer) {
  const headerEnd = buffer.indexOf(HEADER_END);
  if (headerEnd === -1) return null;
  const head = buffer.toString('latin1', 0, headerEnd);
  const status = Number(head.slice(9, 12));
  let contentLength = -1;
  let chunked = false;
  let close = false;
  let lineStart = head.indexOf('\r\n') + 2;
  while (lineStart > 1 && lineStart < head.length) {
    let lineEnd = head.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = head.length;
    const colon = head.indexOf(':', lineStart);
    if (colon !== -1 && colon < lineEnd) {
      const name = head.slice(lineStart, colon).toLowerCase();
      const value = head.slice(colon + 1, lineEnd).trim();
      if (name === 'content-length') contentLength = Number(value);
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
      else if (name === 'connection') close = value.toLowerCase() === 'close';
    }
    lineStart = lineEnd + 2;
  }
  const bodyStart = headerEnd + 4;
  if (chunked) {
    const parts = [];
    let at = bodyStart;
    for (;;) {
      const sizeEnd = buffer.indexOf('\r\n', at, 'latin1');
      if (sizeEnd === -1) return null;
      const size = parseInt(buffer.toString('latin1', at, sizeEnd), 16);
      if (Number.isNaN(size)) throw new Error(`bad chunk size in a ${status} response`);
      if (size === 0) {
        // The last chunk, then (no trailers from the servers measured) the final CRLF.
        if (buffer.length < sizeEnd + 4) return null;
        return { status, body: Buffer.concat(parts), used: sizeEnd + 4, close };
      }
      if (buffer.length < sizeEnd + 2 + size + 2) return null;
      parts.push(buffer.subarray(sizeEnd + 2, sizeEnd + 2 + size));
      at = sizeEnd + 2 + size + 2;
    }
  }
  if (contentLength === -1) {
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) contentLength = 0;
    else throw new Error(`a ${status} response with neither Content-Length nor chunked body`);
  }
  if (buffer.length < bodyStart + contentLength) return null;
  return {
    status,
    body: buffer.subarray(bodyStart, bodyStart + contentLength),
    used: bodyStart + contentLength,
    close,
  };
}

class Connection {
  constructor(client) {
    this.client = client;
    this.socket = net.connect({ host: client.host, port: client.port, noDelay: true });
    this.buffer = null;
    /** The request in flight: { resolve, reject, received } or null when idle. */
    this.waiting = null;
    this.closed = false;
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => this.onEnd(error));
    this.socket.on('close', () => this.onEnd(new Error('connection closed by the server')));
  }

  send(text, waiting) {
    this.waiting = waiting;
    this.buffer = null;
    this.socket.write(text);
  }

  onData(chunk) {
    const waiting = this.waiting;
    if (waiting === null) {
      this.socket.destroy(new Error('bytes from the server with no request in flight'));
      return;
    }
    waiting.received = true;
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
    let response;
    try {
      response = parseResponse(this.buffer);
    } catch (error) {
      this.socket.destroy(error);
      return;
    }
    if (response === null) return;
    // Bytes after the response, with one request at a time, mean the stream is out of step: the
    // socket is not reused.
    const outOfStep = response.used !== this.buffer.length;
    this.waiting = null;
    this.buffer = null;
    if (response.close || outOfStep) this.retire();
    else this.client.idle.push(this);
    waiting.resolve(response);
  }

  retire() {
    this.closed = true;
    this.client.forget(this);
    this.socket.end();
  }

  onEnd(error) {
    if (!this.closed) {
      this.closed = true;
      this.client.forget(this);
    }
    const waiting = this.waiting;
    if (waiting === null) return;
    this.waiting = null;
    waiting.reject(error, waiting.received);
  }
}

export class LeanHttpClient {
  /** `origin`: http://host:port. */
  constructor(origin) {
    const url = new URL(origin);
    if (url.protocol !== 'http:') throw new Error(`lean-http speaks http only, not ${origin}`);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
    /** Sockets with no request in flight, the most recently freed last (reused first). */
    this.idle = [];
    this.all = new Set();
  }

  forget(connection) {
    this.all.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
  }

  /**
   * Sends one request; resolves { status, body (Buffer) } whatever the status. `headers`: an
   * object of header names to values; Content-Length is added for a body.
   */
  request(method, path, headers, body) {
    let text = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const name in headers) text += `${name}: ${headers[name]}\r\n`;
    text +=
      body === undefined ? '\r\n' : `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return this.sendOn(text, true);
  }

  sendOn(text, mayRetry) {
    const reused = this.idle.length > 0;
    const connection = reused ? this.idle.pop() : this.open();
    return new Promise((resolve, reject) => {
      connection.send(text, {
        received: false,
        resolve,
        reject: (error, received) => {
          // A kept-alive socket the server closed just as it was reused (its idle timeout):
          // nothing of the answer came, so the request is sent again once on a new socket.
          if (reused && mayRetry && !received) resolve(this.sendOn(text, false));
          else reject(error);
        },
      });
    });
  }

  open() {
    const connection = new Connection(this);
    this.all.add(connection);
    return connection;
  }

  /** Closes every socket. */
  destroy() {
    for (const connection of this.all) {
      connection.closed = true;
      connection.socket.destroy();
    }
    this.all.clear();
    this.idle.length = 0;
  }
}
