import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * A request's ID: the caller's X-Request-Id when it is a sane token, else a new UUID. Every
 * request log line carries it as `reqId`, and the answer names it (x-request-id). Shared by
 * Fastify's genReqId and the gateway's lean path (modules/gateway/gateway.lean.ts).
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}
