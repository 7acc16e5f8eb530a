/**
 * Bearer-token authentication for the workspace API (API clients) and the platform API
 * (ROSTER_PLATFORM_TOKEN). Tokens are compared by hash in constant time.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.js';
import { hashSecret, secretMatches } from '../lib/secrets.js';
import type { ApiClientsService } from '../modules/api-clients/api-clients.service.js';
import { scopeOf } from '../modules/api-clients/api-clients.service.js';

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

const unauthorized = (message: string) =>
  new AppError(401, 'auth.invalid', message, { 'www-authenticate': 'Bearer realm="roster"' });

export function apiClientAuth(apiClients: ApiClientsService) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request);
    if (token === undefined) throw unauthorized('Missing bearer token: send Authorization: Bearer <api_token>');
    const client = await apiClients.authenticate(token);
    if (client === undefined) throw unauthorized('Invalid or revoked API token');
    request.ctx = {
      workspaceId: client.workspace_id,
      actor: { type: 'api_client', id: String(client.id), name: client.name },
      scope: scopeOf(client),
    };
  };
}

export function platformAuth(platformToken: string | undefined) {
  const expectedHash = platformToken === undefined ? undefined : hashSecret(platformToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (expectedHash === undefined) {
      throw new AppError(404, 'platform.disabled', 'The platform API is off: set ROSTER_PLATFORM_TOKEN to enable it');
    }
    const token = bearerToken(request);
    if (token === undefined || !secretMatches(token, expectedHash)) throw unauthorized('Invalid platform token');
    await Promise.resolve();
  };
}
