/**
 * Hot routes served below Fastify: a request listener in front of Fastify's handler answers a few
 * routes straight on Node's request and response, without Fastify's routing, hooks,
 * request/reply objects and reply pipeline, and passes every other request to Fastify untouched
 * (docs/performance.md, "HTTP single checks next to a bare Fastify route"). A lean handler answers
 * only what it is sure of; anything else (a refusal, a body that does not parse or validate, a
 * workspace still loading) goes to Fastify, which answers it as always. A body the lean handler
 * already read goes along with the request and Fastify's route reads it from there
 * (`replayLeanBody`, a preParsing hook of the lean routes), so Fastify's parser, limits and
 * errors apply to it unchanged.
 *
 * What the HTTP layer does for every answer is done here too, by the same functions: the request
 * ID (http/request-id.ts) in `x-request-id` and the log lines, the security headers every answer
 * carries (http/security-headers.ts), the request log lines Fastify writes, and the request
 * metrics under the route's pattern. Request bodies are validated and answers serialized by the
 * functions Fastify compiled for the route (`CompiledSchemas`).
 *
 * The MCP gateway's tools/call path (modules/gateway/gateway.lean.ts) is a prefix handler.
 *
 * On SQLite with its writer thread the requests passed to Fastify here start in slices after the
 * loop's reads (`startInSlice`), so that a check is not kept waiting behind a burst of other
 * requests read in the same turn.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { mainThreadSlices } from '../lib/main-thread-slices.js';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
/** A lean handler: answers the request, or passes it on with `fastify` (exactly one of them). */
export type LeanHandler = (req: IncomingMessage, res: ServerResponse, fastify: NodeHandler) => void;

/** The bytes a lean handler read before it passed the request on (replayLeanBody). */
const READ_BODY = Symbol('roster.leanReadBody');
type WithReadBody = IncomingMessage & { [READ_BODY]?: Buffer };

/**
 * The Node request listener: exact `METHOD /path` routes first (the URL with no query), then
 * prefix handlers; everything else, and everything once the app is closing, is Fastify's.
 */
export function createLeanDispatcher(options: { deferFastify: boolean }) {
  const deferFastify = options.deferFastify;
  const exact = new Map<string, LeanHandler>();
  const prefixes: { method: string; prefix: string; handler: LeanHandler }[] = [];
  let log: FastifyBaseLogger | undefined;
  let closing = false;
  return {
    /** Serves `method path` (no query string: a URL with one goes to Fastify). */
    route(method: string, path: string, handler: LeanHandler): void {
      exact.set(`${method} ${path}`, handler);
    },
    /** Whether `method path` is served here (its Fastify route then replays a read body). */
    serves(method: string, path: string): boolean {
      return (
        exact.has(`${method} ${path}`) ||
        prefixes.some((entry) => entry.method === method && path.startsWith(entry.prefix))
      );
    },
    /** Every `method` request whose URL starts with `prefix` goes to `handler` first. */
    prefix(method: string, prefix: string, handler: LeanHandler): void {
      prefixes.push({ method, prefix, handler });
    },
    handle(req: IncomingMessage, res: ServerResponse, fastify: NodeHandler): void {
      const { method, url } = req;
      // Once the app is closing, Fastify answers every request (503 while it drains).
      if (closing || method === undefined || url === undefined) {
        fastify(req, res);
        return;
      }
      const handler = exact.get(`${method} ${url}`);
      if (handler !== undefined) {
        handler(req, res, fastify);
        return;
      }
      for (const entry of prefixes) {
        if (entry.method === method && url.startsWith(entry.prefix)) {
          entry.handler(req, res, fastify);
          return;
        }
      }
      if (deferFastify) startInSlice(req, res, fastify);
      else fastify(req, res);
    },
    /** Request logs go to the app's logger (Fastify's, created after the dispatcher). */
    useLog(logger: FastifyBaseLogger): void {
      log = logger;
    },
    log(): FastifyBaseLogger | undefined {
      return log;
    },
    /** The app is closing: hand every request to Fastify (app.ts, preClose). */
    stop(): void {
      closing = true;
    },
    /** Whether the app is closing (an answer in flight then closes its connection). */
    isClosing(): boolean {
      return closing;
    },
  };
}
export type LeanDispatcher = ReturnType<typeof createLeanDispatcher>;

/**
 * The requests Fastify serves, started in the main thread's slices (lib/main-thread-slices.ts),
 * so that the hot routes answered here go first. Node reads every ready socket in one go, and a
 * request started in that go runs until its first wait: Fastify's routing, hooks, validation, a
 * SQLite read (synchronous) and the answer's serialization, 0.3–1.5 ms under the mixed load. A
 * check whose bytes arrived in the same go used to wait for all of those started before it. Now
 * the go only queues them, and they start after it, a slice at a time: a check waits for the work
 * already running and at most one slice (docs/performance.md, "Tenth round").
 *
 * A slice, not one request a turn: under load a turn of the loop lasts longer (more answers to
 * handle, a scavenge, a core taken by another thread), and one start a turn then caps how many
 * requests a second can start, below the rate they come in, so the queue would only grow.
 * Requests keep their order; the queue is as long as the connections with a request waiting.
 */
function startInSlice(req: IncomingMessage, res: ServerResponse, fastify: NodeHandler): void {
  const since = performance.now();
  mainThreadSlices.admit(() => {
    (req as WithWait)[WAITED_MS] = performance.now() - since;
    fastify(req, res);
  });
}

/** How long a request waited in `startInSlice` before Fastify got it. */
const WAITED_MS = Symbol('roster.waitedMs');
type WithWait = IncomingMessage & { [WAITED_MS]?: number };

/**
 * The milliseconds a request waited before Fastify started it, which Fastify's own elapsed time
 * does not count: the request metrics add it, so that /metrics shows what the client waited.
 */
export function waitedBeforeFastify(req: IncomingMessage): number {
  return (req as WithWait)[WAITED_MS] ?? 0;
}

/**
 * A small body, read whole: undefined when the request has no Content-Length or a larger one than
 * `max` (Fastify reads those, with its own limit and errors), or when the client went away.
 */
export function readSmallBody(
  req: IncomingMessage,
  max: number,
  then: (bytes: Buffer | undefined) => void,
): boolean {
  const declared = req.headers['content-length'];
  if (declared === undefined || req.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(declared);
  if (!Number.isSafeInteger(length) || length > max) return false;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    then(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  req.on('error', () => {
    then(undefined);
  });
  return true;
}

/** Passes a request whose body was read on to Fastify, with the bytes (replayLeanBody). */
export function handOverWithBody(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Buffer,
  fastify: NodeHandler,
): void {
  (req as WithReadBody)[READ_BODY] = bytes;
  fastify(req, res);
}

/** A lean route's preParsing hook in Fastify: the body a lean handler read, as the payload. */
export function replayLeanBody(
  request: FastifyRequest,
  _reply: FastifyReply,
  payload: RequestPayload,
  done: (error: Error | null, payload?: RequestPayload) => void,
): void {
  const bytes = (request.raw as WithReadBody)[READ_BODY];
  done(null, bytes === undefined ? payload : Readable.from([bytes]));
}

/**
 * The request's log lines as Fastify writes them (a child logger with `reqId`, "incoming
 * request"), or undefined when info is off.
 */
export function leanRequestLog(
  log: FastifyBaseLogger | undefined,
  id: string,
  req: IncomingMessage,
): FastifyBaseLogger | undefined {
  // pino's isLevelEnabled; Fastify's logger when logging is off has none (and logs nothing).
  const enabled = (log as { isLevelEnabled?: (level: string) => boolean } | undefined)
    ?.isLevelEnabled;
  if (log === undefined || enabled?.call(log, 'info') !== true) return undefined;
  const reqLog = log.child({ reqId: id });
  reqLog.info(
    {
      req: {
        method: req.method,
        url: req.url,
        host: req.headers.host,
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
      },
    },
    'incoming request',
  );
  return reqLog;
}

/**
 * Sends an answer with the headers every Roster answer carries (http/security-headers.ts): its
 * request ID, `nosniff`, and `cache-control: no-store`; then logs "request completed".
 */
export function sendLean(
  res: ServerResponse,
  answer: {
    id: string;
    status: number;
    contentType: string;
    payload: string;
    headers?: Record<string, string>;
  },
  reqLog: FastifyBaseLogger | undefined,
  startedMs: number,
): number {
  // A flat name/value list: Node writes it as it is. An object built by spreading the extra
  // headers (the rate limit's, on every answer) into these cost ~5 µs a request in sendLean alone
  // (a fresh shape each time, walked with for…in; profiled in docs/performance.md).
  const head: (string | number)[] = [
    'x-request-id',
    answer.id,
    'x-content-type-options',
    'nosniff',
    'cache-control',
    'no-store',
    'content-type',
    answer.contentType,
    'content-length',
    Buffer.byteLength(answer.payload),
  ];
  const extra = answer.headers;
  if (extra !== undefined)
    for (const name of Object.keys(extra)) head.push(name, extra[name] ?? '');
  res.writeHead(answer.status, head);
  res.end(answer.payload);
  const ms = performance.now() - startedMs;
  reqLog?.info({ res: { statusCode: answer.status }, responseTime: ms }, 'request completed');
  return ms;
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
type Serialize = (data: unknown) => string;

/**
 * The validators and serializers Fastify compiled for each route, by `METHOD /url`, recorded by
 * the schema compilers app.ts gives Fastify: a lean handler uses the very functions its Fastify
 * route uses, compiled from the same TypeBox schemas that make the OpenAPI document.
 */
export class CompiledSchemas {
  private readonly validators = new Map<string, Validate>();
  private readonly serializers = new Map<string, Map<string, Serialize>>();

  recordValidator(method: string, url: string, part: string, validate: Validate): void {
    this.validators.set(`${method} ${url} ${part}`, validate);
  }

  recordSerializer(method: string, url: string, status: string, serialize: Serialize): void {
    const key = `${method} ${url}`;
    let byStatus = this.serializers.get(key);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.serializers.set(key, byStatus);
    }
    byStatus.set(status, serialize);
  }

  validator(method: string, url: string, part: string): Validate | undefined {
    return this.validators.get(`${method} ${url} ${part}`);
  }

  /** As Fastify picks one (lib/schemas.js getSchemaSerializer): the status, `4xx`, `default`. */
  serializer(method: string, url: string, status: number): Serialize {
    const byStatus = this.serializers.get(`${method} ${url}`);
    return (
      byStatus?.get(String(status)) ??
      byStatus?.get(`${String(status)[0] ?? ''}xx`) ??
      byStatus?.get('default') ??
      JSON.stringify
    );
  }
}
