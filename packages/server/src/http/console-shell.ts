/**
 * Serves the built console (packages/console/dist) from the API's own process: files by path,
 * and index.html for every other browser navigation (Accept: text/html) outside the API, so the
 * single-page app's routes work on reload. `/` asked by anything else (curl, a script) answers where
 * the console and the API are. Anything else that matches no route keeps the JSON 404.
 * It lives in http/ (with cookies.ts) because the console, invitations and SSO all answer
 * browsers with its pages: none of them owns it.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { Api } from './types.js';
import { errorBody } from './error-handler.js';

// Machine-facing paths: never answered with the console's page, whatever the Accept header.
const API_PREFIX = /^\/(api|platform|scim|sso|end-user-invitations)(\/|$)/;

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Roster</title></head>
<body style="font-family:system-ui;margin:3rem"><h1>Roster is running</h1>
<p>The admin console has not been built. Run <code>npm run build</code> (or <code>npm start</code>) and reload.</p>
<p>The API answers at <a href="/api/docs">/api/docs</a>.</p></body></html>`;

/** What `GET /` answers a client that does not ask for HTML (a browser gets the console). */
const SIGNPOST = {
  name: 'Roster',
  message:
    'Roster is running. Open this address in a web browser for the admin console (or /setup to create the first admin); the API reference is at /api/docs.',
  console: '/',
  setup: '/setup',
  api_docs: '/api/docs',
  openapi: '/api/openapi.json',
  health: '/healthz',
} as const;

export interface ConsolePage {
  /** Sends the console's index.html: the single-page app routes on the client. */
  send(reply: FastifyReply): Promise<FastifyReply>;
}

export function consolePage(staticDir: string): ConsolePage {
  return {
    async send(reply) {
      // The security headers (CSP, nosniff, …) are added to every HTML response by
      // http/security-headers.ts.
      void reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache');
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
      // Someone trying the server's address with curl or a script: say where everything is.
      if (urlPath === '/' && !wantsHtml(request.headers.accept)) return reply.send(SIGNPOST);
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
