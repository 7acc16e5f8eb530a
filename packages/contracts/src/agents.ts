/**
 * Agent identities: an AI agent that calls MCP tools through the gateway (`/mcp/<feature id>`) on
 * behalf of one end user, with its own token (shown once, stored hashed), the features and tools
 * it may use, an optional expiry, and a disabled switch. docs/agents.md.
 */
import { Type, type Static } from 'typebox';
import { EnvironmentType, Id, Nullable, PageQuery, Timestamp } from './common.js';
import { EndUserRef } from './end-users.js';

const AgentTools = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 });
/**
 * Per feature (the key is its ID), the only tools the agent may call there; a feature without an
 * entry: every tool the end user may call.
 */
const AgentToolsByFeature = Type.Record(Type.String({ maxLength: 10 }), AgentTools, {
  maxProperties: 100,
});
const AgentFeatureIds = Type.Array(Id(), { maxItems: 100 });
const AgentName = Type.String({ minLength: 1, maxLength: 200 });

export const Agent = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  environment_type: Type.String(),
  end_user: EndUserRef,
  feature_ids: Type.Array(Type.Integer()),
  tools: Type.Record(Type.String(), Type.Array(Type.String())),
  /** The token's first characters, to recognise it; the token itself is shown once. */
  token_prefix: Type.String(),
  disabled: Type.Boolean(),
  expires_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
  rotated_at: Nullable(Timestamp),
});
export type Agent = Static<typeof Agent>;

/** Create and rotate answer the token, this once. */
export const AgentWithToken = Type.Object({ ...Agent.properties, token: Type.String() });
export type AgentWithToken = Static<typeof AgentWithToken>;

export const CreateAgentBody = Type.Object({
  name: AgentName,
  environment_type: EnvironmentType,
  end_user_id: Id(),
  feature_ids: AgentFeatureIds,
  tools: Type.Optional(AgentToolsByFeature),
  expires_at: Type.Optional(Nullable(Timestamp)),
});
export type CreateAgentBody = Static<typeof CreateAgentBody>;

/** The environment and end user of an agent are fixed; everything else may change. */
export const UpdateAgentBody = Type.Object({
  name: Type.Optional(AgentName),
  feature_ids: Type.Optional(AgentFeatureIds),
  tools: Type.Optional(AgentToolsByFeature),
  expires_at: Type.Optional(Nullable(Timestamp)),
  disabled: Type.Optional(Type.Boolean()),
});
export type UpdateAgentBody = Static<typeof UpdateAgentBody>;

export const ListAgentsQuery = Type.Object({
  environment_type: Type.Optional(EnvironmentType),
  end_user_id: Type.Optional(Id()),
  ...PageQuery,
});
export type ListAgentsQuery = Static<typeof ListAgentsQuery>;
