/**
 * The JSON API's error handler: classifies what was thrown (http/classify-error.ts, shared with
 * SCIM) and renders it in the body style of the route. 5xx detail goes to the log, never to the
 * client.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { reasonCode, type ErrorBodyStyle } from '../lib/errors.js';
import { classifyError } from './classify-error.js';

export function errorBody(style: ErrorBodyStyle, status: number, message: string): unknown {
  switch (style) {
    case 'message':
      return { message };
    case 'errors_numeric':
      return { errors: [{ code: status, title: message }] };
    default:
      return { errors: [{ code: reasonCode(status), title: message }] };
  }
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const style = request.routeOptions.config.errorStyle ?? 'errors';
  const classified = classifyError(error);
  if (classified.logMessage !== undefined)
    request.log.error({ err: error, code: classified.code }, classified.logMessage);
  // A refused request names its error code in the log too (no stack: it is the caller's error).
  else request.log.info({ code: classified.code, status: classified.status }, classified.message);
  return reply
    .status(classified.status)
    .headers(classified.headers)
    .send(errorBody(style, classified.status, classified.message));
}
