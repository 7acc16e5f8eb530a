/**
 * buildApp(deps): the whole HTTP application over an opened, migrated store. main.ts starts it;
 * tests build it against a fresh database and talk to it over HTTP.
 */
import Fastify, { type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { Store } from './storage/connect.js';
import { pingStore } from './storage/connect.js';
import { systemClock, type Clock } from './lib/clock.js';
import { AppError } from './lib/errors.js';
import { handleError, errorBody } from './http/error-handler.js';
import { apiClientAuth, platformAuth } from './http/auth.js';
import type { Api } from './http/types.js';
import { createMailer, type Mailer } from './modules/mail/mailer.js';
import { createApiClientsService } from './modules/api-clients/api-clients.service.js';
import { registerApiClientRoutes } from './modules/api-clients/api-clients.routes.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { registerAuditRoutes } from './modules/audit/audit.routes.js';
import { createDecisionsService } from './modules/decisions/decisions.service.js';
import { registerDecisionRoutes } from './modules/decisions/decisions.routes.js';
import { createGrantsService } from './modules/grants/grants.service.js';
import { registerGrantRoutes } from './modules/grants/grants.routes.js';
import { createGroupsService } from './modules/groups/groups.service.js';
import { registerGroupRoutes } from './modules/groups/groups.routes.js';
import { createInvitationsService } from './modules/invitations/invitations.service.js';
import { registerInvitationRoutes, registerPublicInvitationRoutes } from './modules/invitations/invitations.routes.js';
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
import path from 'node:path';

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
    createMailer({ smtpUrl: deps.config.smtpUrl, outboxPath: path.join(deps.config.dataDir, 'outbox.jsonl'), from: deps.config.mailFrom });
  const projects = createProjectsService({ db, clock });
  return {
    mailer,
    workspaces: createWorkspacesService({ db, clock, dialect: deps.store.dialect }),
    apiClients: createApiClientsService({ db, clock }),
    audit: createAuditService({ db }),
    members: createMembersService({ db, clock }),
    invitations: createInvitationsService({
      db,
      clock,
      mailer,
      config: { publicUrl: deps.config.publicUrl, cooldownSeconds: deps.config.inviteCooldownSeconds },
    }),
    groups: createGroupsService({ db, clock }),
    roles: createRolesService({ db, clock }),
    projects,
    grants: createGrantsService({ db, clock, projects }),
    decisions: createDecisionsService({ db, clock }),
    rolesMigration: createRolesMigrationService({ db, clock }),
  };
}
export type Services = ReturnType<typeof createServices>;

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDeps) {
  const services = createServices(deps);
  const app: Api = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Behind a proxy, X-Forwarded-For decides the client IP used for unauthenticated rate limits.
    trustProxy: true,
    ajv: { customOptions: { removeAdditional: true, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('ctx', null);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('errors', 404, `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`)),
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
      keyGenerator: (request) => (request.ctx === null ? `ip:${request.ip}` : `client:${request.ctx.actor.id ?? ''}`),
      errorResponseBuilder: (_request, context) =>
        new AppError(429, 'rate_limited', `Rate limit exceeded: ${context.max} requests per minute. Retry in ${Math.ceil(context.ttl / 1000)} s.`),
    });
  }

  app.get('/healthz', { config: { rateLimit: false }, schema: { hide: true } }, async (_request, reply) => {
    try {
      await pingStore(deps.store);
      return { status: 'ok', database: deps.store.dialect };
    } catch (error) {
      app.log.error({ err: error }, 'health check failed');
      return reply.status(503).send({ status: 'unavailable', database: deps.store.dialect });
    }
  });

  await app.register(async (publicApi) => {
    registerPublicInvitationRoutes(publicApi, services.invitations);
  });

  await app.register(
    async (platform) => {
      platform.addHook('onRequest', platformAuth(deps.config.platformToken));
      registerPlatformRoutes(platform, services.workspaces);
    },
    { prefix: '/platform' },
  );

  await app.register(
    async (api) => {
      api.get('/openapi.json', { config: { rateLimit: false }, schema: { hide: true } }, () => app.swagger());
      await api.register(async (authed) => {
        authed.addHook('onRequest', apiClientAuth(services.apiClients));
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
      });
    },
    { prefix: '/api' },
  );

  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });

  return { app, services };
}
