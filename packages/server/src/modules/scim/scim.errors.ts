/**
 * RFC 7644 §3.12 errors: `{"schemas":[…Error],"status":"404","scimType":…,"detail":…}`. The SCIM
 * scope renders every failure this way, whatever threw it (services, Fastify, the body parser);
 * what a failure means (status, message, scimType) is decided once, for the JSON API too, by
 * http/classify-error.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { classifyError } from '../../http/classify-error.js';
import { AppError, reasonCode, type ScimType } from '../../lib/errors.js';

export type { ScimType } from '../../lib/errors.js';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** An AppError whose code is its scimType (or the status's reason), for the SCIM services' own refusals. */
export class ScimError extends AppError {
  constructor(status: number, message: string, scimType?: ScimType) {
    super(status, `scim.${scimType ?? reasonCode(status)}`, message, {}, scimType);
    this.name = 'ScimError';
  }
}

export const scimBadRequest = (scimType: ScimType, message: string) =>
  new ScimError(400, message, scimType);
export const scimNotFound = (message: string) => new ScimError(404, message);

export function scimErrorBody(status: number, detail: string, scimType?: ScimType) {
  return {
    schemas: [ERROR_SCHEMA],
    status: String(status),
    ...(scimType === undefined ? {} : { scimType }),
    detail,
  };
}

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export function handleScimError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const classified = classifyError(error);
  if (classified.logMessage !== undefined)
    request.log.error({ err: error, code: classified.code }, classified.logMessage);
  return reply
    .type(SCIM_CONTENT_TYPE)
    .status(classified.status)
    .headers(classified.headers)
    .send(scimErrorBody(classified.status, classified.message, classified.scimType));
}
