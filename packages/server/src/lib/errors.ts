/**
 * The one error type services throw. The HTTP error handler renders it in the body style the
 * reference API uses for that endpoint; `code` is for logs and tests, `message` is what users read.
 */
export type ErrorBodyStyle =
  /** `{"errors":[{"code":"bad_request","title":"…"}]}` — the reference API's usual body. */
  | 'errors'
  /** `{"errors":[{"code":400,"title":"…"}]}` — what the reference API answers on PUT /api/members/:id. */
  | 'errors_numeric'
  /** `{"message":"…"}` — what the reference API answers on POST /api/member_invitations. */
  | 'message';

/**
 * RFC 7644 §3.12's names for a failed SCIM request. They live here, beside AppError, because the
 * one error classification (http/classify-error.ts) gives them to framework and storage failures
 * too; only the SCIM surface renders them.
 */
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

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** How SCIM names this failure, when a SCIM request can meet it. */
    readonly scimType?: ScimType,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const notFound = (code: string, message = 'Not found') => new AppError(404, code, message);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const gone = (code: string, message: string) => new AppError(410, code, message);
export const tooManyRequests = (code: string, message: string, retryAfterSeconds: number) =>
  new AppError(429, code, message, {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });

/** The short reason codes of the reference API's error bodies, by HTTP status. */
export function reasonCode(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 405:
      return 'method_not_allowed';
    case 409:
      return 'conflict';
    case 410:
      return 'gone';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 422:
      return 'unprocessable_entity';
    case 429:
      return 'too_many_requests';
    case 503:
      return 'service_unavailable';
    case 507:
      return 'insufficient_storage';
    default:
      return status >= 500 ? 'server_error' : 'bad_request';
  }
}
