/**
 * Serves the built console (packages/console/dist) from the API's own process: files by path,
 * and index.html for every other browser navigation (Accept: text/html) outside the API, so the
 * single-page app's routes work on reload. Anything else that matches no route keeps the JSON 404.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { Api } from '../../http/types.js';
import { errorBody } from '../../http/error-handler.js';

// Machine-facing paths: never answered with the console's page, whatever the Accept header.
const API_PREFIX = /^\/(api|platform|scim|sso|end-user-invitations)(\/|$)/;
/** The console only loads its own files; inline styles are React's style properties. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Roster</title></head>
<body style="font-family:system-ui;margin:3rem"><h1>Roster is running</h1>
<p>The admin console has not been built. Run <code>npm run build</code> (or <code>npm start</code>) and reload.</p>
<p>The API answers at <a href="/api/docs">/api/docs</a>.</p></body></html>`;

export interface ConsolePage {
  /** Sends the console's index.html: the single-page app routes on the client. */
  send(reply: FastifyReply): Promise<FastifyReply>;
}

export function consolePage(staticDir: string): ConsolePage {
  return {
    async send(reply) {
      void reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'same-origin');
      try {
        return await reply.send(await readFile(path.join(staticDir, 'index.html'), 'utf8'));
      } catch {
        return await reply.status(503).send(NOT_BUILT);
      }
    },
  };
}

/** True when a browser navigates here (it asks for HTML) rather than an API client asking for JSON. */
export function wantsHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html !== -1 && (json === -1 || html < json);
}

export async function registerConsoleStatic(
  app: Api,
  staticDir: string,
  page: ConsolePage,
): Promise<void> {
  const built = existsSync(path.join(staticDir, 'index.html'));
  if (built) await app.register(fastifyStatic, { root: staticDir, serve: false });
  app.get(
    '/*',
    { config: { rateLimit: false }, schema: { hide: true } },
    async (request, reply) => {
      const urlPath = request.url.split('?')[0] ?? '/';
      if (API_PREFIX.test(urlPath)) {
        return reply
          .status(404)
          .send(errorBody('errors', 404, `Route ${request.method} ${urlPath} not found`));
      }
      if (built && path.extname(urlPath) !== '') {
        let relative: string;
        try {
          relative = path.normalize(decodeURIComponent(urlPath)).replace(/^([/\\])+/, '');
        } catch {
          return reply.status(400).send(errorBody('errors', 400, 'Malformed path'));
        }
        const file = path.join(staticDir, relative);
        const inside = file.startsWith(staticDir + path.sep);
        const found = inside && (await stat(file).catch(() => undefined))?.isFile() === true;
        if (!found)
          return reply.status(404).send(errorBody('errors', 404, `File ${urlPath} not found`));
        // Vite names built assets by content hash: they never change, so they may be cached for good.
        const immutable = relative.startsWith(`assets${path.sep}`);
        return reply.sendFile(relative, {
          maxAge: immutable ? 365 * 24 * 60 * 60 * 1000 : 0,
          immutable,
        });
      }
      // Browsers navigating to a console route get the app; API clients keep the JSON 404.
      if (!wantsHtml(request.headers.accept)) {
        return reply
          .status(404)
          .send(errorBody('errors', 404, `Route ${request.method} ${urlPath} not found`));
      }
      return page.send(reply);
    },
  );
}
