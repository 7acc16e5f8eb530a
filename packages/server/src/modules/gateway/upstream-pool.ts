/**
 * The gateway's side as an MCP client: one SDK Client (Streamable HTTP) per upstream, connected on
 * first use and shared by every caller of that feature (the protocol multiplexes requests by ID,
 * so concurrent calls of many agents share it without mixing: each answer goes back to the
 * request that asked). The upstream gets only the feature's configured headers, never a caller's
 * token.
 *
 * Failure handling: every request has the configured timeout (ROSTER_MCP_UPSTREAM_TIMEOUT_MS).
 * A timeout, a refused connection, an HTTP error or an answer that is not MCP closes that client
 * and the caller gets a clear MCP error; the next call connects afresh, so a restarted upstream
 * works again at once. An error the upstream itself answers (a JSON-RPC error) passes through.
 * A feature change (its upstream edited, the feature deleted), on any instance, reaches the pool
 * through the change feed and drops the feature's client and settings.
 *
 * tools/call, the hot path, does not go through the SDK client: `callTool` posts the JSON-RPC
 * request itself over a keep-alive undici connection pool, with the session ID and protocol
 * version the SDK client negotiated (the client still does initialize, the session and every other
 * method). The SDK client's fetch, web streams and zod parsing cost more CPU than the rest of a
 * proxied call (docs/performance.md, "MCP gateway"). Each such request gets a gateway-unique
 * JSON-RPC ID: many callers share one upstream session, and two of them both sending ID 1 must not
 * collide in a stateful upstream transport.
 */
import { setMaxListeners } from 'node:events';
import { TextDecoder } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { createParser } from 'eventsource-parser';
import { Agent, type Dispatcher } from 'undici';
import type { Db } from '../../storage/database.js';
import { AppError } from '../../lib/errors.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { ChangeSubscriptions } from '../audit/change-feed.js';
import { findFeatureUpstream } from '../features/features.repository.js';
import { openUpstreamHeaders } from '../features/features.upstream.js';

export interface UpstreamConfig {
  featureId: number;
  url: URL;
  headers: Record<string, string>;
}

/** Why a request to the upstream failed, when the upstream did not answer it with an error. */
export type UpstreamFailure = 'timeout' | 'unreachable';

/**
 * An error a gateway handler throws for the SDK to answer as a JSON-RPC error (it sends `code`,
 * `message` and `data` of what a handler throws). Not an McpError: that one's message starts with
 * "MCP error <code>: ", which the client would then print twice.
 */

/**
 * What went wrong with an upstream, for the caller, without any of the upstream's answer: the
 * SDK's error messages quote the response body (an HTTP error's text, a JSON parse error's
 * input), and an upstream URL may name an internal HTTP service that is not MCP at all, whose
 * answer the agent must not read through the gateway. The HTTP status, the content type and the
 * connection error's code say enough to fix it; the operator reaches the upstream directly.
 */
function failureOf(error: unknown): string {
  if (error instanceof StreamableHTTPError) {
    const code = error.code ?? -1;
    if (code > 0) return `it answered HTTP ${String(code)}`;
    const type = /^Streamable HTTP error: (Unexpected content type: [\w.+/-]{0,100})/.exec(
      error.message,
    );
    return type?.[1] ?? 'no MCP answer';
  }
  // fetch's "fetch failed" carries the socket error (ECONNREFUSED, …) in its cause chain.
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]{1,40}$/.test(code)) {
      return `connection failed (${code})`;
    }
    const inner = cause as { cause?: unknown; errors?: unknown[] };
    cause = inner.cause ?? inner.errors?.[0];
  }
  if (error instanceof SyntaxError) return 'its answer is not JSON';
  return 'no MCP answer';
}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** A failure of the upstream as a client sees it: an MCP error naming the upstream and the cause. */
export class UpstreamError extends RpcError {
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
  ) {
    super(ErrorCode.InternalError, message, { upstream_status: failure });
  }
}

type Result = Record<string, unknown>;

/** The upstream answered 404 to a request in its session: it lost the session (a restart). */
class SessionLost extends Error {}

/** How much of an upstream's error answer goes into the caller's error message. */
const ERROR_TEXT_CHARS = 300;

const PREFIX = /^MCP error -?\d+: /;

const sharedValidator = new AjvJsonSchemaValidator();

/**
 * fetch for the upstream transport. The SDK passes its transport's one AbortSignal to every
 * request, and fetch's abort listeners on a shared signal pile up until garbage collection (a
 * MaxListenersExceededWarning, and CPU spent walking them on every request). Each request gets
 * its own signal instead, aborted when the transport's is (a closed connection still aborts its
 * requests in flight), and the listener is removed when the request settles.
 */
const upstreamFetch: typeof fetch = async (input, init) => {
  const shared = init?.signal;
  if (shared === undefined || shared === null) return fetch(input, init);
  if (shared.aborted) throw shared.reason;
  // One listener per request in flight (removed when it settles): as many as concurrent calls.
  setMaxListeners(0, shared);
  const own = new AbortController();
  const abort = () => {
    own.abort(shared.reason);
  };
  shared.addEventListener('abort', abort, { once: true });
  try {
    return await fetch(input, { ...init, signal: own.signal });
  } finally {
    shared.removeEventListener('abort', abort);
  }
};

interface Connection {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Requests sent on this connection; a 404 on a used one means the upstream lost the session. */
  used: boolean;
  /** The headers of a direct request (callTool), built on first use (after initialize). */
  headers?: Record<string, string>;
}

export class UpstreamPool {
  private readonly configs = new Map<number, Promise<UpstreamConfig | undefined>>();
  private readonly connections = new Map<number, Promise<Connection>>();
  /** The connection each entry of `connections` resolved to, to drop it synchronously. */
  private readonly resolved = new Map<number, Connection>();
  /** Bumped per feature by each change: a lookup that started before one does not fill the cache. */
  private readonly generations = new Map<number, number>();
  /** Keep-alive connections to every upstream, for callTool. */
  private readonly http = new Agent({ keepAliveTimeout: 60_000 });
  /** The JSON-RPC IDs of callTool's requests: unique in this process (see the module comment). */
  private nextId = 0;

  constructor(
    private readonly deps: {
      db: Db;
      secrets: SecretBox;
      timeoutMs: number;
      changes: ChangeSubscriptions;
    },
  ) {
    deps.changes.subscribe((events) => {
      for (const event of events) {
        if (event.targetType !== 'feature') continue;
        const id = event.targetId;
        if (id !== null && /^\d+$/.test(id)) this.forget(Number(id));
        else this.forgetAll();
      }
    });
  }

  /** The upstream of a feature (cached until the feature changes), or undefined when it has none. */
  config(featureId: number): Promise<UpstreamConfig | undefined> {
    const cached = this.configs.get(featureId);
    if (cached !== undefined) return cached;
    const generation = this.generations.get(featureId) ?? 0;
    const loading = (async () => {
      const row = await findFeatureUpstream(this.deps.db, featureId);
      if (row === undefined) return undefined;
      let headers: Record<string, string>;
      try {
        headers = openUpstreamHeaders(this.deps.secrets, row);
      } catch {
        // Sealed under another key: another instance's key file, or ROSTER_SECRET_KEY changed.
        throw new AppError(
          503,
          'gateway.upstream_secret',
          `The upstream headers of feature ${String(featureId)} cannot be decrypted with this server's secret key: every instance needs the same ROSTER_SECRET_KEY (or set the upstream again)`,
        );
      }
      return { featureId, url: new URL(row.url), headers };
    })();
    this.configs.set(featureId, loading);
    loading.then(
      () => {
        if ((this.generations.get(featureId) ?? 0) !== generation) this.configs.delete(featureId);
      },
      () => this.configs.delete(featureId),
    );
    return loading;
  }

  /**
   * Sends one request to the feature's upstream through the SDK client and answers its result as
   * the upstream gave it (checked to be a JSON-RPC result object only; the caller checks the
   * shape it needs).
   */
  request(
    config: UpstreamConfig,
    label: string,
    method: string,
    params: Record<string, unknown> | undefined,
  ): Promise<Result> {
    return this.withConnection(config, label, (connection) =>
      this.send(connection, method, params),
    );
  }

  /**
   * tools/call straight over HTTP (see the module comment), with the same failures, errors and
   * session recovery as `request`. Answers the upstream's result object as it came.
   */
  callTool(
    config: UpstreamConfig,
    label: string,
    params: Record<string, unknown>,
  ): Promise<Result> {
    return this.withConnection(config, label, (connection) =>
      this.post(connection, config, label, 'tools/call', params),
    );
  }

  private async withConnection(
    config: UpstreamConfig,
    label: string,
    send: (connection: Connection) => Promise<Result>,
  ): Promise<Result> {
    let connection = await this.connect(config, label);
    try {
      return await send(connection);
    } catch (error) {
      // The upstream restarted and forgot the session (404): nothing ran, so connect and resend.
      const lost =
        error instanceof SessionLost ||
        (error instanceof StreamableHTTPError && error.code === 404);
      if (lost && connection.used) {
        this.drop(config.featureId, connection);
        connection = await this.connect(config, label);
        try {
          return await send(connection);
        } catch (retryError) {
          throw this.failure(config.featureId, connection, label, retryError);
        }
      }
      throw this.failure(config.featureId, connection, label, error);
    } finally {
      connection.used = true;
    }
  }

  /**
   * One JSON-RPC request POSTed as the SDK client's transport would (its session and protocol
   * version), answered with JSON or an SSE stream; the answer's result, or the upstream's
   * JSON-RPC error as an RpcError.
   */
  private async post(
    connection: Connection,
    config: UpstreamConfig,
    label: string,
    method: string,
    params: Record<string, unknown>,
  ): Promise<Result> {
    this.nextId = (this.nextId + 1) % Number.MAX_SAFE_INTEGER;
    const id = `roster-${String(this.nextId)}`;
    const answer = await exchange(
      this.http,
      {
        origin: config.url.origin,
        path: config.url.pathname + config.url.search,
        method: 'POST',
        headers: (connection.headers ??= this.headersOf(connection, config)),
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      },
      id,
      this.deps.timeoutMs,
    ).catch((error: unknown) => {
      if (error instanceof TimedOut) {
        throw new UpstreamError(
          'timeout',
          `The upstream MCP server of ${label} did not answer within ${String(this.deps.timeoutMs)} ms`,
        );
      }
      throw error;
    });
    const status = answer.status;
    if (status === 404 && connection.transport.sessionId !== undefined) {
      throw new SessionLost(`HTTP 404 in session ${connection.transport.sessionId}`);
    }
    if (status >= 300 && status < 400) {
      // The SDK client's fetch follows redirects and this pool does not: a redirecting upstream
      // (`/mcp` → `/mcp/`) gets the call from the SDK client, as before the fast path.
      return await this.send(connection, method, params);
    }
    if (status < 200 || status >= 300) {
      throw new UpstreamError(
        'unreachable',
        `The upstream MCP server of ${label} is unreachable or did not answer in MCP: HTTP ${String(status)}: ${answer.bytes.toString('utf8').slice(0, ERROR_TEXT_CHARS)}`,
      );
    }
    let message: unknown;
    if (answer.sse) {
      message = answer.message;
    } else if (answer.type.includes('application/json')) {
      // A SyntaxError here is "its answer is not JSON" (failureOf).
      message = JSON.parse(answer.bytes.toString('utf8'));
    } else {
      throw new UpstreamError(
        'unreachable',
        `The upstream MCP server of ${label} is unreachable or did not answer in MCP: unexpected content type ${JSON.stringify(answer.type.slice(0, 100))}`,
      );
    }
    return resultOf(message, id, label);
  }

  /** The feature's headers (never a caller's), and what the SDK client negotiated. */
  private headersOf(connection: Connection, config: UpstreamConfig): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
    headers['content-type'] = 'application/json';
    headers.accept = 'application/json, text/event-stream';
    const { sessionId, protocolVersion } = connection.transport;
    if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
    if (protocolVersion !== undefined) headers['mcp-protocol-version'] = protocolVersion;
    return headers;
  }

  /** Closes every upstream connection (the app's onClose). */
  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    this.resolved.clear();
    this.configs.clear();
    await Promise.allSettled([
      ...open.map(async (c) => (await c).client.close()),
      this.http.close(),
    ]);
  }

  private send(
    connection: Connection,
    method: string,
    params: Record<string, unknown> | undefined,
  ) {
    return connection.client.request(
      { method, ...(params === undefined ? {} : { params }) },
      ResultSchema,
      { timeout: this.deps.timeoutMs },
    ) as Promise<Result>;
  }

  private connect(config: UpstreamConfig, label: string): Promise<Connection> {
    const existing = this.connections.get(config.featureId);
    if (existing !== undefined) return existing;
    const connecting = (async () => {
      const client = new Client(
        { name: 'roster-mcp-gateway', version: '0.1.0' },
        { jsonSchemaValidator: sharedValidator },
      );
      const transport = new StreamableHTTPClientTransport(config.url, {
        requestInit: { headers: config.headers },
        fetch: upstreamFetch,
      });
      // Errors of the background stream (a GET the upstream may refuse) are not a call's errors.
      client.onerror = () => undefined;
      try {
        await client.connect(transport, { timeout: this.deps.timeoutMs });
      } catch (error) {
        await client.close().catch(() => undefined);
        throw error;
      }
      return { client, transport, used: false };
    })();
    this.connections.set(config.featureId, connecting);
    // Registered before the caller's handler below, so it runs first.
    connecting.then(
      (connection) => {
        if (this.connections.get(config.featureId) === connecting)
          this.resolved.set(config.featureId, connection);
      },
      () => {
        if (this.connections.get(config.featureId) === connecting)
          this.connections.delete(config.featureId);
      },
    );
    return connecting.catch((error: unknown) => {
      throw this.describe(label, error);
    });
  }

  /** The error a caller gets: the upstream's own JSON-RPC error as it is, else an UpstreamError. */
  private failure(featureId: number, connection: Connection, label: string, error: unknown): Error {
    // Answered by the upstream (callTool): the connection is fine.
    if (error instanceof RpcError && !(error instanceof UpstreamError)) return error;
    if (
      error instanceof McpError &&
      error.code !== (ErrorCode.RequestTimeout as number) &&
      error.code !== (ErrorCode.ConnectionClosed as number)
    ) {
      // Answered by the upstream: the connection is fine; passed on as the upstream said it.
      return new RpcError(error.code, error.message.replace(PREFIX, ''), error.data);
    }
    this.drop(featureId, connection);
    return this.describe(label, error);
  }

  private describe(label: string, error: unknown): UpstreamError {
    if (error instanceof UpstreamError) return error;
    if (error instanceof McpError && error.code === (ErrorCode.RequestTimeout as number)) {
      return new UpstreamError(
        'timeout',
        `The upstream MCP server of ${label} did not answer within ${String(this.deps.timeoutMs)} ms`,
      );
    }
    return new UpstreamError(
      'unreachable',
      `The upstream MCP server of ${label} is unreachable or did not answer in MCP: ${failureOf(error)}`,
    );
  }

  private drop(featureId: number, connection: Connection): void {
    if (this.resolved.get(featureId) === connection) {
      this.resolved.delete(featureId);
      this.connections.delete(featureId);
    }
    void connection.client.close().catch(() => undefined);
  }

  private forget(featureId: number): void {
    this.generations.set(featureId, (this.generations.get(featureId) ?? 0) + 1);
    this.configs.delete(featureId);
    const connection = this.connections.get(featureId);
    this.connections.delete(featureId);
    this.resolved.delete(featureId);
    void connection?.then((c) => c.client.close()).catch(() => undefined);
  }

  private forgetAll(): void {
    for (const id of [...this.configs.keys(), ...this.connections.keys()]) this.forget(id);
  }
}

/** What `exchange` rejects with when the request's time is up. */
class TimedOut extends Error {}

/** An upstream's HTTP answer to one request. */
interface Answer {
  status: number;
  type: string;
  /** The body (empty for an SSE answer, which is read as it streams). */
  bytes: Buffer;
  /** An SSE answer: the JSON-RPC message answering the request, if the stream had it. */
  sse: boolean;
  message?: unknown;
}

/**
 * One HTTP request through undici's `dispatch()` with a handler that collects the answer into one
 * Buffer: no Readable body stream, no AbortSignal, no promise per chunk (about a fifth of a
 * proxied call's CPU against `request()` + `body.json()`, docs/performance.md, "Third round").
 * An SSE answer (2xx, text/event-stream) is parsed as it arrives, and the stream is left as soon
 * as it has carried the JSON-RPC answer to `id` (the upstream may send notifications first, or
 * keep the stream open). The whole exchange has `timeoutMs`; then it rejects with TimedOut and
 * the request is aborted (closing its connection, as an aborted request does).
 */
function exchange(
  http: Dispatcher,
  options: Dispatcher.DispatchOptions,
  id: string,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let status = 0;
    let type = '';
    const chunks: Buffer[] = [];
    let sse: ReturnType<typeof createParser> | undefined;
    let decoder: TextDecoder | undefined;
    let message: unknown;
    const settle = (answer: Answer | undefined, error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (answer !== undefined) resolve(answer);
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    const timer = setTimeout(() => {
      settle(undefined, new TimedOut());
      controller?.abort(new Error('upstream timeout'));
    }, timeoutMs);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        // Timed out while connecting: the request goes no further.
        if (settled) c.abort(new Error('upstream timeout'));
      },
      onResponseStart(c, statusCode, headers) {
        status = statusCode;
        const contentType = headers['content-type'];
        type = Array.isArray(contentType) ? contentType.join(', ') : (contentType ?? '');
        if (status >= 200 && status < 300 && type.includes('text/event-stream')) {
          decoder = new TextDecoder();
          sse = createParser({
            onEvent(event) {
              if (message !== undefined) return;
              if (event.event !== undefined && event.event !== 'message') return;
              let parsed: unknown;
              try {
                parsed = JSON.parse(event.data);
              } catch {
                return;
              }
              if (isObject(parsed) && parsed.id === id) message = parsed;
            },
          });
        }
      },
      onResponseData(c, chunk) {
        if (sse === undefined || decoder === undefined) {
          chunks.push(chunk);
          return;
        }
        // A chunk may end inside a UTF-8 sequence: the decoder keeps it for the next one.
        sse.feed(decoder.decode(chunk, { stream: true }));
        if (message !== undefined) {
          settle({ status, type, bytes: EMPTY, sse: true, message });
          // The answer is in: the rest of the stream is not read.
          c.abort(new Error('answer read'));
        }
      },
      onResponseEnd() {
        if (sse !== undefined) settle({ status, type, bytes: EMPTY, sse: true, message });
        else {
          const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          settle({ status, type, bytes, sse: false });
        }
      },
      onResponseError(_c, error) {
        settle(undefined, error);
      },
    };
    try {
      http.dispatch(options, handler);
    } catch (error) {
      settle(undefined, error);
    }
  });
}

const EMPTY = Buffer.alloc(0);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The result of the JSON-RPC answer to `id`; its error as an RpcError; anything else is garbage. */
function resultOf(message: unknown, id: string, label: string): Result {
  const answer = Array.isArray(message)
    ? (message as unknown[]).find((m) => isObject(m) && m.id === id)
    : message;
  if (isObject(answer) && answer.id === id) {
    if (isObject(answer.result)) return answer.result;
    const error = answer.error;
    if (isObject(error) && Number.isSafeInteger(error.code) && typeof error.message === 'string') {
      // The upstream's own error for the call: passed on as it said it.
      throw new RpcError(error.code as number, error.message, error.data);
    }
  }
  throw new UpstreamError(
    'unreachable',
    `The upstream MCP server of ${label} is unreachable or did not answer in MCP: ${answer === undefined ? 'no answer to the request' : 'an answer that is not a JSON-RPC response to the request'}`,
  );
}
