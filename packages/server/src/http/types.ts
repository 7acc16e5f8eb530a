import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ErrorBodyStyle } from '../lib/errors.js';
import type { RequestContext } from '../lib/context.js';
import type { ChangeTracker } from '../lib/change-tracking.js';
import { AppError } from '../lib/errors.js';

export type Api = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on authenticated routes. */
    ctx: RequestContext | null;
    /**
     * The change tracker of a route that stores (app.ts, compileRouteHooks; lib/change-tracking.ts),
     * else null. Also on `ctx` when the request has one.
     */
    changes: ChangeTracker | null;
  }
  interface FastifyContextConfig {
    /** How this route renders errors (the reference API varies by endpoint). */
    errorStyle?: ErrorBodyStyle;
    /**
     * The route only asks (the access checks): it runs no NUL check and no change tracking, and
     * never syncs the access index before answering (app.ts, compileRouteHooks).
     */
    storesNothing?: boolean;
  }
}

/** The caller's context; routes behind the auth hook always have one. */
export function contextOf(request: FastifyRequest): RequestContext {
  if (request.ctx === null) throw new AppError(401, 'auth.missing', 'Authentication required');
  return request.ctx;
}

/** The largest ID either store hands out (PostgreSQL `serial` is a 32-bit integer). */
const MAX_ID = 2_147_483_647;

/**
 * Path IDs are validated as digit strings; this turns them into numbers. An ID beyond the
 * integer range cannot exist, so it is a 404 here rather than an overflow in the database.
 */
export function intId(params: { id: string }): number {
  const id = Number(params.id);
  if (id > MAX_ID) throw new AppError(404, 'not_found', 'Not found');
  return id;
}
