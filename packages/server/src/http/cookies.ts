/**
 * The two console cookies, parsed and written by hand (two cookies do not need a plugin):
 * `roster_session` (HTTP-only, the session token) and `roster_csrf` (readable by the console's
 * script, which echoes it in the X-CSRF-Token header: double-submit CSRF protection).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'roster_session';
export const CSRF_COOKIE = 'roster_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index === -1) continue;
    if (part.slice(0, index).trim() === name) {
      const value = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export interface CookieOptions {
  /** Sent only over HTTPS: on when the public URL is https. */
  secure: boolean;
}

function serialize(
  name: string,
  value: string,
  maxAgeSeconds: number,
  httpOnly: boolean,
  options: CookieOptions,
): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    'SameSite=Lax',
    ...(httpOnly ? ['HttpOnly'] : []),
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export function setSessionCookies(
  reply: FastifyReply,
  session: { token: string; csrfToken: string; maxAgeSeconds: number },
  options: CookieOptions,
): void {
  void reply.header('set-cookie', [
    serialize(SESSION_COOKIE, session.token, session.maxAgeSeconds, true, options),
    serialize(CSRF_COOKIE, session.csrfToken, session.maxAgeSeconds, false, options),
  ]);
}

export function clearSessionCookies(reply: FastifyReply, options: CookieOptions): void {
  void reply.header('set-cookie', [
    serialize(SESSION_COOKIE, '', 0, true, options),
    serialize(CSRF_COOKIE, '', 0, false, options),
  ]);
}
