/**
 * One error handler for the whole API: renders AppError in the body style of the route, turns
 * schema failures into 400s naming the field, passes framework 4xx through (bad JSON, body too
 * large, wrong content type) and hides the detail of anything else behind a logged 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, reasonCode, type ErrorBodyStyle } from '../lib/errors.js';
import {
  isForeignKeyViolation,
  isInvalidValue,
  isUniqueViolation,
  STORAGE_RETRY_AFTER_SECONDS,
  storageFault,
} from '../storage/errors.js';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

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

/** "user_group.name must NOT have more than 200 characters" */
function describeValidation(allIssues: ValidationIssue[], context: string | undefined): string {
  // A nullable field fails each branch of its anyOf: report the real problem, not "must be null"
  // and "must match a schema in anyOf" alongside it.
  const meaningful = allIssues.filter(
    (issue) =>
      issue.keyword !== 'anyOf' && !(issue.keyword === 'type' && issue.params?.type === 'null'),
  );
  const issues = meaningful.length > 0 ? meaningful : allIssues;
  const described = issues.slice(0, 5).map((issue) => {
    const path = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    let field = path;
    if (issue.keyword === 'required' && typeof issue.params?.missingProperty === 'string') {
      field =
        path === '' ? issue.params.missingProperty : `${path}.${issue.params.missingProperty}`;
      return `${field} is required`;
    }
    if (
      issue.keyword === 'additionalProperties' &&
      typeof issue.params?.additionalProperty === 'string'
    ) {
      return `${path === '' ? '' : `${path}.`}${issue.params.additionalProperty} is not allowed`;
    }
    const subject = field === '' ? (context === 'body' ? 'body' : (context ?? 'request')) : field;
    return `${subject} ${issue.message ?? 'is invalid'}`;
  });
  return [...new Set(described)].join('; ');
}

export function handleError(
  error: FastifyError | AppError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const style = request.routeOptions.config.errorStyle ?? 'errors';
  if (error instanceof AppError) {
    void reply.headers(error.headers);
    return reply.status(error.status).send(errorBody(style, error.status, error.message));
  }
  const fastifyError = error as FastifyError & {
    validation?: ValidationIssue[];
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation)) {
    return reply
      .status(400)
      .send(
        errorBody(
          style,
          400,
          describeValidation(fastifyError.validation, fastifyError.validationContext),
        ),
      );
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return reply
      .status(fastifyError.statusCode)
      .send(errorBody(style, fastifyError.statusCode, fastifyError.message));
  }
  if (isInvalidValue(error)) {
    return reply
      .status(400)
      .send(
        errorBody(
          style,
          400,
          'A value is out of range or contains characters that cannot be stored (such as NUL)',
        ),
      );
  }
  // A constraint that a service did not check first (a race between two requests).
  if (isUniqueViolation(error)) {
    return reply
      .status(409)
      .send(
        errorBody(
          style,
          409,
          'The resource changed while the request ran: it already exists. Retry the request.',
        ),
      );
  }
  if (isForeignKeyViolation(error)) {
    return reply
      .status(409)
      .send(
        errorBody(
          style,
          409,
          'A related resource was changed or deleted while the request ran. Retry the request.',
        ),
      );
  }
  const fault = storageFault(error);
  if (fault !== undefined) {
    // The driver's own error goes to the log only; the client reads what happened and what to do.
    request.log.error({ err: error, code: fault.code }, fault.message);
    if (fault.status === 503) void reply.header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS));
    return reply.status(fault.status).send(errorBody(style, fault.status, fault.message));
  }
  request.log.error({ err: error }, 'unhandled error');
  return reply.status(500).send(errorBody(style, 500, 'Internal server error'));
}
