/**
 * API clients: bearer tokens scoped to environments and projects. Tokens are shown once and
 * stored as SHA-256 hashes; a client can only create clients within its own scope, so a token
 * never mints a stronger one.
 */
import type { ApiClient, CreateApiClientBody } from '@roster/contracts';
import type { Db, Executor, Row } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, forbidden, notFound } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../../lib/secrets.js';
import type { ClientScope, RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireCollaboratorActor } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import type { ChangeEvent, ChangeSubscriptions } from '../audit/change-feed.js';
import { listEnvironments } from '../environments/environments.repository.js';
import { environmentNotFound } from '../environments/environments.service.js';
import {
  findApiClientById,
  findApiClientByTokenHash,
  insertApiClient,
  listApiClients,
  updateApiClient,
} from './api-clients.repository.js';

const TOKEN_PREFIX = 'rst';

function displayPrefix(token: string): string {
  return `${token.slice(0, TOKEN_PREFIX.length + 9)}…`;
}

export function toApiClient(row: Row<'api_clients'>): ApiClient {
  return {
    id: row.id,
    name: row.name,
    environment_types: fromJson<string[]>(row.environment_types),
    project_ids: fromJson<number[]>(row.project_ids),
    token_prefix: row.token_prefix,
    created_at: row.created_at,
    rotated_at: row.rotated_at,
    revoked_at: row.revoked_at,
  };
}

export function scopeOf(row: Row<'api_clients'>): ClientScope {
  const projectIds = fromJson<number[]>(row.project_ids);
  return {
    environmentTypes: new Set(fromJson<string[]>(row.environment_types)),
    projectIds: projectIds === null ? null : new Set(projectIds),
  };
}

/** Inserts a client and returns its one-time token; used by the service and by workspace creation. */
export async function issueApiClient(
  trx: Executor,
  clock: Clock,
  input: {
    workspaceId: number;
    name: string;
    environmentTypes: string[];
    projectIds: number[] | null;
    token?: string | undefined;
  },
): Promise<{ row: Row<'api_clients'>; token: string }> {
  const token = input.token ?? newSecret(TOKEN_PREFIX);
  const row = await insertApiClient(trx, {
    workspace_id: input.workspaceId,
    name: input.name,
    token_hash: hashSecret(token),
    token_prefix: displayPrefix(token),
    environment_types: toJson(input.environmentTypes),
    project_ids: input.projectIds === null ? null : toJson(input.projectIds),
    created_at: isoNow(clock),
    rotated_at: null,
    revoked_at: null,
  });
  return { row, token };
}

/** An authenticated client as every request needs it: the row, and its scope parsed once. */
export interface AuthenticatedClient {
  row: Row<'api_clients'>;
  scope: ClientScope;
}

/** Above this many cached tokens the cache starts over (a bound on memory, not a working-set policy). */
const MAX_CACHED_TOKENS = 10_000;

/**
 * Authenticated clients by token hash, so a request's authentication is a hash and a map lookup
 * instead of a query. Only successes are cached (a new token works at once). Entries leave on
 * rotate and revoke in this process, and, for writes made by other instances, when the change
 * feed delivers the `api_client` audit event (the service subscribes: evictChanged, within the
 * feed's sync bound: docs/decisions.md).
 */
class ClientCache {
  private readonly byHash = new Map<string, AuthenticatedClient>();
  /** Bumped by every eviction: a lookup that started before one must not fill the cache. */
  generation = 0;

  get(hash: string): AuthenticatedClient | undefined {
    return this.byHash.get(hash);
  }

  set(hash: string, client: AuthenticatedClient, generation: number): void {
    if (generation !== this.generation) return;
    if (this.byHash.size >= MAX_CACHED_TOKENS) this.byHash.clear();
    this.byHash.set(hash, client);
  }

  evict(clientId: number | null): void {
    this.generation += 1;
    if (clientId === null) {
      this.byHash.clear();
      return;
    }
    for (const [hash, client] of this.byHash)
      if (client.row.id === clientId) this.byHash.delete(hash);
  }
}

/**
 * The cache's subscription to the change feed: every `api_client` event (rotate, revoke, made by
 * this instance or another) drops that client; one whose ID cannot be read drops every client.
 */
function evictChanged(cache: ClientCache, events: readonly ChangeEvent[]): void {
  for (const event of events) {
    if (event.targetType !== 'api_client') continue;
    const id = event.targetId;
    cache.evict(id !== null && /^\d+$/.test(id) ? Number(id) : null);
  }
}

/** Constant-time comparison of two hex SHA-256 hashes. */
function hashesMatch(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function createApiClientsService(deps: {
  db: Db;
  clock: Clock;
  /** The change feed (audit/change-feed.ts): how other instances' rotations reach this cache. */
  changes: ChangeSubscriptions;
}) {
  const cache = new ClientCache();
  deps.changes.subscribe((events) => {
    evictChanged(cache, events);
  });

  /**
   * The client of a token when the cache has it, without a query or a promise (the auth hook's
   * fast path); undefined means "not cached", not "invalid": then ask authenticateClient.
   */
  function cachedClient(token: string): AuthenticatedClient | undefined {
    const hash = hashSecret(token);
    const cached = cache.get(hash);
    return cached !== undefined && hashesMatch(hash, cached.row.token_hash) ? cached : undefined;
  }

  async function authenticateClient(token: string): Promise<AuthenticatedClient | undefined> {
    const hash = hashSecret(token);
    const cached = cache.get(hash);
    if (cached !== undefined) return hashesMatch(hash, cached.row.token_hash) ? cached : undefined;
    const generation = cache.generation;
    const row = await findApiClientByTokenHash(deps.db, hash);
    if (row === undefined || row.revoked_at !== null || !hashesMatch(hash, row.token_hash))
      return undefined;
    const client = { row, scope: scopeOf(row) };
    cache.set(hash, client, generation);
    return client;
  }

  async function requireClient(ctx: RequestContext, id: number): Promise<Row<'api_clients'>> {
    requireCollaboratorActor(ctx);
    const row = await findApiClientById(deps.db, ctx.workspaceId, id);
    if (row === undefined) throw notFound('api_client.not_found');
    return row;
  }

  /** A client may manage only clients whose scope is within its own. */
  function assertWithinScope(ctx: RequestContext, scope: ClientScope): void {
    for (const type of scope.environmentTypes) {
      if (!ctx.scope.environmentTypes.has(type)) {
        throw forbidden(
          'api_client.scope_exceeded',
          `Your API client has no access to the ${type} environment`,
        );
      }
    }
    if (ctx.scope.projectIds !== null) {
      if (scope.projectIds === null) {
        throw forbidden(
          'api_client.scope_exceeded',
          'Your API client is limited to some projects and cannot grant access to all',
        );
      }
      for (const id of scope.projectIds) {
        if (!ctx.scope.projectIds.has(id)) {
          throw forbidden(
            'api_client.scope_exceeded',
            `Your API client has no access to project ${id}`,
          );
        }
      }
    }
  }

  return {
    /** Resolves a bearer token to its client and scope (cached), or undefined when unknown or revoked. */
    authenticateClient,
    cachedClient,

    /** Resolves a bearer token to its client, or undefined when unknown or revoked. */
    async authenticate(token: string): Promise<Row<'api_clients'> | undefined> {
      return (await authenticateClient(token))?.row;
    },

    async createClient(
      ctx: RequestContext,
      body: CreateApiClientBody,
    ): Promise<ApiClient & { token: string }> {
      requireCollaboratorActor(ctx);
      const environments = await listEnvironments(deps.db, ctx.workspaceId);
      const known = new Set(environments.map((env) => env.type));
      const environmentTypes =
        body.environment_types ?? [...ctx.scope.environmentTypes].filter((t) => known.has(t));
      for (const type of environmentTypes) {
        if (!known.has(type)) throw environmentNotFound(type);
      }
      // Omitted means "as the caller"; an explicit null asks for every project, which the scope
      // check below refuses to a project-limited caller (`??` would silently narrow it instead).
      const projectIds =
        body.project_ids === undefined
          ? ctx.scope.projectIds === null
            ? null
            : [...ctx.scope.projectIds]
          : body.project_ids;
      if (projectIds !== null && projectIds.length > 0) {
        const found = await deps.db
          .selectFrom('projects')
          .select('id')
          .where('workspace_id', '=', ctx.workspaceId)
          .where('id', 'in', projectIds)
          .execute();
        const foundIds = new Set(found.map((p) => p.id));
        const missing = projectIds.find((id) => !foundIds.has(id));
        if (missing !== undefined)
          throw badRequest('api_client.project_unknown', `Project ${missing} not found`);
      }
      assertWithinScope(ctx, {
        environmentTypes: new Set(environmentTypes),
        projectIds: projectIds === null ? null : new Set(projectIds),
      });
      return deps.db.transaction().execute(async (trx) => {
        const { row, token } = await issueApiClient(trx, deps.clock, {
          workspaceId: ctx.workspaceId,
          name: body.name,
          environmentTypes: [...new Set(environmentTypes)],
          projectIds: projectIds === null ? null : [...new Set(projectIds)],
        });
        await recordChange(
          trx,
          ctx,
          isoNow(deps.clock),
          'api_client.created',
          ['api_client', row.id],
          { after: toApiClient(row) },
        );
        return { ...toApiClient(row), token };
      });
    },

    async listClients(
      ctx: RequestContext,
      query: { include_revoked?: boolean; 'page[number]'?: number; 'page[size]'?: number },
    ): Promise<Paged<ApiClient>> {
      requireCollaboratorActor(ctx);
      const page = pageRequest(query);
      const { rows, total } = await listApiClients(deps.db, ctx.workspaceId, {
        includeRevoked: query.include_revoked ?? false,
        limit: page.size,
        offset: page.offset,
      });
      return paged(rows.map(toApiClient), total, page);
    },

    async getClient(ctx: RequestContext, id: number): Promise<ApiClient> {
      return toApiClient(await requireClient(ctx, id));
    },

    async rotateClient(ctx: RequestContext, id: number): Promise<ApiClient & { token: string }> {
      const existing = await requireClient(ctx, id);
      if (existing.revoked_at !== null)
        throw badRequest('api_client.revoked', 'A revoked API client cannot be rotated');
      assertWithinScope(ctx, scopeOf(existing));
      const token = newSecret(TOKEN_PREFIX);
      // Evicted before and after the write: a lookup racing the transaction cannot refill the cache.
      cache.evict(id);
      const rotated = await deps.db.transaction().execute(async (trx) => {
        const row = await updateApiClient(trx, id, {
          token_hash: hashSecret(token),
          token_prefix: displayPrefix(token),
          rotated_at: isoNow(deps.clock),
        });
        await recordChange(trx, ctx, isoNow(deps.clock), 'api_client.rotated', ['api_client', id]);
        return { ...toApiClient(row), token };
      });
      cache.evict(id);
      return rotated;
    },

    async revokeClient(ctx: RequestContext, id: number): Promise<void> {
      const existing = await requireClient(ctx, id);
      if (existing.revoked_at !== null) return;
      assertWithinScope(ctx, scopeOf(existing));
      cache.evict(id);
      await deps.db.transaction().execute(async (trx) => {
        await updateApiClient(trx, id, { revoked_at: isoNow(deps.clock) });
        await recordChange(trx, ctx, isoNow(deps.clock), 'api_client.revoked', ['api_client', id]);
      });
      cache.evict(id);
    },
  };
}
export type ApiClientsService = ReturnType<typeof createApiClientsService>;
