/**
 * The security headers, set in one place (an onSend hook on the root, so it covers every route,
 * error, 404 and static file) instead of by each route that sends HTML or a secret: a route that
 * forgets them was how `/index.html`, the SSO pages and `/api/docs` came to be frameable.
 *
 * - Every HTML response: a Content-Security-Policy (own files only; `frame-ancestors 'none'`
 *   against clickjacking), X-Frame-Options for browsers older than frame-ancestors, and
 *   Referrer-Policy. A route with stricter needs may set its own policy first.
 * - Every response: `X-Content-Type-Options: nosniff`, and `X-Request-Id`.
 * - Every response that has not chosen its own Cache-Control: `no-store`. API answers are per
 *   caller, and some carry a secret shown once (a new or rotated API client token, a SCIM
 *   connection's token, a new workspace's admin token); no browser or shared cache may keep them.
 *   Static files (the console's assets, Swagger UI's) and the console's page set their own.
 */
import type { Api } from './types.js';

/**
 * The console, the SSO pages and Swagger UI (`/api/docs`) load scripts, styles and the OpenAPI
 * document from this origin only. Inline styles are allowed: React's style properties, the SSO
 * pages' `<style>`, and Swagger UI's rendering use them; inline scripts are not.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

export function registerSecurityHeaders(app: Api): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    // Every answer names its request ID, the one its log lines carry (x-request-id: a caller's
    // own ID when it sends a sane one, so a trace can be followed from the caller's logs). Set
    // here rather than in a hook of its own: one hook fewer on every request.
    void reply.header('x-request-id', request.id);
    void reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.toLowerCase().startsWith('text/html')) {
      if (!reply.hasHeader('content-security-policy'))
        void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      void reply.header('x-frame-options', 'DENY').header('referrer-policy', 'same-origin');
    }
    done(null, payload);
  });
}
