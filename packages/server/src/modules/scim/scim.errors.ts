/**
 * RFC 7644 §3.12 errors: `{"schemas":[…Error],"status":"404","scimType":…,"detail":…}`. The SCIM
 * scope renders every failure this way, whatever threw it (services, Fastify, the body parser).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.js';
import {
  isForeignKeyViolation,
  isInvalidValue,
  isUniqueViolation,
  STORAGE_RETRY_AFTER_SECONDS,
  storageFault,
} from '../../storage/errors.js';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimType,
  ) {
    super(message);
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

export function handleScimError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  void reply.type(SCIM_CONTENT_TYPE);
  if (error instanceof ScimError) {
    return reply
      .status(error.status)
      .send(scimErrorBody(error.status, error.message, error.scimType));
  }
  if (error instanceof AppError) {
    void reply.headers(error.headers);
    return reply.status(error.status).send(scimErrorBody(error.status, error.message));
  }
  const fastifyError = error as FastifyError;
  if (
    fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
  ) {
    return reply
      .status(400)
      .send(scimErrorBody(400, `The body is not valid JSON: ${error.message}`, 'invalidSyntax'));
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return reply
      .status(fastifyError.statusCode)
      .send(scimErrorBody(fastifyError.statusCode, error.message));
  }
  if (isInvalidValue(error)) {
    return reply
      .status(400)
      .send(scimErrorBody(400, 'A value is out of range or cannot be stored', 'invalidValue'));
  }
  // A constraint a service did not check first: two requests raced for the same name.
  if (isUniqueViolation(error)) {
    return reply
      .status(409)
      .send(
        scimErrorBody(
          409,
          'The resource already exists (a concurrent request created it)',
          'uniqueness',
        ),
      );
  }
  if (isForeignKeyViolation(error)) {
    return reply
      .status(409)
      .send(
        scimErrorBody(
          409,
          'A related resource was changed or deleted while the request ran. Retry the request.',
        ),
      );
  }
  const fault = storageFault(error);
  if (fault !== undefined) {
    request.log.error({ err: error, code: fault.code }, fault.message);
    if (fault.status === 503) void reply.header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS));
    return reply.status(fault.status).send(scimErrorBody(fault.status, fault.message));
  }
  request.log.error({ err: error }, 'unhandled SCIM error');
  return reply.status(500).send(scimErrorBody(500, 'Internal server error'));
}
