/**
 * The MCP gateway (`/mcp/<feature id>`): Roster as the enforcement point in front of an MCP
 * server. Per HTTP request it builds an SDK MCP server bound to that request's caller (so
 * concurrent calls of many agents cannot mix identities: nothing about a caller outlives its
 * request), and for each MCP request:
 *
 * - `tools/list`: the upstream's list, without the tools the caller may not call;
 * - `tools/call`: decided before anything is forwarded: the agent's own limits (its features and
 *   tools), then the end user's decision by the decision engine (decisions/end-user-index.ts for
 *   the rule, from memory; decisions/end-user-decisions.ts when an approval is to be used or
 *   opened). deny and require_approval answer an `isError` tool result saying why; allow forwards
 *   the call and answers the upstream's result unchanged;
 * - resources and prompts: forwarded when the end user may use the feature as a whole;
 * - every call is recorded (tool-call-recorder.ts), off the call path.
 *
 * The index is the only state read per call, and every write (a lock, a disable) reaches it
 * before the write's response (and other instances within the change feed's bound), so the very
 * next call sees it. docs/agents.md.
 */
import { performance } from 'node:perf_hooks';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type JSONRPCErrorResponse,
  type JSONRPCResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { DecisionReason, PolicyEffect } from '@roster/contracts';
import { isoNow, type Clock } from '../../lib/clock.js';
import { AppError, notFound } from '../../lib/errors.js';
import type { AccessIndex } from '../decisions/access-index.js';
import type { EndUserDecisionsService } from '../decisions/end-user-decisions.js';
import { evaluateEndUser, type FeatureEntry } from '../decisions/end-user-index.js';
import type { GatewayCaller } from './gateway.caller.js';
import type { ToolCallRecord, ToolCallRecorder } from './tool-call-recorder.js';
import {
  RpcError,
  UpstreamError,
  type UpstreamConfig,
  type UpstreamPool,
} from './upstream-pool.js';

/** The feature a gateway request is for, resolved and checked before any MCP message is read. */
export interface GatewayTarget {
  featureId: number;
  featureName: string;
  upstream: UpstreamConfig;
  /** How errors name the upstream: `feature "Tickets" (12)`. */
  label: string;
}

interface GatewayDecision {
  decision: PolicyEffect;
  reasons: (DecisionReason | { type: 'agent' | 'feature'; message: string })[];
  approvalRequestId: number | null;
}

const META_KEY = 'dev.roster/decision';

/**
 * One JSON Schema validator for every per-request server: the SDK otherwise builds a new Ajv
 * instance per Server, which costs more CPU than the rest of a proxied call.
 */
const sharedValidator = new AjvJsonSchemaValidator();

export function createGatewayService(deps: {
  index: AccessIndex;
  endUserDecisions: EndUserDecisionsService;
  upstreams: UpstreamPool;
  recorder: ToolCallRecorder;
  clock: Clock;
  publicUrl: string;
}) {
  const base = deps.publicUrl.replace(/\/+$/, '');

  function sliceOf(caller: GatewayCaller) {
    const slice = deps.index.endUsers(caller.workspaceId);
    if (slice === undefined)
      throw new AppError(503, 'access.index_unavailable', 'The access index is not ready');
    return slice;
  }

  function featureOf(caller: GatewayCaller, featureId: number): FeatureEntry | undefined {
    const feature = sliceOf(caller).features.get(featureId);
    // Another workspace's or environment's feature does not exist for this caller.
    return feature?.environmentId === caller.environmentId ? feature : undefined;
  }

  /**
   * The decision for one call (tool) or for the feature as a whole (tool null). `open`: a
   * require_approval decision uses up an approved request or opens one (a tools/call); without
   * it nothing is written (a tools/list shows what could be asked).
   */
  async function decide(
    caller: GatewayCaller,
    featureId: number,
    tool: string | null,
    open: boolean,
  ): Promise<GatewayDecision> {
    const slice = sliceOf(caller);
    const feature = featureOf(caller, featureId);
    if (feature === undefined) {
      return denied([
        { type: 'feature', message: `Feature ${String(featureId)} no longer exists` },
      ]);
    }
    if (caller.features !== null) {
      const tools = caller.features.get(featureId);
      if (tools === undefined) {
        return denied([
          {
            type: 'agent',
            message: `Agent "${caller.actor.name}" may not use feature "${feature.name}"`,
          },
        ]);
      }
      if (tool !== null && tools !== null && !tools.has(tool)) {
        return denied([
          {
            type: 'agent',
            message: `Agent "${caller.actor.name}" may not call tool ${tool} of feature "${feature.name}"`,
          },
        ]);
      }
    }
    const user = slice.users.get(caller.endUserId);
    if (user === undefined) {
      return denied([{ type: 'no_access', message: 'The agent’s end user no longer exists' }]);
    }
    const environment = { id: caller.environmentId, type: caller.environmentType };
    const outcome = evaluateEndUser(slice, user, environment, feature, tool);
    if (outcome.kind === 'allow') {
      return { decision: 'allow', reasons: outcome.reasons, approvalRequestId: null };
    }
    if (outcome.kind !== 'require_approval') return denied(outcome.reasons);
    if (!open) return { decision: 'require_approval', reasons: [], approvalRequestId: null };
    // The decision engine's own path: it uses an approved request up, or opens (one) pending
    // request, in one transaction. Only approval-gated calls pay this write.
    const decision = await deps.endUserDecisions.decide(
      {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        scope: { environmentTypes: new Set([caller.environmentType]), projectIds: null },
      },
      {
        end_user_id: caller.endUserId,
        environment_type: caller.environmentType,
        feature_id: featureId,
        tool,
      },
    );
    return {
      decision: decision.decision,
      reasons: decision.reasons,
      approvalRequestId: decision.approval_request_id,
    };
  }

  function denied(reasons: GatewayDecision['reasons']): GatewayDecision {
    return { decision: 'deny', reasons, approvalRequestId: null };
  }

  function refusal(tool: string, d: GatewayDecision): CallToolResult {
    const why = d.reasons.map((r) => r.message).join('; ');
    const text =
      d.decision === 'require_approval' && d.approvalRequestId !== null
        ? `Approval request ${String(d.approvalRequestId)} is pending: the call of tool ${tool} needs an approver's decision. ` +
          `An approver decides it in the Roster console at ${base}/approvals (or POST ${base}/api/approval_requests/${String(d.approvalRequestId)}/approve); ` +
          `call the tool again once it is approved. (${why})`
        : `Roster denied the call of tool ${tool}: ${why}`;
    return {
      content: [{ type: 'text', text }],
      isError: true,
      _meta: {
        [META_KEY]: {
          decision: d.decision,
          reasons: d.reasons,
          approval_request_id: d.approvalRequestId,
        },
      },
    };
  }

  function record(
    caller: GatewayCaller,
    target: GatewayTarget,
    call: { method: string; name: string; started: number },
    d: GatewayDecision,
    upstreamStatus: ToolCallRecord['upstreamStatus'],
  ): void {
    deps.recorder.record({
      workspaceId: caller.workspaceId,
      agent:
        caller.kind === 'agent' ? { id: Number(caller.actor.id), name: caller.actor.name } : null,
      ...(caller.client === undefined ? {} : { client: caller.client }),
      endUser: {
        id: caller.endUserId,
        email: deps.index.endUsers(caller.workspaceId)?.users.get(caller.endUserId)?.email ?? null,
      },
      feature: { id: target.featureId, name: target.featureName },
      method: call.method,
      name: call.name,
      decision: d.decision,
      reasons: d.reasons.map((r) => r.message),
      approvalRequestId: d.approvalRequestId,
      upstreamStatus,
      latencyMs: Math.round((performance.now() - call.started) * 1000) / 1000,
      at: isoNow(deps.clock),
    });
  }

  const statusOf = (error: unknown): ToolCallRecord['upstreamStatus'] =>
    error instanceof UpstreamError ? error.failure : 'error';

  /**
   * tools/call: decided, then forwarded (allow) or refused with an `isError` result; recorded
   * either way. The SDK path's handler and the fast path (answerToolCall) both land here.
   */
  async function callTool(
    caller: GatewayCaller,
    target: GatewayTarget,
    params: CallToolRequest['params'],
  ): Promise<CallToolResult> {
    const call = { method: 'tools/call', name: params.name, started: performance.now() };
    const d = await decide(caller, target.featureId, call.name, true);
    if (d.decision !== 'allow') {
      record(caller, target, call, d, 'not_called');
      return refusal(call.name, d);
    }
    let result: Record<string, unknown>;
    try {
      result = await deps.upstreams.callTool(target.upstream, target.label, params);
    } catch (error) {
      record(caller, target, call, d, statusOf(error));
      throw error;
    }
    const parsed = CallToolResultSchema.safeParse(result);
    if (!parsed.success) {
      record(caller, target, call, d, 'unreachable');
      throw new UpstreamError(
        'unreachable',
        `The upstream MCP server of ${target.label} answered a tool result that is not MCP`,
      );
    }
    record(caller, target, call, d, result.isError === true ? 'error' : 'ok');
    // The upstream's result as it came (the parse above only checked it).
    return result as CallToolResult;
  }

  /** Resources and prompts: the feature as a whole must be allowed (no approval is opened). */
  async function requireFeatureAccess(caller: GatewayCaller, target: GatewayTarget) {
    const d = await decide(caller, target.featureId, null, false);
    if (d.decision !== 'allow') {
      const why =
        d.decision === 'require_approval'
          ? 'the feature requires approval per call'
          : d.reasons.map((r) => r.message).join('; ');
      throw new RpcError(
        ErrorCode.InvalidRequest,
        `Roster denied access to ${target.label}: ${why}`,
      );
    }
    return d;
  }

  return {
    /**
     * The feature of a gateway URL, for this caller: 404 when it does not exist for them (another
     * workspace's or environment's) or has no upstream; 403 when the agent may not use it.
     */
    async target(caller: GatewayCaller, rawFeatureId: string): Promise<GatewayTarget> {
      // Workspaces load on first use: wait for the caller's (a 503 with Retry-After past the bound).
      await deps.index.readyEndUsers(caller.workspaceId);
      const featureId = /^\d{1,10}$/.test(rawFeatureId) ? Number(rawFeatureId) : NaN;
      const feature = Number.isSafeInteger(featureId) ? featureOf(caller, featureId) : undefined;
      if (feature === undefined) throw notFound('feature.not_found', 'Feature not found');
      if (caller.features !== null && !caller.features.has(feature.id)) {
        throw new AppError(
          403,
          'gateway.feature_not_allowed',
          `Agent "${caller.actor.name}" may not use feature "${feature.name}"`,
        );
      }
      const upstream = await deps.upstreams.config(feature.id);
      if (upstream === undefined) {
        throw notFound(
          'gateway.no_upstream',
          `Feature "${feature.name}" has no upstream MCP server configured`,
        );
      }
      return {
        featureId: feature.id,
        featureName: feature.name,
        upstream,
        label: `feature "${feature.name}" (${String(feature.id)})`,
      };
    },

    /**
     * The fast path's tools/call (gateway.routes.ts): one JSON-RPC request, already checked
     * against the SDK's schemas, answered as the SDK's Server would answer it: the result, or
     * the error a handler threw as `{code, message, data}`.
     */
    async answerToolCall(
      caller: GatewayCaller,
      target: GatewayTarget,
      request: { id: RequestId; params: CallToolRequest['params'] },
    ): Promise<JSONRPCResponse | JSONRPCErrorResponse> {
      try {
        const result = await callTool(caller, target, request.params);
        return { jsonrpc: '2.0', id: request.id, result };
      } catch (error) {
        // The SDK's Protocol does the same with whatever a request handler throws.
        const { code, message, data } = error as {
          code?: unknown;
          message?: unknown;
          data?: unknown;
        };
        return {
          jsonrpc: '2.0',
          id: request.id,
          error: {
            code: Number.isSafeInteger(code) ? (code as number) : ErrorCode.InternalError,
            message: typeof message === 'string' ? message : 'Internal error',
            ...(data === undefined ? {} : { data }),
          },
        };
      }
    },

    /** The MCP server answering one HTTP request of one caller. */
    // The low-level Server, as the SDK advises for advanced use: a proxy answers with the
    // upstream's tools, which it cannot register in advance as McpServer would need.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    mcpServer(caller: GatewayCaller, target: GatewayTarget): Server {
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      const server = new Server(
        { name: 'roster-mcp-gateway', version: '0.1.0' },
        {
          capabilities: { tools: {}, resources: {}, prompts: {} },
          jsonSchemaValidator: sharedValidator,
        },
      );
      const forward = (method: string, params: Record<string, unknown> | undefined) =>
        deps.upstreams.request(target.upstream, target.label, method, params);

      server.setRequestHandler(ListToolsRequestSchema, async (request) => {
        const result = await forward('tools/list', request.params);
        if (!Array.isArray(result.tools)) {
          throw new UpstreamError(
            'unreachable',
            `The upstream MCP server of ${target.label} answered tools/list without a tool list`,
          );
        }
        const tools: unknown[] = [];
        for (const tool of result.tools as unknown[]) {
          if (typeof tool !== 'object' || tool === null) continue;
          const name = (tool as { name?: unknown }).name;
          if (typeof name !== 'string') continue;
          const d = await decide(caller, target.featureId, name, false);
          if (d.decision !== 'deny') tools.push(tool);
        }
        return { ...result, tools };
      });

      server.setRequestHandler(CallToolRequestSchema, (request) =>
        callTool(caller, target, request.params),
      );

      server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
        await requireFeatureAccess(caller, target);
        return forward('resources/list', request.params);
      });
      server.setRequestHandler(ListResourceTemplatesRequestSchema, async (request) => {
        await requireFeatureAccess(caller, target);
        return forward('resources/templates/list', request.params);
      });
      /**
       * A resource read or a prompt get: decided as the feature as a whole, then forwarded, and
       * recorded in the tool-call log either way (refused, answered, or failed upstream).
       */
      const forwardRecorded = async (
        method: 'resources/read' | 'prompts/get',
        name: string,
        params: Parameters<typeof forward>[1],
      ) => {
        const call = { method, name, started: performance.now() };
        const d = await requireFeatureAccess(caller, target).catch((error: unknown) => {
          record(
            caller,
            target,
            call,
            denied([
              { type: 'feature', message: error instanceof Error ? error.message : String(error) },
            ]),
            'not_called',
          );
          throw error;
        });
        try {
          const result = await forward(method, params);
          record(caller, target, call, d, 'ok');
          return result;
        } catch (error) {
          record(caller, target, call, d, statusOf(error));
          throw error;
        }
      };
      server.setRequestHandler(ReadResourceRequestSchema, (request) =>
        forwardRecorded('resources/read', request.params.uri, request.params),
      );
      server.setRequestHandler(ListPromptsRequestSchema, async (request) => {
        await requireFeatureAccess(caller, target);
        return forward('prompts/list', request.params);
      });
      server.setRequestHandler(GetPromptRequestSchema, (request) =>
        forwardRecorded('prompts/get', request.params.name, request.params),
      );
      return server;
    },
  };
}
export type GatewayService = ReturnType<typeof createGatewayService>;
