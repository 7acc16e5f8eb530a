import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { EndUserDecisionsService } from '../decisions/end-user-decisions.js';
import { forwardedRequestName } from '../cluster/routing.js';
import type { EndUsersService } from './end-users.service.js';

const tags = ['End users'];

export function registerEndUserRoutes(
  app: Api,
  endUsers: EndUsersService,
  decisions: EndUserDecisionsService,
): void {
  app.get(
    '/end_users',
    {
      schema: {
        tags,
        summary: 'List end users',
        description:
          '`email` filters by contains; `sort` is email, mfa or created_at (default), `direction` asc (default) or desc.',
        ...schemaOf('listEndUsers'),
      },
    },
    (request) => endUsers.listEndUsers(contextOf(request), request.query),
  );
  app.post(
    '/end_users',
    {
      schema: {
        tags,
        summary: 'Create an end user (source manual, status active)',
        ...schemaOf('createEndUser'),
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await endUsers.createEndUser(contextOf(request), request.body) }),
  );
  app.post(
    '/end_users/invitations',
    {
      schema: {
        tags,
        summary: 'Invite an end user to the portal',
        description:
          'Creates the user with status invited and mails a single-use link valid for 7 days.',
        ...schemaOf('inviteEndUser'),
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send({ data: await endUsers.inviteEndUser(contextOf(request), request.body) }),
  );
  app.post(
    '/end_users/decisions',
    {
      schema: {
        tags,
        summary: 'Decide whether an end user may use a feature (or one of its tools)',
        description:
          'Records the decision in the audit log and, under a require_approval policy, opens or uses up an approval request. With `dry_run=true` the same answer is computed and nothing is written.',
        ...schemaOf('decide'),
      },
    },
    async (request) => ({
      data: await decisions.decide(
        contextOf(request),
        request.body,
        request.query.dry_run === true,
        forwardedRequestName(request),
      ),
    }),
  );
  app.get(
    '/end_users/:id',
    {
      schema: {
        tags,
        summary: 'Get an end user with its groups, feature access and recent activity',
        ...schemaOf('getEndUser'),
      },
    },
    async (request) => ({
      data: await endUsers.getEndUser(contextOf(request), intId(request.params)),
    }),
  );
  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/end_users/:id',
      {
        schema: {
          tags,
          summary: 'Edit an end user’s name, profile and groups',
          ...schemaOf(method === 'put' ? 'updateEndUser' : 'patchEndUser'),
        },
      },
      async (request) => ({
        data: await endUsers.updateEndUser(contextOf(request), intId(request.params), request.body),
      }),
    );
  }
  app.delete(
    '/end_users/:id',
    {
      schema: {
        tags,
        summary: 'Delete an end user (all access goes at once)',
        ...schemaOf('deleteEndUser'),
      },
    },
    async (request, reply) => {
      await endUsers.deleteEndUser(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
  app.put(
    '/end_users/:id/environments',
    {
      schema: {
        tags,
        summary: 'Grant or revoke an end user’s access to an environment',
        description:
          'Revoking needs `"confirm": true`, and removes the user from the environment’s groups and direct feature grants.',
        ...schemaOf('setEndUserEnvironment'),
      },
    },
    async (request) => ({
      data: await endUsers.setEnvironmentAccess(
        contextOf(request),
        intId(request.params),
        request.body,
      ),
    }),
  );
  app.post(
    '/end_users/:id/lock',
    {
      schema: {
        tags,
        summary: 'Lock an end user: every decision denies until unlocked',
        ...schemaOf('lockEndUser'),
      },
    },
    async (request) => ({
      data: await endUsers.lockEndUser(contextOf(request), intId(request.params)),
    }),
  );
  app.post(
    '/end_users/:id/unlock',
    {
      schema: {
        tags,
        summary: 'Unlock an end user',
        ...schemaOf('unlockEndUser'),
      },
    },
    async (request) => ({
      data: await endUsers.unlockEndUser(contextOf(request), intId(request.params)),
    }),
  );
}

/** The invitee's side: no API token, the link's secret is the credential. */
export function registerPublicEndUserInvitationRoutes(app: Api, endUsers: EndUsersService): void {
  app.post(
    '/end-user-invitations/:token/accept',
    {
      schema: {
        tags,
        summary: 'Accept a portal invitation',
        ...schemaOf('acceptEndUserInvitation', {}),
      },
    },
    async (request) => ({
      data: await endUsers.acceptInvitation(request.params.token, request.changes ?? undefined),
    }),
  );
}
