/**
 * The API's rate limit (ROSTER_RATE_LIMIT_PER_MINUTE): @fastify/rate-limit, keyed by the
 * authenticated caller, with the draft-spec `ratelimit-*` headers on every answer and a 429
 * AppError (with `retry-after`) once the caller is over. Requests answered below Fastify
 * (modules/decisions/decisions.lean.ts) count in the very same counter: the plugin's store is the
 * plugin's own LocalStore, shared (`SharedStore`), and `countLean` does for such a request what the
 * plugin's preValidation hook does (index.js, applyRateLimit and rateLimitRequestHandler) — the
 * same key, the same increment, the same headers and the same refusal. One counter per caller,
 * whichever path answers.
 */
import { createRequire } from 'node:module';
import type { FastifyRateLimitStore, RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../lib/context.js';
import { AppError } from '../lib/errors.js';

const TIME_WINDOW_MS = 60_000;

/** The plugin's in-memory store (store/LocalStore.js), which the package exports no type for. */
type LocalStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache?: number,
) => FastifyRateLimitStore;
const LocalStore = createRequire(import.meta.url)(
  '@fastify/rate-limit/store/LocalStore.js',
) as LocalStoreCtor;

/** The caller a request is counted under (the plugin's keyGenerator; the lean path's key). */
const keyOf = (ctx: RequestContext) => `${ctx.actor.type}:${ctx.actor.id ?? ''}`;

function refusal(max: number, ttlMs: number): AppError {
  return new AppError(
    429,
    'rate_limited',
    `Rate limit exceeded: ${max} requests per minute. Retry in ${Math.ceil(ttlMs / 1000)} s.`,
  );
}

export interface LeanCount {
  /** The headers the plugin sets on the answer. */
  headers: Record<string, string>;
  /** Set when the caller is over the limit: the answer is this error (429). */
  refused?: AppError;
}

export interface RateLimit {
  /** The plugin's options (app.ts registers @fastify/rate-limit with them). */
  pluginOptions: RateLimitPluginOptions;
  /** Counts a request answered below Fastify, as the plugin's hook would have. */
  countLean(ctx: RequestContext): LeanCount;
}

/**
 * `max` requests a minute per caller. `uncounted` names requests the limit lets through without
 * counting: app.ts passes the cluster's signed forwards (modules/cluster/routing.ts), which the
 * instance the caller asked has counted already.
 */
export function createRateLimit(
  max: number,
  uncounted: (request: FastifyRequest) => boolean,
): RateLimit {
  // One counter for both paths. The plugin builds its store with `new Store(options)`; every
  // instance of this class uses the same LocalStore. A route with its own limit gets a store of
  // its own (`child`), as with the plugin's default store.
  const counter = new LocalStore(false, false);
  class SharedStore implements FastifyRateLimitStore {
    incr: FastifyRateLimitStore['incr'] = (key, callback, timeWindow, limit) => {
      counter.incr(key, callback, timeWindow, limit);
    };
    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const options = routeOptions as { continueExceeding?: boolean; exponentialBackoff?: boolean };
      return new LocalStore(
        options.continueExceeding === true,
        options.exponentialBackoff === true,
      );
    }
  }

  return {
    pluginOptions: {
      global: true,
      max,
      timeWindow: TIME_WINDOW_MS,
      store: SharedStore,
      // After authentication (the key is the caller), before a decision is forwarded to its home
      // instance (modules/cluster/routing.ts, a preHandler): the instance the caller asked counts
      // the request, and the home does not count the signed hop again.
      hook: 'preValidation',
      allowList: uncounted,
      enableDraftSpec: true,
      keyGenerator: (request: FastifyRequest) =>
        request.ctx === null ? `ip:${request.ip}` : keyOf(request.ctx),
      errorResponseBuilder: (_request, context) => refusal(context.max, context.ttl),
    },

    countLean(ctx): LeanCount {
      // LocalStore answers synchronously; the plugin awaits the same callback.
      let result: { current: number; ttl: number } | undefined;
      counter.incr(
        keyOf(ctx),
        (_error, res) => {
          result = res;
        },
        TIME_WINDOW_MS,
        max,
      );
      const current = result?.current ?? 0;
      const ttl = result?.ttl ?? 0;
      const reset = String(Math.ceil(ttl / 1000));
      if (current <= max) {
        return {
          headers: {
            'ratelimit-limit': String(max),
            'ratelimit-remaining': String(Math.max(0, max - current)),
            'ratelimit-reset': reset,
          },
        };
      }
      return {
        headers: {
          'ratelimit-limit': String(max),
          'ratelimit-remaining': '0',
          'ratelimit-reset': reset,
          'retry-after': reset,
        },
        refused: refusal(max, ttl),
      };
    },
  };
}
