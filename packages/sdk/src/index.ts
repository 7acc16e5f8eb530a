/**
 * @roster/sdk: a typed client for the Roster API (types generated from the server's OpenAPI
 * document), paging helpers, typed errors, the change stream, and local access decisions.
 */
export { createRosterClient, type RosterClient, type RosterClientOptions } from './client.js';
export { RosterError } from './errors.js';
export { items, pages, type ItemOf, type PagedPath, type PageOptions } from './paging.js';
export {
  streamEvents,
  type AuditEvent,
  type EventStreamOptions,
  type StreamedEvent,
} from './events.js';
export {
  createLocalAuthorizer,
  type AccessBatchResult,
  type AccessCheck,
  type AccessDecision,
  type AccessSnapshot,
  type LocalAuthorizer,
  type LocalAuthorizerOptions,
} from './local.js';
export type { components, operations, paths } from './generated/api.js';
