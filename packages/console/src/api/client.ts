/**
 * The console's API client: same-origin fetch with the session cookie, the CSRF token on every
 * write, and the error text of the API's error bodies. Types come from @roster/contracts, the
 * TypeBox schemas the server validates with and publishes as OpenAPI.
 */
import type { Static } from 'typebox';
import {
  buildPath,
  OPERATIONS,
  type BodyOf,
  type GroupDeletionImpact,
  type OperationName,
  type ParamsOf,
  type ProjectGrantInProject,
  type QueryValue,
  type ResponseOf,
} from '@roster/contracts';

// The screens import the item types (Member, EndUser, Feature…) from here, as the server names them.
export type * from '@roster/contracts';
export { buildPath };

/** A grant in a project's grant list. */
export type ProjectGrantRow = Static<typeof ProjectGrantInProject>;
/** What deleting an end-user group would take away from whom (the dry run). */
export type DeletionImpact = Static<typeof GroupDeletionImpact>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)roster_csrf=([^;]+)/.exec(document.cookie);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

export type Query = Readonly<Record<string, QueryValue>>;

function errorText(status: number, body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    const record = body as { errors?: { title?: string }[]; message?: string };
    const title = record.errors?.[0]?.title ?? record.message;
    if (typeof title === 'string') return title;
  }
  if (status === 0) return 'The server cannot be reached';
  return `The server answered ${status}`;
}

/** Called on 401 so the app can go back to the sign-in page. */
let onSignedOut: (() => void) | undefined;
export function setSignedOutHandler(handler: () => void): void {
  onSignedOut = handler;
}

/** What `call` sends: the path parameters, query and body of the operation, typed by the table. */
export interface CallOptions<N extends OperationName> {
  params?: ParamsOf<N>;
  query?: Query;
  body?: BodyOf<N>;
}

/** Calls one operation of the table (@roster/contracts operations.ts); its answer is typed from it. */
export async function call<N extends OperationName>(
  name: N,
  options: CallOptions<N> = {},
): Promise<ResponseOf<N>> {
  const { method, path: template } = OPERATIONS[name];
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'get') {
    const token = csrfToken();
    if (token !== undefined) headers['x-csrf-token'] = token;
  }
  let response: Response;
  try {
    response = await fetch(buildPath(template, options.params ?? {}, options.query), {
      method: method.toUpperCase(),
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached');
  }
  const text = await response.text();
  let body: unknown = null;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    if (
      response.status === 401 &&
      !name.startsWith('signIn') &&
      name !== 'getSession' &&
      name !== 'setup'
    )
      onSignedOut?.();
    throw new ApiError(response.status, errorText(response.status, body));
  }
  return body as ResponseOf<N>;
}
