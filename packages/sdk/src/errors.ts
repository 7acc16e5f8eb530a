/**
 * The one error the SDK throws for an answer that is not a success: the HTTP status and what the
 * API's error body says (`{"errors":[{"code":"not_found","title":"Member not found"}]}`, or
 * `{"message": …}` on the endpoints that answer so), so callers branch on `status`/`code` and
 * show `message`. The local authorizer throws it too, with what the server would have answered.
 */
export class RosterError extends Error {
  override readonly name = 'RosterError';

  constructor(
    /** The HTTP status (or the one the server would have answered, for a local check). */
    readonly status: number,
    /** The error body's code: `bad_request`, `not_found`, `forbidden`, … */
    readonly code: string,
    message: string,
    /** The error body as the server sent it, when there was one. */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** Reads the API's error body (any of its shapes) into a RosterError. */
export function errorFromBody(status: number, body: unknown, statusText = ''): RosterError {
  if (typeof body === 'object' && body !== null) {
    const record = body as { errors?: unknown; message?: unknown };
    if (Array.isArray(record.errors) && record.errors.length > 0) {
      const first = record.errors[0] as { code?: unknown; title?: unknown };
      const title = typeof first.title === 'string' ? first.title : statusText;
      const code =
        typeof first.code === 'string' || typeof first.code === 'number'
          ? String(first.code)
          : String(status);
      return new RosterError(status, code, title, body);
    }
    if (typeof record.message === 'string')
      return new RosterError(status, String(status), record.message, body);
  }
  const text = typeof body === 'string' && body !== '' ? body : statusText;
  return new RosterError(status, String(status), text || `HTTP ${status}`, body);
}

/** Reads a failed response's body (JSON when it is) into a RosterError. */
export async function errorFromResponse(response: Response): Promise<RosterError> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the text is the message.
  }
  return errorFromBody(response.status, body, response.statusText);
}
