/**
 * `POST /api/access/check` served below Fastify (http/lean-path.ts): the single access check is the
 * hottest request and Fastify's request pipeline cost about as much CPU as everything the check
 * itself does (docs/performance.md, "HTTP single checks next to a bare Fastify route"). It answers
 * a JSON check from a caller whose API token is cached, on a loaded workspace; everything else is
 * passed to Fastify's route, which answers as it always has:
 * - untouched, before the body is read: another content type, no or a large Content-Length, a
 *   query string, no bearer token, a token not in the cache (first use, revoked, rotated: the
 *   cache forgets those at once), a console session; in a cluster, a signed hop from another
 *   instance and a check whose workspace is homed elsewhere (Fastify's hook forwards it,
 *   modules/cluster/routing.ts);
 * - with the bytes read: a body that is not JSON, nests too deep or fails the body schema, and a
 *   workspace still loading (Fastify's route waits for it).
 * What it does is what the Fastify route does, through the same functions: the app's JSON parser
 * (the depth limit, prototype poisoning refused), the body validator and the answer's serializer
 * Fastify compiled for the route, the auth hook's cached-token lookup, the decisions service, and
 * for an error the check throws (an unknown member, a privilege not in the catalogue) the error
 * classification and body of http/error-handler.ts. A check answered here is counted in the rate
 * limit's own counter, with its headers and its 429 (http/rate-limit.ts), at the point the
 * plugin's preValidation hook counts it: a request handed to Fastify is counted there, once.
 * Request ID, security headers, request log lines and request metrics: http/lean-path.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessCheck } from '@roster/contracts';
import type { RequestContext } from '../../lib/context.js';
import { cachedClientContext, type ClientAuthenticator } from '../../http/auth.js';
import { classifyError } from '../../http/classify-error.js';
import { errorBody } from '../../http/error-handler.js';
import {
  handOverWithBody,
  leanRequestLog,
  readSmallBody,
  sendLean,
  type CompiledSchemas,
  type LeanDispatcher,
  type NodeHandler,
} from '../../http/lean-path.js';
import type { RateLimit } from '../../http/rate-limit.js';
import { requestIdOf } from '../../http/request-id.js';
import { FORWARD_HEADER } from '../cluster/routing.js';
import { isEndUserCheck, type DecisionsService } from './decisions.service.js';

export const LEAN_CHECK_PATH = '/api/access/check';
const METHOD = 'POST';
/** A check's body is about 100 bytes; anything much larger is Fastify's to read and refuse. */
const LEAN_BODY_MAX = 16 * 1024;
const JSON_TYPE = 'application/json; charset=utf-8';

type JsonParse = (text: string) => { ok: true; value: unknown } | { ok: false };

export function registerLeanCheck(
  dispatcher: LeanDispatcher,
  deps: {
    decisions: DecisionsService;
    apiClients: ClientAuthenticator;
    schemas: CompiledSchemas;
    parseJson: JsonParse;
    /** The rate limit, when on: a check answered here counts in its counter. */
    rateLimit: RateLimit | undefined;
    /** In a cluster that forwards decisions: whether a workspace is homed on this instance. */
    holds: ((workspaceId: number) => boolean) | undefined;
    metrics: {
      request(method: string, route: string, status: number, ms: number): void;
      leanAnswers: number;
    };
  },
): void {
  const { decisions, apiClients, schemas, parseJson, rateLimit, holds, metrics } = deps;
  dispatcher.route(METHOD, LEAN_CHECK_PATH, (req, res, fastify) => {
    const started = performance.now();
    const type = req.headers['content-type'];
    const ctx =
      type === 'application/json' || type === JSON_TYPE
        ? cachedClientContext(apiClients, req.headers.authorization)
        : undefined;
    // Validators are compiled when the app is ready, which is before it listens.
    const validate = schemas.validator(METHOD, LEAN_CHECK_PATH, 'body');
    if (
      ctx === undefined ||
      validate === undefined ||
      (holds !== undefined &&
        (req.headers[FORWARD_HEADER] !== undefined || !holds(ctx.workspaceId)))
    ) {
      fastify(req, res);
      return;
    }
    const reading = readSmallBody(req, LEAN_BODY_MAX, (bytes) => {
      if (bytes === undefined) {
        // The client went away mid-body: nothing to answer.
        res.destroy();
        return;
      }
      try {
        answer(req, res, ctx, validate, bytes, fastify, started);
      } catch (error) {
        // Nothing here should throw (the check's own errors are answered above); if something
        // does, Fastify's route answers the request as it would have, unless it is half sent.
        dispatcher.log()?.error({ err: error }, 'lean access check failed');
        if (res.headersSent) res.destroy();
        else handOverWithBody(req, res, bytes, fastify);
      }
    });
    if (!reading) fastify(req, res);
  });

  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    validate: (data: unknown) => boolean,
    bytes: Buffer,
    fastify: NodeHandler,
    started: number,
  ): void {
    const parsed = parseJson(bytes.toString('utf8'));
    if (!parsed.ok || !validate(parsed.value)) {
      handOverWithBody(req, res, bytes, fastify);
      return;
    }
    const check = parsed.value as AccessCheck;
    const loading = decisions.ready(ctx, isEndUserCheck(check));
    if (loading !== undefined) {
      // Fastify's route waits for the load (or answers its 503); this promise is not needed.
      loading.catch(() => undefined);
      handOverWithBody(req, res, bytes, fastify);
      return;
    }
    const id = requestIdOf(req.headers);
    const reqLog = leanRequestLog(dispatcher.log(), id, req);
    let status = 200;
    let payload: string;
    let headers: Record<string, string> | undefined;
    try {
      // Where the plugin's preValidation hook counts: after the body parsed, before the check.
      if (rateLimit !== undefined) {
        const counted = rateLimit.countLean(ctx);
        headers = counted.headers;
        if (counted.refused !== undefined) throw counted.refused;
      }
      payload = schemas.serializer(
        METHOD,
        LEAN_CHECK_PATH,
        200,
      )({
        data: decisions.check(ctx, check),
      });
    } catch (error) {
      // As http/error-handler.ts answers it: the route's style is the default one.
      const classified = classifyError(error);
      // Its log lines at their levels, whether or not info (the request lines) is on.
      const errorLog = reqLog ?? dispatcher.log()?.child({ reqId: id });
      if (classified.logMessage !== undefined)
        errorLog?.error({ err: error, code: classified.code }, classified.logMessage);
      else errorLog?.info({ code: classified.code, status: classified.status }, classified.message);
      status = classified.status;
      headers = { ...headers, ...classified.headers };
      payload = schemas.serializer(
        METHOD,
        LEAN_CHECK_PATH,
        status,
      )(errorBody('errors', status, classified.message));
    }
    const ms = sendLean(
      res,
      { id, status, contentType: JSON_TYPE, payload, headers },
      reqLog,
      started,
    );
    metrics.request(METHOD, LEAN_CHECK_PATH, status, ms);
    metrics.leanAnswers += 1;
  }
}
