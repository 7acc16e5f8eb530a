/**
 * buildApp(deps): the whole HTTP application over an opened, migrated store. main.ts starts it;
 * tests build it against a fresh database and talk to it over HTTP.
 */
import Fastify, {
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { fastifyTrustProxy, type Config } from './config.js';
import type { Store } from './storage/connect.js';
import { pingStore } from './storage/connect.js';
import { systemClock, type Clock } from './lib/clock.js';
import { AppError } from './lib/errors.js';
import { recordedChanges, trackChanges } from './lib/change-tracking.js';
import { handleError, errorBody } from './http/error-handler.js';
import { storageFault } from './storage/errors.js';
import { containsNul, depthLimitedJsonParser } from './http/json-body.js';
import {
  assertBoundedNumbers,
  refuseNonFinite,
  requireRepresentableDateTimes,
} from './http/validation.js';
import { apiClientAuth, isAccessQuestion, platformAuth } from './http/auth.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import type { Api } from './http/types.js';
import { createMailer, type Mailer } from './modules/mail/mailer.js';
import { createApiClientsService } from './modules/api-clients/api-clients.service.js';
import { registerApiClientRoutes } from './modules/api-clients/api-clients.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { registerAuditRoutes } from './modules/audit/audit.routes.js';
import { createDecisionsService } from './modules/decisions/decisions.service.js';
import { AccessIndex } from './modules/decisions/access-index.js';
import { ChangeFeed } from './modules/audit/change-feed.js';
import { registerDecisionRoutes } from './modules/decisions/decisions.routes.js';
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
import { createSecretBox } from './modules/sso/sso.secrets.js';
import { registerPublicSsoRoutes, registerSsoRoutes } from './modules/sso/sso.routes.js';
import { createWorkspaceConfigService } from './modules/workspace-config/workspace-config.service.js';
import { registerWorkspaceConfigRoutes } from './modules/workspace-config/workspace-config.routes.js';
import { Membership } from './modules/cluster/membership.js';
import { clusterRouting } from './modules/cluster/routing.js';
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
        : Math.floor(getHeapStatistics().heap_size_limit / 2),
    loadWaitMs: deps.config.index.loadWaitMs,
    warmAtStart: deps.config.index.warmAtStart,
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
    mailer,
    workspaces: createWorkspacesService({ db, clock, dialect: deps.store.dialect }),
    apiClients: createApiClientsService({ db, clock, changes: changeFeed }),
    audit: createAuditService({ db }),
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
    decisions: createDecisionsService({ index: accessIndex }),
    rolesMigration: createRolesMigrationService({ db, clock }),
    endUsers: createEndUsersService({
      db,
      clock,
      mailer,
      config: { publicUrl: deps.config.publicUrl },
      featureGrants: featureGrantsOfUser,
    }),
    endUserGroups: createEndUserGroupsService({ db, clock }),
    features: createFeaturesService({ db, clock }),
    policies: createPoliciesService({ db, clock }),
    workspaceConfig: createWorkspaceConfigService({ db, clock }),
    approvals,
    endUserDecisions: createEndUserDecisionsService({
      db,
      clock,
      index: accessIndex,
      approvalTtlMinutes: deps.config.approvalTtlMinutes,
      // Mailing the approvers runs after the decision's commit and never holds the answer back.
      onApprovalOpened: (workspaceId, requestId) => {
        void approvals.notifyOpened(workspaceId, requestId);
      },
    }),
    scim: createScimService({
      db,
      clock,
      dialect: deps.store.dialect,
      publicUrl: deps.config.publicUrl,
    }),
    sso: createSsoService({
      db,
      clock,
      publicUrl: deps.config.publicUrl,
      secrets: createSecretBox({ secretKey: deps.config.secretKey, dataDir: deps.config.dataDir }),
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

export async function buildApp(deps: AppDeps) {
  const services = withConsole(deps, createServices(deps));
  const app: Api = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // The client IP (per-IP rate limit, sign-in limiter) comes from X-Forwarded-For only when
    // ROSTER_TRUST_PROXY names the proxies; by default it is the TCP peer, which a client cannot forge.
    trustProxy: fastifyTrustProxy(deps.config.trustProxy),
    schemaController: { compilersFactory: { buildValidator: buildRequestValidator } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify's JSON parser (prototype poisoning refused, its defaults) behind a nesting limit.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    depthLimitedJsonParser(app.getDefaultJsonParser('error', 'error')),
  );
  app.decorateRequest('ctx', null);
  // Before any route is registered, so that every route, error and static file gets them.
  registerSecurityHeaders(app);
  services.changeFeed.useLog(app.log);
  services.accessIndex.useLog(app.log);
  // The access index: built before the first request, refreshed by the change feed after every
  // write request before its response goes out (so the writer's next check sees the write); the
  // feed stops on close.
  app.addHook('onReady', () => services.changeFeed.start(() => services.accessIndex.build()));
  app.addHook('onClose', () => services.changeFeed.stop());
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
  // A request that recorded a change (lib/change-tracking.ts) syncs before it answers, whatever
  // its method: the SSO callback is a GET that creates a user. Tracking starts at preHandler,
  // after the body is parsed (a body's stream events would lose the async context), before any
  // route handler runs.
  app.addHook('preHandler', (request, _reply, done) => {
    trackChanges(request, done);
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    if (recordedChanges(request)) {
      await services.changeFeed.afterWrite().catch((error: unknown) => {
        request.log.error({ err: error }, 'access index sync failed');
      });
    }
    return payload;
  });
  // PostgreSQL cannot store NUL in text and SQLite would: refuse it everywhere, before validation.
  app.addHook('preValidation', (request, _reply, done) => {
    // The access checks store nothing; a batch of 1,000 is not walked twice for nothing.
    if (isAccessQuestion(request)) {
      done();
      return;
    }
    if (containsNul(request.body) || containsNul(request.query) || containsNul(request.params)) {
      done(new AppError(400, 'input.nul', 'Text must not contain NUL characters'));
      return;
    }
    done();
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

  if (deps.config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: deps.config.rateLimitPerMinute,
      timeWindow: 60_000,
      hook: 'preHandler',
      enableDraftSpec: true,
      keyGenerator: (request) =>
        request.ctx === null
          ? `ip:${request.ip}`
          : `${request.ctx.actor.type}:${request.ctx.actor.id ?? ''}`,
      errorResponseBuilder: (_request, context) =>
        new AppError(
          429,
          'rate_limited',
          `Rate limit exceeded: ${context.max} requests per minute. Retry in ${Math.ceil(context.ttl / 1000)} s.`,
        ),
    });
  }

  // Readiness: 503 while the database does not answer (the process keeps running and serves again
  // when it returns); `notifications` says whether other instances' writes arrive by LISTEN or,
  // while it reconnects, by the poll only. Liveness (/livez) stays 200 through a database outage,
  // so an orchestrator does not restart an instance that would recover by itself.
  const readiness = async (_request: FastifyRequest, reply: FastifyReply) => {
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
      return { status: 'ok', database: 'ok', ...described };
    } catch (error) {
      app.log.error({ err: error }, 'health check: the database does not answer');
      return reply.status(503).send({
        status: 'unavailable',
        database: 'unavailable',
        ...described,
        error: storageFault(error)?.message ?? 'The database does not answer.',
      });
    }
  };
  const probe = { config: { rateLimit: false }, schema: { hide: true } } as const;
  app.get('/healthz', probe, readiness);
  app.get('/readyz', probe, readiness);
  app.get('/livez', probe, () => ({ status: 'ok' }));

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
    registerPublicSsoRoutes(publicApi, services.sso, consoleSsoSignIn);
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
        registerInvitationRoutes(authed, services.invitations);
        registerGroupRoutes(authed, services.groups);
        registerRoleRoutes(authed, services.roles);
        registerProjectRoutes(authed, services.projects);
        registerGrantRoutes(authed, services.grants, services.members, services.groups);
        registerRolesMigrationRoutes(authed, services.rolesMigration);
        registerApiClientRoutes(authed, services.apiClients);
        registerAuditRoutes(authed, services.audit);
        registerEndUserRoutes(authed, services.endUsers, services.endUserDecisions);
        registerEndUserGroupRoutes(authed, services.endUserGroups);
        registerFeatureRoutes(authed, services.features);
        registerPolicyRoutes(authed, services.policies);
        registerApprovalRoutes(authed, services.approvals);
        registerScimConnectionRoutes(authed, services.scim);
        registerSsoRoutes(authed, services.sso);
        registerWorkspaceConfigRoutes(authed, services.workspaceConfig);
        done();
      });
    },
    { prefix: '/api' },
  );

  // SCIM 2.0 (RFC 7644): its own scope, authenticated by each connection's token, with SCIM errors.
  await registerScimEndpoints(app, services.scim);

  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
  });

  return { app, services };
}
