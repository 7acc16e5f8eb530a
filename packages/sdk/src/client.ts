/**
 * The API client: openapi-fetch over the types generated from the server's OpenAPI document
 * (src/generated/api.ts), so every path, parameter and body is checked by the compiler. Every
 * request carries the bearer token, and an answer that is not a success is thrown as a
 * RosterError (status, code and message from the error body), so `data` is what the API returned.
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './generated/api.js';
import { errorFromResponse } from './errors.js';

export interface RosterClientOptions {
  /** The server's URL, e.g. `https://roster.example.com` (paths start with `/api`). */
  baseUrl: string;
  /** An API client token (`rst_…`). */
  token: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

export type RosterClient = Client<paths>;

export function createRosterClient(options: RosterClientOptions): RosterClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    headers: { authorization: `Bearer ${options.token}` },
  });
  const throwErrors: Middleware = {
    async onResponse({ response }) {
      if (!response.ok) throw await errorFromResponse(response);
      return undefined;
    },
  };
  client.use(throwErrors);
  return client;
}
