/**
 * buildApp(deps): the whole HTTP application over an opened, migrated store. main.ts starts it;
 * tests build it against a fresh database and talk to it over HTTP.
 */
import { createServer } from 'node:http';
import Fastify, {
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type RouteOptions,
} from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import fastifyRateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { fastifyTrustProxy, type Config } from './config.js';
import type { Store } from './storage/connect.js';
import { pendingMigrations, pingStore } from './storage/connect.js';
import { systemClock, type Clock } from './lib/clock.js';
import { AppError } from './lib/errors.js';
import { recordedEvents, trackChanges } from './lib/change-tracking.js';
import { keepOldGenerationSlack } from './lib/heap-tuning.js';
import { handleError, errorBody } from './http/error-handler.js';
import { storageFault } from './storage/errors.js';
import { containsNul, depthLimitedJsonParser } from './http/json-body.js';
import {
  assertBoundedNumbers,
  refuseNonFinite,
  requireRepresentableDateTimes,
} from './http/validation.js';
import { apiClientAuth, platformAuth } from './http/auth.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { createRateLimit } from './http/rate-limit.js';
import { requestIdOf } from './http/request-id.js';
import {
  CompiledSchemas,
  createLeanDispatcher,
  replayLeanBody,
  waitedBeforeFastify,
} from './http/lean-path.js';
import { registerLeanCheck } from './modules/decisions/decisions.lean.js';
import type { Api } from './http/types.js';
import { createMailer, type Mailer } from './modules/mail/mailer.js';
import { createApiClientsService } from './modules/api-clients/api-clients.service.js';
import { registerApiClientRoutes } from './modules/api-clients/api-clients.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { registerAuditRoutes } from './modules/audit/audit.routes.js';
import { EventStream } from './modules/audit/event-stream.js';
import { registerEventRoutes } from './modules/audit/events.routes.js';
import { createDecisionsService } from './modules/decisions/decisions.service.js';
import { AccessIndex } from './modules/decisions/access-index.js';
import { ChangeFeed } from './modules/audit/change-feed.js';
import { registerDecisionRoutes } from './modules/decisions/decisions.routes.js';
import { createSnapshotService } from './modules/decisions/snapshot.service.js';
import { registerSnapshotRoutes } from './modules/decisions/snapshot.routes.js';
import { createGrantsService } from './modules/grants/grants.service.js';
import { registerGrantRoutes } from './modules/grants/grants.routes.js';
import { createGroupsService } from './modules/groups/groups.service.js';
import { registerGroupRoutes } from './modules/groups/groups.routes.js';
import { createInvitationsService } from './modules/invitations/invitations.service.js';
import {
  registerInvitationRoutes,
  registerPublicInvitationRoutes,
} from './modules/invitations/invitations.routes.js';
import { createMembersService } from './modules/members/members.service.js';
import { registerMemberRoutes } from './modules/members/members.routes.js';
import { createProjectsService } from './modules/projects/projects.service.js';
import { registerProjectRoutes } from './modules/projects/projects.routes.js';
import { createRolesService } from './modules/roles/roles.service.js';
import { registerRoleRoutes } from './modules/roles/roles.routes.js';
import { createRolesMigrationService } from './modules/roles-migration/roles-migration.service.js';
import { registerRolesMigrationRoutes } from './modules/roles-migration/roles-migration.routes.js';
import { createWorkspacesService } from './modules/workspaces/workspaces.service.js';
import { registerPlatformRoutes } from './modules/workspaces/workspaces.routes.js';
import { createEndUsersService } from './modules/end-users/end-users.service.js';
import {
  registerEndUserRoutes,
  registerPublicEndUserInvitationRoutes,
} from './modules/end-users/end-users.routes.js';
import { createEndUserGroupsService } from './modules/end-user-groups/end-user-groups.service.js';
import { registerEndUserGroupRoutes } from './modules/end-user-groups/end-user-groups.routes.js';
import { createFeaturesService, featureGrantsOfUser } from './modules/features/features.service.js';
import { registerFeatureRoutes } from './modules/features/features.routes.js';
import { createPoliciesService } from './modules/policies/policies.service.js';
import { registerPolicyRoutes } from './modules/policies/policies.routes.js';
import { createApprovalsService } from './modules/approvals/approvals.service.js';
import { registerApprovalRoutes } from './modules/approvals/approvals.routes.js';
import { createScimService } from './modules/scim/scim.service.js';
import { registerScimConnectionRoutes, registerScimEndpoints } from './modules/scim/scim.routes.js';
import { createEndUserDecisionsService } from './modules/decisions/end-user-decisions.js';
import { createConsoleService } from './modules/console/console.service.js';
import { registerConsole, sessionAuthenticator } from './modules/console/console.plugin.js';
import { createSsoService } from './modules/sso/sso.service.js';
import { createSecretBox, SECRET_PURPOSES } from './lib/secret-box.js';
import { registerPublicSsoRoutes, registerSsoRoutes } from './modules/sso/sso.routes.js';
import { createWorkspaceConfigService } from './modules/workspace-config/workspace-config.service.js';
import { registerWorkspaceConfigRoutes } from './modules/workspace-config/workspace-config.routes.js';
import { createWebhooksService } from './modules/webhooks/webhooks.service.js';
import { registerWebhookRoutes } from './modules/webhooks/webhooks.routes.js';
import { WebhookDispatcher } from './modules/webhooks/webhook-dispatcher.js';
import { Metrics } from './lib/metrics.js';
import { findLastEventId } from './modules/audit/audit.repository.js';
import { timingSafeEqual } from 'node:crypto';
import { createAgentsService } from './modules/agents/agents.service.js';
import { registerAgentRoutes } from './modules/agents/agents.routes.js';
import { createGatewayAuthenticator } from './modules/gateway/gateway.caller.js';
import { createGatewayService } from './modules/gateway/gateway.service.js';
import { registerGatewayRoutes } from './modules/gateway/gateway.routes.js';
import { registerLeanGateway } from './modules/gateway/gateway.lean.js';
import { ToolCallRecorder } from './modules/gateway/tool-call-recorder.js';
import { UpstreamPool } from './modules/gateway/upstream-pool.js';
import { createOauthService } from './modules/oauth/oauth.service.js';
import { mcpSignIn, registerOauthRoutes } from './modules/oauth/oauth.routes.js';
import { Membership } from './modules/cluster/membership.js';
import { clusterRouting, isSignedForward } from './modules/cluster/routing.js';
import path from 'node:path';
import { getHeapStatistics } from 'node:v8';

export interface AppDeps {
  store: Store;
  config: Config;
  clock?: Clock;
  mailer?: Mailer;
  logger?: FastifyServerOptions['logger'];
}

export function createServices(deps: AppDeps) {
  const db = deps.store.db;
  const clock = deps.clock ?? systemClock;
  const mailer =
    deps.mailer ??
    createMailer({
      smtpUrl: deps.config.smtpUrl,
      outboxPath: path.join(deps.config.dataDir, 'outbox.jsonl'),
      from: deps.config.mailFrom,
    });
  const projects = createProjectsService({ db, clock });
  const approvals = createApprovalsService({
    db,
    clock,
    mailer,
    publicUrl: deps.config.publicUrl,
    log: (message, error) => {
      console.error(message, error);
    },
  });
  // The audit log read as a change log; the access index and the API-client cache subscribe.
  const changeFeed = new ChangeFeed({
    db,
    dialect: deps.store.dialect,
    databaseUrl: deps.config.databaseUrl,
    pollIntervalMs: deps.config.changePollMs,
  });
  // The access index answers every collaborator check from memory (docs/decisions.md).
  // Workspaces load on first use and the least recently used are evicted past the budget.
  const accessIndex = new AccessIndex({
    db,
    clock,
    changes: changeFeed,
    memoryBudgetBytes:
      deps.config.index.memoryMb > 0
        ? Math.floor(deps.config.index.memoryMb * 1024 * 1024)
        : defaultIndexBudgetBytes(),
    loadWaitMs: deps.config.index.loadWaitMs,
    warmAtStart: deps.config.index.warmAtStart,
  });
  // GET /api/events/stream; on PostgreSQL an ID may commit after a later one (event-stream.ts).
  const eventStream = new EventStream({
    db,
    changes: changeFeed,
    gapGraceMs: deps.store.dialect === 'postgres' ? 1_000 : 0,
  });
  // /metrics (docs/operations.md#metrics); the gauges below are read when scraped.
  const metrics = new Metrics({
    accessIndex: () => ({
      workspaces: accessIndex.size(),
      lastBuildSeconds: accessIndex.stats.lastBuildMs / 1000,
      builds: accessIndex.stats.fullReloads,
    }),
    changeFeedReads: () => changeFeed.stats.syncs,
    changeFeedWatched: () => ({
      ids: changeFeed.watchedIds(),
      reads: changeFeed.stats.watchedReads,
    }),
    changeFeedOwn: () => ({
      writes: changeFeed.stats.ownWrites,
      applies: changeFeed.stats.ownRuns,
    }),
    changeFeedLag: async () => ({
      events: Math.max(0, (await findLastEventId(db)) - changeFeed.position()),
      secondsSinceSync:
        changeFeed.stats.lastSyncMs === 0 ? 0 : (Date.now() - changeFeed.stats.lastSyncMs) / 1000,
    }),
    webhookQueue: async () => {
      const row = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return { pending: Number(row?.n ?? 0) };
    },
    sqliteWriteLock: deps.store.sqliteWriteLock,
    sqliteCheckpoints: deps.store.sqliteCheckpoints,
  });
  const webhookSecrets = createSecretBox({
    secretKey: deps.config.secretKey,
    dataDir: deps.config.dataDir,
    purpose: SECRET_PURPOSES.webhookSigningSecret,
  });
  // Sends what audit/webhook-outbox.ts queues with every audit event (docs/integration.md#webhooks).
  const webhookDispatcher = new WebhookDispatcher({
    db,
    dialect: deps.store.dialect,
    secrets: webhookSecrets,
    ...deps.config.webhooks,
    pollMs: 1_000,
    observer: metrics.webhooks,
  });
  // Every change (this instance's, or another's heard by LISTEN or the poll) may have queued some.
  changeFeed.subscribe(() => {
    webhookDispatcher.wake();
  });
  const upstreamSecrets = createSecretBox({
    secretKey: deps.config.secretKey,
    dataDir: deps.config.dataDir,
    purpose: SECRET_PURPOSES.upstreamHeaders,
  });
  const endUserDecisions = createEndUserDecisionsService({
    db,
    clock,
    index: accessIndex,
    approvalTtlMinutes: deps.config.approvalTtlMinutes,
    // Mailing the approvers runs after the decision's commit and never holds the answer back.
    onApprovalOpened: (workspaceId, requestId) => {
      void approvals.notifyOpened(workspaceId, requestId);
    },
  });
  const agents = createAgentsService({ db, clock, changes: changeFeed });
  // The MCP gateway (docs/agents.md): upstream connections, the batched tool-call log, the service.
  const upstreams = new UpstreamPool({
    db,
    secrets: upstreamSecrets,
    timeoutMs: deps.config.mcpUpstreamTimeoutMs,
    changes: changeFeed,
  });
  const toolCalls = new ToolCallRecorder(db);
  // Roster as the OAuth server of interactive MCP clients (docs/agents.md).
  const oauth = createOauthService({
    db,
    publicUrl: deps.config.publicUrl,
    accessTokenTtlSeconds: deps.config.oauthAccessTokenTtlSeconds,
    secrets: createSecretBox({
      secretKey: deps.config.secretKey,
      dataDir: deps.config.dataDir,
      purpose: SECRET_PURPOSES.oauth,
    }),
  });
  // Several instances on PostgreSQL: each workspace is held by its home (modules/cluster).
  const { instanceUrl } = deps.config.cluster;
  const membership =
    instanceUrl === undefined || deps.store.dialect !== 'postgres'
      ? undefined
      : new Membership({
          db,
          url: instanceUrl,
          heartbeatMs: deps.config.cluster.heartbeatMs,
          leaseMs: deps.config.cluster.leaseMs,
          onChange: () => {
            accessIndex.dropUnheld();
          },
        });
  if (membership !== undefined) accessIndex.holdOnly((id) => membership.holds(id));
  return {
    membership,
    changeFeed,
    accessIndex,
    eventStream,
    metrics,
    webhookDispatcher,
    webhooks: createWebhooksService({
      db,
      clock,
      secrets: webhookSecrets,
      allowPrivate: deps.config.webhooks.allowPrivate,
      wake: () => {
        webhookDispatcher.wake();
      },
    }),
    mailer,
    agents,
    upstreams,
    toolCalls,
    gateway: createGatewayService({
      index: accessIndex,
      endUserDecisions,
      upstreams,
      recorder: toolCalls,
      clock,
      publicUrl: deps.config.publicUrl,
    }),
    gatewayAuth: createGatewayAuthenticator({
      agents,
      clock,
      publicUrl: deps.config.publicUrl,
      oauth,
    }),
    oauth,
    workspaces: createWorkspacesService({ db, clock, dialect: deps.store.dialect }),
    apiClients: createApiClientsService({ db, clock, changes: changeFeed }),
    audit: createAuditService({ db, clock }),
    members: createMembersService({ db, clock }),
    invitations: createInvitationsService({
      db,
      clock,
      mailer,
      config: {
        publicUrl: deps.config.publicUrl,
        cooldownSeconds: deps.config.inviteCooldownSeconds,
      },
    }),
    groups: createGroupsService({ db, clock }),
    roles: createRolesService({ db, clock }),
    projects,
    grants: createGrantsService({ db, clock, projects }),
    decisions: createDecisionsService({ index: accessIndex, observe: metrics.decisions }),
    snapshots: createSnapshotService({ db, dialect: deps.store.dialect, clock }),
    rolesMigration: createRolesMigrationService({ db, clock }),
    endUsers: createEndUsersService({
      db,
      clock,
      mailer,
      config: { publicUrl: deps.config.publicUrl },
      featureGrants: featureGrantsOfUser,
    }),
    endUserGroups: createEndUserGroupsService({ db, clock }),
    features: createFeaturesService({ db, clock, secrets: upstreamSecrets }),
    policies: createPoliciesService({ db, clock }),
    workspaceConfig: createWorkspaceConfigService({ db, clock, secrets: upstreamSecrets }),
    approvals,
    endUserDecisions,
    scim: createScimService({
      db,
      clock,
      dialect: deps.store.dialect,
      publicUrl: deps.config.publicUrl,
      changes: changeFeed,
    }),
    sso: createSsoService({
      db,
      clock,
      publicUrl: deps.config.publicUrl,
      secrets: createSecretBox({
        secretKey: deps.config.secretKey,
        dataDir: deps.config.dataDir,
        // The HKDF info SSO has always used: changing it would make stored client secrets unreadable.
        purpose: 'roster sso oidc client secret',
      }),
    }),
  };
}

function withConsole(deps: AppDeps, services: ReturnType<typeof createServices>) {
  const config = deps.config.console;
  return {
    ...services,
    console: createConsoleService({
      db: deps.store.db,
      clock: deps.clock ?? systemClock,
      config,
      apiClients: services.apiClients,
      invitations: services.invitations,
      mailDelivery: services.mailer.delivery,
    }),
    consoleConfig: config,
  };
}
export type Services = ReturnType<typeof withConsole>;

export const BODY_LIMIT_BYTES = 1024 * 1024;

const ajvPool = AjvCompiler();
const AJV_OPTIONS = { removeAdditional: true, useDefaults: true, allErrors: false } as const;

/**
 * Query strings and paths are text, so their numbers and booleans are coerced from strings;
 * JSON bodies already carry types, so a body's `"name": 5` is a 400 rather than the name "5".
 * Every number in a request schema must be bounded, and coerced text must stay finite
 * (http/validation.ts).
 */
const buildRequestValidator: typeof ajvPool = (externalSchemas) => {
  // ajv-formats (email, date-time) is added by the compiler itself.
  const coercing = ajvPool(externalSchemas, {
    customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' },
    onCreate: requireRepresentableDateTimes,
  });
  const typed = ajvPool(externalSchemas, {
    customOptions: { ...AJV_OPTIONS, coerceTypes: false },
    onCreate: requireRepresentableDateTimes,
  });
  return (route) => {
    assertBoundedNumbers(route.schema, `${route.method} ${route.url} ${route.httpPart}`);
    return route.httpPart === 'body' ? typed(route) : refuseNonFinite(coercing(route));
  };
};

type RouteHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;
type SendHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload?: unknown) => void,
) => void;

/** A route's own hooks of a kind, as Fastify's route options hold them (none, one or a list). */
function hooksOf<H>(hooks: H | H[] | undefined): H[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/** PostgreSQL cannot store NUL in text and SQLite would: refuse it everywhere, before validation. */
const refuseNul: RouteHook = (request, _reply, done) => {
  if (containsNul(request.body) || containsNul(request.query) || containsNul(request.params)) {
    done(new AppError(400, 'input.nul', 'Text must not contain NUL characters'));
    return;
  }
  done();
};

/**
 * The per-request work each route needs, attached to the route itself when it is registered
 * (an onRoute hook), so that it is decided once per route rather than tested on every request,
 * and a route that does not need some of it runs none of it:
 * - its request count and latency (/metrics), bound to its pattern once;
 * - unless the route stores nothing (`config.storesNothing`, the access checks): the NUL check,
 *   and the change tracking that brings the access index up to date before a write answers.
 */
function compileRouteHooks(
  route: RouteOptions,
  services: Services,
  servedLean: (method: string, url: string) => boolean,
): void {
  // A route the lean path serves (http/lean-path.ts) reads the body it passes on, if any.
  if (typeof route.method === 'string' && servedLean(route.method, route.url))
    route.preParsing = [replayLeanBody, ...hooksOf(route.preParsing)];
  const record = services.metrics.route(route.url);
  const onResponse: RouteHook = (request, reply, done) => {
    record(request.method, reply.statusCode, reply.elapsedTime + waitedBeforeFastify(request.raw));
    done();
  };
  route.onResponse = [...hooksOf(route.onResponse as RouteHook | RouteHook[]), onResponse];
  if (route.config?.storesNothing === true) return;
  route.preValidation = [refuseNul, ...hooksOf(route.preValidation as RouteHook | RouteHook[])];
  // A request that recorded a change (lib/change-tracking.ts) syncs before it answers, whatever
  // its method: the SSO callback is a GET that creates a user. Tracking starts at preHandler,
  // once the request is authenticated, before the route's own preHandlers and its handler run:
  // the tracker goes on the request and on its context (a copy: a context may be shared), where
  // the services that record events find it.
  const track: RouteHook = (request, reply, done) => {
    const changes = trackChanges(reply.raw, services.changeFeed.openWrites);
    request.changes = changes;
    if (request.ctx !== null) request.ctx = { ...request.ctx, changes };
    done();
  };
  route.preHandler = [track, ...hooksOf(route.preHandler as RouteHook | RouteHook[])];
  const sync: SendHook = (request, _reply, payload, done) => {
    const changes = request.changes;
    if (changes === null || !changes.recorded) {
      done(null, payload);
      return;
    }
    services.changeFeed
      .afterWrite(recordedEvents(changes))
      .catch((error: unknown) => {
        request.log.error({ err: error }, 'access index sync failed');
      })
      .finally(() => {
        done(null, payload);
      });
  };
  route.onSend = [...hooksOf(route.onSend as SendHook | SendHook[]), sync];
}

const serializerFactory = SerializerSelector();

/**
 * fast-json-stringify's compiler, once per response schema object instead of once per route and
 * status: every route answers the same error schemas (http/schemas.ts) and many share their
 * success schema, so Fastify's default compiled 983 serializers of which 856 were copies. Each
 * is generated code kept for the process's life: sharing them took 21 MB off the heap and 17 MB
 * off the RSS of a started server (docs/performance.md). A serializer depends only on its schema
 * and the context's shared schemas, so it is shared within one context's factory.
 */
const buildSerializer: typeof serializerFactory = (externalSchemas, options) => {
  const compile = serializerFactory(externalSchemas, options);
  const compiled = new WeakMap<object, ReturnType<typeof compile>>();
  return (route) => {
    const schema = route.schema;
    if (typeof schema !== 'object' || schema === null) return compile(route);
    const known = compiled.get(schema);
    if (known !== undefined) return known;
    const serializer = compile(route);
    compiled.set(schema, serializer);
    return serializer;
  };
};

export async function buildApp(deps: AppDeps) {
  // Full collections rare, for the checks' tail latency (lib/heap-tuning.ts); once per process.
  keepOldGenerationSlack(deps.config.heapSlackMb);
  const services = withConsole(deps, createServices(deps));
  // Hot routes answered in front of Fastify (http/lean-path.ts): the gateway's tools/call
  // (modules/gateway/gateway.lean.ts) and, below, the single access check.
  // On SQLite with its writer thread (the default), whose reads run on the main thread, the
  // requests for Fastify start after the checks read in the same turn. On PostgreSQL that
  // measured no better and slowed the writes; with SQLite's writes on the main thread a start is
  // a whole write transaction, longer than a slice, so the queue would cap the starts
  // (docs/performance.md, "Tenth round").
  const lean = createLeanDispatcher({ deferFastify: deps.store.sqliteWriterThread });
  registerLeanGateway(lean, {
    gateway: services.gateway,
    authenticate: services.gatewayAuth,
    bodyLimit: BODY_LIMIT_BYTES,
    metrics: services.metrics,
    afterWrite: () => services.changeFeed.afterWrite(),
  });
  // The functions Fastify compiles for each route's schemas, for the lean routes to use as well.
  const compiledSchemas = new CompiledSchemas();
  const app: Api = Fastify({
    serverFactory: (handler, options) => {
      const server = createServer((req, res) => {
        lean.handle(req, res, handler);
      });
      // What Fastify sets on the server it creates itself (its options, defaults filled in).
      const timeouts = options as {
        keepAliveTimeout?: number;
        requestTimeout?: number;
        connectionTimeout?: number;
      };
      server.keepAliveTimeout = timeouts.keepAliveTimeout ?? 72_000;
      server.requestTimeout = timeouts.requestTimeout ?? 0;
      server.setTimeout(timeouts.connectionTimeout ?? 0);
      return server;
    },
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // The client IP (per-IP rate limit, sign-in limiter) comes from X-Forwarded-For only when
    // ROSTER_TRUST_PROXY names the proxies; by default it is the TCP peer, which a client cannot forge.
    trustProxy: fastifyTrustProxy(deps.config.trustProxy),
    schemaController: {
      compilersFactory: {
        buildValidator: (externalSchemas, options) => {
          const compile = buildRequestValidator(externalSchemas, options);
          return (route) => {
            const validate = compile(route);
            compiledSchemas.recordValidator(
              route.method ?? '',
              route.url ?? '',
              route.httpPart ?? '',
              validate,
            );
            return validate;
          };
        },
        buildSerializer: (externalSchemas, options) => {
          const compile = buildSerializer(externalSchemas, options);
          return (route) => {
            const serialize = compile(route);
            compiledSchemas.recordSerializer(route.method, route.url, route.httpStatus, serialize);
            return serialize;
          };
        },
      },
    },
    // The caller's X-Request-Id when it is a sane token, else a new UUID; every request log line
    // carries it as `reqId`, and the answer names it (onRequest below).
    genReqId: (request) => requestIdOf(request.headers),
  }).withTypeProvider<TypeBoxTypeProvider>();
  lean.useLog(app.log);
  app.addHook('preClose', (done) => {
    lean.stop();
    // Fastify closes the idle keep-alive connections once, as closing starts; a connection whose
    // request is still in flight then (a tool call waiting on its upstream) goes idle after its
    // answer and held the shutdown for the whole keep-alive timeout (72 s). From now on a
    // connection is closed as soon as its answer is out (tests/api/gateway-shutdown.test.ts).
    app.server.keepAliveTimeout = 1;
    done();
  });

  // Fastify's JSON parser (prototype poisoning refused, its defaults) behind a nesting limit.
  const jsonParser = depthLimitedJsonParser(app.getDefaultJsonParser('error', 'error'));
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonParser);
  // The rate limit (http/rate-limit.ts): its counter is shared with the lean check.
  const rateLimit =
    deps.config.rateLimitPerMinute > 0
      ? createRateLimit(deps.config.rateLimitPerMinute, isSignedForward)
      : undefined;
  // The single access check below Fastify (ROSTER_LEAN_CHECKS=false turns it off). It counts in
  // the rate limit's counter, and in a cluster answers only checks homed here (the others are
  // forwarded by a Fastify hook, modules/cluster/routing.ts, as are signed hops).
  if (deps.config.leanChecks) {
    const membership = services.membership;
    registerLeanCheck(lean, {
      rateLimit,
      holds:
        membership === undefined || deps.config.secretKey === undefined
          ? undefined
          : (workspaceId) => membership.holds(workspaceId),
      decisions: services.decisions,
      apiClients: services.apiClients,
      schemas: compiledSchemas,
      // The parser above, called directly: Fastify's default JSON parser answers synchronously.
      parseJson: (text) => {
        let parsed: { ok: true; value: unknown } | { ok: false } = { ok: false };
        jsonParser(undefined as never, text, (error, body) => {
          parsed = error === null ? { ok: true, value: body } : { ok: false };
        });
        return parsed;
      },
      metrics: services.metrics,
    });
  }
  app.decorateRequest('ctx', null);
  app.decorateRequest('changes', null);
  // Before any route is registered, so that every route, error and static file gets them, and
  // every answer names its request ID (http/security-headers.ts).
  registerSecurityHeaders(app);
  // Requests by route pattern and status, with latency (/metrics). A URL no route matched is
  // counted under `unmatched`, so random paths cannot grow the label set; a matched route counts
  // through its own hook (onRoute below), bound to its pattern once.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404)
      services.metrics.request(
        request.method,
        'unmatched',
        reply.statusCode,
        reply.elapsedTime + waitedBeforeFastify(request.raw),
      );
    done();
  });
  // Every route as registered, for the check against the operations table (http/operations.ts).
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    routes.push(route);
    compileRouteHooks(route, services, (method, url) => lean.serves(method, url));
  });
  services.changeFeed.useLog(app.log);
  services.accessIndex.useLog(app.log);
  services.eventStream.useLog(app.log);
  services.webhookDispatcher.useLog(app.log);
  // The access index: built before the first request, refreshed by the change feed after every
  // write request before its response goes out (so the writer's next check sees the write); the
  // feed stops on close.
  const startup = { indexBuilt: false };
  app.addHook('onReady', async () => {
    await services.changeFeed.start(() => services.accessIndex.build());
    startup.indexBuilt = true;
    services.webhookDispatcher.start();
  });
  // Warming the index waits until the server listens: workspaces load on use meanwhile.
  app.addHook('onListen', async () => {
    // Joined first, so the warm-up loads this instance's home share only.
    if (services.membership !== undefined) {
      services.membership.useLog(app.log);
      await services.membership.join();
    }
    services.accessIndex.startWarming();
  });
  // Before the server stops listening: the others stop forwarding here at their next heartbeat.
  app.addHook('preClose', async () => {
    await services.membership?.leave().catch((error: unknown) => {
      app.log.error({ err: error }, 'leaving the cluster failed; the lease runs out instead');
    });
  });
  // Open event streams would keep the server from closing.
  app.addHook('preClose', (done) => {
    services.eventStream.closeAll();
    done();
  });
  app.addHook('onClose', async () => {
    await services.webhookDispatcher.stop();
    await services.changeFeed.stop();
  });
  // Tool-call records still buffered are written on shutdown; upstream connections closed.
  services.toolCalls.useLog(app.log);
  app.addHook('onClose', async () => {
    await services.toolCalls.close();
    await services.upstreams.close();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        errorBody(
          'errors',
          404,
          `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`,
        ),
      ),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Roster API',
        version: '0.1.0',
        description:
          'Access control for workspace platforms. Wire-compatible with the reference Developer API for collaborators, groups, roles, project grants and the roles migration tool.',
      },
      components: {
        securitySchemes: {
          apiToken: { type: 'http', scheme: 'bearer', description: 'An API client token' },
          platformToken: { type: 'http', scheme: 'bearer', description: 'ROSTER_PLATFORM_TOKEN' },
        },
      },
      security: [{ apiToken: [] }],
    },
  });

  if (rateLimit !== undefined) await app.register(fastifyRateLimit, rateLimit.pluginOptions);

  // Readiness: 503 until the migrations ran and the start-up index build is done, and while the
  // database does not answer (the process keeps running and serves again when it returns);
  // `notifications` says whether other instances' writes arrive by LISTEN or, while it
  // reconnects, by the poll only. Liveness (/livez, /healthz) stays 200 through a database
  // outage, so an orchestrator does not restart an instance that would recover by itself.
  const readiness = async (request: FastifyRequest, reply: FastifyReply) => {
    const notifications = services.changeFeed.notificationState();
    const described = {
      dialect: deps.store.dialect,
      ...(notifications === undefined ? {} : { notifications }),
      // What is warm: workspaces load on first use, so this never makes the instance unready.
      index: services.accessIndex.state(),
      // Several instances: this one's URL and the live ones its home instances are chosen among.
      ...(services.membership === undefined
        ? {}
        : {
            cluster: {
              instance_url: services.membership.url,
              instances: services.membership.instances(),
            },
          }),
    };
    try {
      await pingStore(deps.store);
    } catch (error) {
      request.log.error(
        { err: error, code: 'database.unavailable' },
        'readiness: the database does not answer',
      );
      return reply.status(503).send({
        status: 'unavailable',
        database: 'unavailable',
        ...described,
        error: storageFault(error)?.message ?? 'The database does not answer.',
      });
    }
    // Asked of the database each time: another deployment step may be migrating it.
    const pending = await pendingMigrations(deps.store).catch(() => null);
    if (pending === null || pending.length > 0) {
      return reply.status(503).send({
        status: 'unavailable',
        database: 'ok',
        migrations: 'pending',
        ...described,
        error:
          pending === null
            ? 'The migration history cannot be read.'
            : `Migrations not applied yet: ${pending.join(', ')}.`,
      });
    }
    if (!startup.indexBuilt) {
      return reply.status(503).send({
        status: 'unavailable',
        database: 'ok',
        ...described,
        error: 'The access index is being built.',
      });
    }
    return { status: 'ok', database: 'ok', ...described };
  };
  // Probes run every few seconds: their successes are not logged at info level (failures are).
  const probe = {
    config: { rateLimit: false },
    schema: { hide: true },
    logLevel: 'warn',
  } as const;
  const live = () => ({ status: 'ok' });
  app.get('/readyz', probe, readiness);
  app.get('/livez', probe, live);
  app.get('/healthz', probe, live);

  // Prometheus metrics (docs/operations.md#metrics): open, or behind ROSTER_METRICS_TOKEN.
  const metricsToken =
    deps.config.metricsToken === undefined ? undefined : Buffer.from(deps.config.metricsToken);
  app.get('/metrics', probe, async (request, reply) => {
    if (metricsToken !== undefined) {
      const presented = Buffer.from(
        /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '',
      );
      const matches =
        presented.length === metricsToken.length && timingSafeEqual(presented, metricsToken);
      if (!matches) {
        return reply
          .status(401)
          .header('www-authenticate', 'Bearer realm="metrics"')
          .send(errorBody('errors', 401, 'The metrics need the ROSTER_METRICS_TOKEN bearer token'));
      }
    }
    const body = await services.metrics.registry.metrics();
    return reply.type(services.metrics.registry.contentType).send(body);
  });

  const { page: consolePage, ssoSignIn: consoleSsoSignIn } = await registerConsole(app, {
    consoleService: services.console,
    sso: services.sso,
    config: services.consoleConfig,
    publicUrl: deps.config.publicUrl,
    afterWrite: () => services.changeFeed.afterWrite(),
  });

  await app.register((publicApi, _options, done) => {
    registerPublicInvitationRoutes(publicApi, services.invitations, consolePage);
    registerPublicEndUserInvitationRoutes(publicApi, services.endUsers);
    registerPublicSsoRoutes(
      publicApi,
      services.sso,
      consoleSsoSignIn,
      mcpSignIn({ oauth: services.oauth, sso: services.sso }),
    );
    done();
  });
  // OAuth for interactive MCP clients: its own scope, the bodies left to oidc-provider.
  await app.register((oauthScope, _options, done) => {
    registerOauthRoutes(oauthScope, { oauth: services.oauth, sso: services.sso });
    done();
  });

  await app.register(
    (platform, _options, done) => {
      platform.addHook('onRequest', platformAuth(deps.config.platformToken));
      registerPlatformRoutes(platform, services.workspaces);
      done();
    },
    { prefix: '/platform' },
  );

  await app.register(
    async (api) => {
      api.get('/openapi.json', { config: { rateLimit: false }, schema: { hide: true } }, () =>
        app.swagger(),
      );
      const routing =
        services.membership === undefined || deps.config.secretKey === undefined
          ? undefined
          : clusterRouting({
              membership: services.membership,
              secretKey: deps.config.secretKey,
              timeoutMs: deps.config.cluster.forwardTimeoutMs,
              changes: services.changeFeed,
              log: app.log,
            });
      await api.register((authed, _options, done) => {
        // A signed hop from another instance carries the caller's context (set before the auth
        // hook, which then has nothing to do); a decision homed elsewhere is forwarded there.
        if (routing !== undefined) {
          authed.addHook('onRequest', routing.acceptForwarded);
          authed.addHook('preValidation', routing.checkForwardedBody);
          authed.addHook('preHandler', routing.forwardToHome);
        }
        authed.addHook(
          'onRequest',
          apiClientAuth(services.apiClients, sessionAuthenticator(services.console)),
        );
        registerMemberRoutes(authed, services.members);
        registerDecisionRoutes(authed, services.decisions, services.members);
        registerSnapshotRoutes(authed, services.snapshots);
        registerInvitationRoutes(authed, services.invitations);
        registerGroupRoutes(authed, services.groups);
        registerRoleRoutes(authed, services.roles);
        registerProjectRoutes(authed, services.projects);
        registerGrantRoutes(authed, services.grants, services.members, services.groups);
        registerRolesMigrationRoutes(authed, services.rolesMigration);
        registerApiClientRoutes(authed, services.apiClients);
        registerAuditRoutes(authed, services.audit);
        registerEventRoutes(authed, services.eventStream, services.audit);
        registerEndUserRoutes(authed, services.endUsers, services.endUserDecisions);
        registerEndUserGroupRoutes(authed, services.endUserGroups);
        registerFeatureRoutes(authed, services.features);
        registerPolicyRoutes(authed, services.policies);
        registerApprovalRoutes(authed, services.approvals);
        registerAgentRoutes(authed, services.agents);
        registerScimConnectionRoutes(authed, services.scim);
        registerSsoRoutes(authed, services.sso);
        registerWorkspaceConfigRoutes(authed, services.workspaceConfig);
        registerWebhookRoutes(authed, services.webhooks);
        done();
      });
    },
    { prefix: '/api' },
  );

  // The MCP gateway: its own scope, authenticated by agent tokens, the body left to the MCP SDK.
  await app.register(
    (gateway, _options, done) => {
      registerGatewayRoutes(gateway, {
        gateway: services.gateway,
        authenticate: services.gatewayAuth,
        bodyLimit: BODY_LIMIT_BYTES,
      });
      done();
    },
    { prefix: '/mcp' },
  );

  // SCIM 2.0 (RFC 7644): its own scope, authenticated by each connection's token, with SCIM errors.
  await registerScimEndpoints(app, services.scim);

  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
  });

  return { app, services, routes };
}

/**
 * The access index's budget when ROSTER_INDEX_MEMORY_MB is not set: a third of the heap V8 has
 * left once the app is built (its limit less what code, caches and the app already use, ~45 MB).
 * Half the whole limit ignored that share: under a 128 MB heap the warm-up filled the budget and
 * the process died out of memory (tests/api/index-memory-pressure.test.ts). The rest of the
 * headroom is for requests, loads in progress and the garbage between two collections.
 */
function defaultIndexBudgetBytes(): number {
  const heap = getHeapStatistics();
  return Math.floor(Math.max(0, heap.heap_size_limit - heap.used_heap_size) / 3);
}
