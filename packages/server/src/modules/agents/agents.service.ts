/**
 * Agent identities: an AI agent that calls MCP tools through the gateway (modules/gateway) on
 * behalf of one end user. Its token is shown once and stored as a SHA-256 hash, like an API
 * client's; the gateway authenticates it here (a hash and a map lookup, cached like API-client
 * tokens and evicted by the change feed, so a disable or rotate on any instance reaches this one
 * within the feed's bound). What the agent may do is the intersection of its own features and
 * tools and its end user's decision (docs/agents.md).
 */
import type {
  Agent,
  AgentWithToken,
  CreateAgentBody,
  ListAgentsQuery,
  UpdateAgentBody,
} from '@roster/contracts';
import type { Db, Executor } from '../../storage/database.js';
import { fromJson, toJson } from '../../storage/json.js';
import { isoNow, type Clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import { newSecret } from '../../lib/ids.js';
import { hashSecret, secretMatches } from '../../lib/secrets.js';
import type { RequestContext } from '../../lib/context.js';
import { paged, pageRequest, type Paged } from '../../lib/pagination.js';
import { requireEnvironmentAccess } from '../../lib/scope.js';
import { recordChange } from '../audit/audit.repository.js';
import type { ChangeEvent, ChangeSubscriptions } from '../audit/change-feed.js';
import { findEndUserById } from '../end-users/end-users.repository.js';
import {
  environmentScope,
  requireEnvironment,
  requireInScope,
} from '../environments/environments.service.js';
import { findFeaturesByIds } from '../features/features.repository.js';
import {
  deleteAgent,
  findAgentById,
  findAgentByTokenHash,
  insertAgent,
  listAgentFeatures,
  listAgents,
  replaceAgentFeatures,
  updateAgent,
  type AgentRow,
} from './agents.repository.js';

/** Agent tokens: recognisable by secret scanners, and told apart from API-client tokens (`rst_`). */
export const AGENT_TOKEN_PREFIX = 'rag';

/** An authenticated agent, as the gateway needs it on every call. */
export interface AgentIdentity {
  id: number;
  name: string;
  workspaceId: number;
  environmentId: number;
  environmentType: string;
  endUserId: number;
  disabled: boolean;
  expiresAt: string | null;
  /** The features the agent may use; per feature, the only tools it may call (null: all). */
  features: ReadonlyMap<number, ReadonlySet<string> | null>;
  tokenHash: string;
}

type FeatureRow = { agent_id: number; feature_id: number; tools: string | null };

function displayPrefix(token: string): string {
  return `${token.slice(0, AGENT_TOKEN_PREFIX.length + 9)}…`;
}

export function toAgent(row: AgentRow, features: readonly FeatureRow[]): Agent {
  const tools: Record<string, string[]> = {};
  for (const f of features) {
    const list = fromJson<string[]>(f.tools);
    if (list !== null) tools[String(f.feature_id)] = list;
  }
  return {
    id: row.id,
    name: row.name,
    environment_type: row.environment_type,
    end_user: { id: row.end_user_id, name: row.end_user_name, email: row.end_user_email },
    feature_ids: features.map((f) => f.feature_id),
    tools,
    token_prefix: row.token_prefix,
    disabled: row.disabled === 1,
    expires_at: row.expires_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    rotated_at: row.rotated_at,
  };
}

function toIdentity(row: AgentRow, features: readonly FeatureRow[]): AgentIdentity {
  const map = new Map<number, ReadonlySet<string> | null>();
  for (const f of features) {
    const list = fromJson<string[]>(f.tools);
    map.set(f.feature_id, list === null ? null : new Set(list));
  }
  return {
    id: row.id,
    name: row.name,
    workspaceId: row.workspace_id,
    environmentId: row.environment_id,
    environmentType: row.environment_type,
    endUserId: row.end_user_id,
    disabled: row.disabled === 1,
    expiresAt: row.expires_at,
    features: map,
    tokenHash: row.token_hash,
  };
}

/** Above this many cached agents the cache starts over (a bound on memory). */
const MAX_CACHED_AGENTS = 10_000;

/**
 * Agents by token hash, so the gateway authenticates a call with a hash and a map lookup. Only
 * found agents are cached (a new token works at once). An `agent` change event (any instance's
 * write, delivered by the change feed) drops that agent; deleting an end user or a feature (whose
 * agents and agent features cascade) drops them all. A lookup that started before an eviction
 * does not fill the cache (generation).
 */
class AgentCache {
  private readonly byHash = new Map<string, AgentIdentity>();
  generation = 0;

  get(hash: string): AgentIdentity | undefined {
    return this.byHash.get(hash);
  }

  set(hash: string, agent: AgentIdentity, generation: number): void {
    if (generation !== this.generation) return;
    if (this.byHash.size >= MAX_CACHED_AGENTS) this.byHash.clear();
    this.byHash.set(hash, agent);
  }

  evict(agentId: number | null): void {
    this.generation += 1;
    if (agentId === null) {
      this.byHash.clear();
      return;
    }
    for (const [hash, agent] of this.byHash) if (agent.id === agentId) this.byHash.delete(hash);
  }

  onChanges(events: readonly ChangeEvent[]): void {
    for (const event of events) {
      if (event.targetType === 'agent') {
        // A tool call is a log entry: it changes no agent.
        if (event.action === 'agent.tool_call') continue;
        const id = event.targetId;
        this.evict(id !== null && /^\d+$/.test(id) ? Number(id) : null);
      } else if (
        (event.targetType === 'end_user' || event.targetType === 'feature') &&
        event.action.endsWith('.deleted')
      ) {
        this.evict(null);
      }
    }
  }
}

const missing = () => notFound('agent.not_found', 'Agent not found');

export function createAgentsService(deps: { db: Db; clock: Clock; changes: ChangeSubscriptions }) {
  const now = () => isoNow(deps.clock);
  const cache = new AgentCache();
  deps.changes.subscribe((events) => {
    cache.onChanges(events);
  });

  async function requireAgent(db: Executor, ctx: RequestContext, id: number): Promise<AgentRow> {
    return requireInScope(ctx, await findAgentById(db, ctx.workspaceId, id), missing);
  }

  async function agentOut(db: Executor, row: AgentRow): Promise<Agent> {
    return toAgent(row, await listAgentFeatures(db, [row.id]));
  }

  /**
   * The features (of the agent's environment, MCP servers) and per-feature tools of a create or
   * update, checked, as rows of agent_features.
   */
  async function featureRows(
    db: Executor,
    ctx: RequestContext,
    environmentId: number,
    featureIds: number[],
    tools: Record<string, string[]> | undefined,
  ): Promise<{ feature_id: number; tools: string | null }[]> {
    const ids = [...new Set(featureIds)];
    const found = await findFeaturesByIds(db, ctx.workspaceId, ids);
    const unknown = ids.filter((id) => !found.some((f) => f.id === id));
    if (unknown.length > 0)
      throw badRequest('agent.feature_unknown', `Features not found: ${unknown.join(', ')}`);
    const foreign = found.filter((f) => f.environment_id !== environmentId);
    if (foreign.length > 0) {
      throw badRequest(
        'agent.feature_environment',
        `An agent uses features of its own environment only: ${foreign.map((f) => f.name).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} in another`,
      );
    }
    const notMcp = found.filter((f) => f.kind !== 'mcp_server');
    if (notMcp.length > 0) {
      throw badRequest(
        'agent.feature_kind',
        `An agent calls MCP servers: ${notMcp.map((f) => f.name).join(', ')} ${notMcp.length === 1 ? 'is not an mcp_server feature' : 'are not mcp_server features'}`,
      );
    }
    for (const key of Object.keys(tools ?? {})) {
      if (!/^\d+$/.test(key) || !ids.includes(Number(key))) {
        throw badRequest(
          'agent.tools_feature',
          `tools names feature ${key}, which is not one of the agent's feature_ids`,
        );
      }
    }
    return ids.map((id) => {
      const list = tools?.[String(id)];
      return { feature_id: id, tools: list === undefined ? null : toJson([...new Set(list)]) };
    });
  }

  function cleanName(name: string): string {
    const trimmed = name.trim();
    if (trimmed === '') throw badRequest('agent.name_blank', 'Name can’t be blank');
    return trimmed;
  }

  async function authenticateAgent(token: string): Promise<AgentIdentity | undefined> {
    const hash = hashSecret(token);
    const cached = cache.get(hash);
    // Keyed by the token's SHA-256, and filled only after the row's stored hash matched: a hit is
    // a match (hashing the token again per call to compare would find the same value).
    if (cached !== undefined) return cached;
    const generation = cache.generation;
    const row = await findAgentByTokenHash(deps.db, hash);
    if (row === undefined || !secretMatches(token, row.token_hash)) return undefined;
    const agent = toIdentity(row, await listAgentFeatures(deps.db, [row.id]));
    cache.set(hash, agent, generation);
    return agent;
  }

  /** Runs a write to one agent with the cache evicted before and after it (no racing refill). */
  async function writing<T>(id: number, write: () => Promise<T>): Promise<T> {
    cache.evict(id);
    try {
      return await write();
    } finally {
      cache.evict(id);
    }
  }

  return {
    /**
     * The agent a bearer token names (cached; disabled and expired agents are returned too, so
     * the gateway can say why it refuses), or undefined for an unknown token.
     */
    authenticateAgent,

    async listAgents(ctx: RequestContext, query: ListAgentsQuery): Promise<Paged<Agent>> {
      const page = pageRequest(query);
      const environmentTypes = await environmentScope(deps.db, ctx, query.environment_type);
      const { rows, total } = await listAgents(
        deps.db,
        ctx.workspaceId,
        { environmentTypes, endUserId: query.end_user_id },
        page,
      );
      const features = await listAgentFeatures(
        deps.db,
        rows.map((r) => r.id),
      );
      return paged(
        rows.map((r) =>
          toAgent(
            r,
            features.filter((f) => f.agent_id === r.id),
          ),
        ),
        total,
        page,
      );
    },

    async getAgent(ctx: RequestContext, id: number): Promise<Agent> {
      return agentOut(deps.db, await requireAgent(deps.db, ctx, id));
    },

    async createAgent(ctx: RequestContext, body: CreateAgentBody): Promise<AgentWithToken> {
      const environment = await requireEnvironment(deps.db, ctx.workspaceId, body.environment_type);
      requireEnvironmentAccess(ctx, environment.type);
      const name = cleanName(body.name);
      const token = newSecret(AGENT_TOKEN_PREFIX);
      return deps.db.transaction().execute(async (trx) => {
        const user = await findEndUserById(trx, ctx.workspaceId, body.end_user_id);
        if (user === undefined)
          throw badRequest('agent.end_user_unknown', `End user ${body.end_user_id} not found`);
        const features = await featureRows(trx, ctx, environment.id, body.feature_ids, body.tools);
        const { id } = await insertAgent(trx, {
          workspace_id: ctx.workspaceId,
          environment_id: environment.id,
          end_user_id: user.id,
          name,
          token_hash: hashSecret(token),
          token_prefix: displayPrefix(token),
          disabled: 0,
          expires_at: body.expires_at ?? null,
          created_at: now(),
          updated_at: now(),
          rotated_at: null,
        });
        await replaceAgentFeatures(trx, id, features);
        const agent = await agentOut(trx, await requireAgent(trx, ctx, id));
        await recordChange(trx, ctx, now(), 'agent.created', ['agent', id], { after: agent });
        return { ...agent, token };
      });
    },

    async updateAgent(ctx: RequestContext, id: number, body: UpdateAgentBody): Promise<Agent> {
      return writing(id, () =>
        deps.db.transaction().execute(async (trx) => {
          const row = await requireAgent(trx, ctx, id);
          const before = await agentOut(trx, row);
          if (body.feature_ids !== undefined || body.tools !== undefined) {
            const featureIds = body.feature_ids ?? before.feature_ids;
            const tools = body.tools ?? (body.feature_ids === undefined ? before.tools : undefined);
            await replaceAgentFeatures(
              trx,
              id,
              await featureRows(trx, ctx, row.environment_id, featureIds, tools),
            );
          }
          await updateAgent(trx, id, {
            ...(body.name === undefined ? {} : { name: cleanName(body.name) }),
            ...(body.disabled === undefined ? {} : { disabled: body.disabled ? 1 : 0 }),
            ...(body.expires_at === undefined ? {} : { expires_at: body.expires_at }),
            updated_at: now(),
          });
          const after = await agentOut(trx, await requireAgent(trx, ctx, id));
          const action =
            before.disabled === after.disabled
              ? 'agent.updated'
              : after.disabled
                ? 'agent.disabled'
                : 'agent.enabled';
          await recordChange(trx, ctx, now(), action, ['agent', id], { before, after });
          return after;
        }),
      );
    },

    async rotateAgent(ctx: RequestContext, id: number): Promise<AgentWithToken> {
      const token = newSecret(AGENT_TOKEN_PREFIX);
      return writing(id, () =>
        deps.db.transaction().execute(async (trx) => {
          await requireAgent(trx, ctx, id);
          await updateAgent(trx, id, {
            token_hash: hashSecret(token),
            token_prefix: displayPrefix(token),
            rotated_at: now(),
            updated_at: now(),
          });
          await recordChange(trx, ctx, now(), 'agent.rotated', ['agent', id]);
          return { ...(await agentOut(trx, await requireAgent(trx, ctx, id))), token };
        }),
      );
    },

    async deleteAgent(ctx: RequestContext, id: number): Promise<void> {
      await writing(id, () =>
        deps.db.transaction().execute(async (trx) => {
          const row = await requireAgent(trx, ctx, id);
          await deleteAgent(trx, id);
          await recordChange(trx, ctx, now(), 'agent.deleted', ['agent', id], {
            before: { name: row.name, end_user_id: row.end_user_id },
          });
        }),
      );
    },
  };
}
export type AgentsService = ReturnType<typeof createAgentsService>;
