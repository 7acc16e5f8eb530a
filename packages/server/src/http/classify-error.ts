/**
 * The one place that decides what a thrown error means for the client: its status, the message
 * the client reads, the headers it needs (Retry-After) and whether the server logs it. Each
 * surface only formats the result — the JSON API in the endpoint's body style
 * (http/error-handler.ts), SCIM as an RFC 7644 error (modules/scim/scim.errors.ts) — so the same
 * failure gets the same status and message on both.
 */
import type { FastifyError } from 'fastify';
import { AppError, type ScimType } from '../lib/errors.js';
import {
  isForeignKeyViolation,
  isInvalidValue,
  isUniqueViolation,
  STORAGE_RETRY_AFTER_SECONDS,
  storageFault,
} from '../storage/errors.js';

export interface ClassifiedError {
  status: number;
  /** For logs and tests: the AppError's code, or the kind of failure (`storage.busy`, `internal`). */
  code: string;
  /** What the client reads; never driver text. */
  message: string;
  headers: Record<string, string>;
  /** How SCIM names the failure (RFC 7644 §3.12), when it has a name; the JSON API has no such field. */
  scimType?: ScimType;
  /** Set for server faults: the server logs the original error with this line, the client gets `message`. */
  logMessage?: string;
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** What Fastify adds to the errors it throws: schema failures and its own 4xx (body parser, limits). */
type FrameworkError = FastifyError & {
  validation?: ValidationIssue[];
  validationContext?: string;
};

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
    // A union of literals (an enum) fails one `const` per branch: name the values it takes.
    if (issue.keyword === 'const') {
      const allowed = issues
        .filter((i) => i.keyword === 'const' && i.instancePath === issue.instancePath)
        .map((i) => JSON.stringify(i.params?.allowedValue));
      return `${subject} must be one of ${allowed.join(', ')}`;
    }
    return `${subject} ${issue.message ?? 'is invalid'}`;
  });
  return [...new Set(described)].join('; ');
}

/** The body parser's refusals of text that is no JSON at all. */
const UNPARSABLE_BODY_CODES = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
]);

const clientError = (
  status: number,
  code: string,
  message: string,
  scimType?: ScimType,
): ClassifiedError => ({
  status,
  code,
  message,
  headers: {},
  ...(scimType === undefined ? {} : { scimType }),
});

/** Classifies anything a route, hook or parser threw. */
export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof AppError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      headers: error.headers,
      ...(error.scimType === undefined ? {} : { scimType: error.scimType }),
    };
  }
  const framework = error as Partial<FrameworkError> | null | undefined;
  if (Array.isArray(framework?.validation)) {
    return clientError(
      400,
      'request.invalid',
      describeValidation(framework.validation, framework.validationContext),
    );
  }
  const statusCode = framework?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const code = typeof framework?.code === 'string' ? framework.code : 'request.refused';
    return clientError(
      statusCode,
      code,
      String(framework?.message),
      UNPARSABLE_BODY_CODES.has(code) ? 'invalidSyntax' : undefined,
    );
  }
  if (isInvalidValue(error)) {
    return clientError(
      400,
      'storage.invalid_value',
      'A value is out of range or contains characters that cannot be stored (such as NUL)',
      'invalidValue',
    );
  }
  // A constraint that a service did not check first (a race between two requests).
  if (isUniqueViolation(error)) {
    return clientError(
      409,
      'storage.unique_violation',
      'The resource changed while the request ran: it already exists. Retry the request.',
      'uniqueness',
    );
  }
  if (isForeignKeyViolation(error)) {
    return clientError(
      409,
      'storage.foreign_key_violation',
      'A related resource was changed or deleted while the request ran. Retry the request.',
    );
  }
  const fault = storageFault(error);
  if (fault !== undefined) {
    // The driver's own error goes to the log only; the client reads what happened and what to do.
    return {
      status: fault.status,
      code: fault.code,
      message: fault.message,
      headers: fault.status === 503 ? { 'retry-after': String(STORAGE_RETRY_AFTER_SECONDS) } : {},
      logMessage: fault.message,
    };
  }
  return {
    status: 500,
    code: 'internal',
    message: 'Internal server error',
    headers: {},
    logMessage: 'unhandled error',
  };
}
