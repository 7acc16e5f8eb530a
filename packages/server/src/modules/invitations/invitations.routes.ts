import { ErrorBody } from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import { messageErrorResponses } from '../../http/schemas.js';
import type { InvitationsService } from './invitations.service.js';
import { wantsHtml, type ConsolePage } from '../../http/console-shell.js';

const tags = ['Invitations'];

export function registerInvitationRoutes(app: Api, invitations: InvitationsService): void {
  app.post(
    '/member_invitations',
    {
      config: { errorStyle: 'message' },
      schema: {
        tags,
        summary: 'Invite a collaborator',
        description:
          'Mails a single-use link valid for 7 days. Environments left out of env_roles get No access. One invitation per email and workspace per ROSTER_INVITE_COOLDOWN_SECONDS (429 otherwise).',
        ...schemaOf('createInvitation', messageErrorResponses),
      },
    },
    async (request) => ({
      result: 'ok' as const,
      data: await invitations.invite(contextOf(request), request.body),
    }),
  );
  app.get(
    '/member_invitations',
    {
      schema: {
        tags,
        summary: 'List invitations',
        ...schemaOf('listInvitations'),
      },
    },
    (request) => invitations.listInvitations(contextOf(request), request.query),
  );
  app.get(
    '/member_invitations/:id',
    {
      schema: {
        tags,
        summary: 'Get an invitation',
        ...schemaOf('getInvitation'),
      },
    },
    async (request) => ({
      data: await invitations.getInvitation(contextOf(request), intId(request.params)),
    }),
  );
  app.delete(
    '/member_invitations/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a pending invitation',
        ...schemaOf('revokeInvitation'),
      },
    },
    async (request, reply) => {
      await invitations.revokeInvitation(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/member_invitations/:id/resend',
    {
      config: { errorStyle: 'message' },
      schema: {
        tags,
        summary: 'Mail a fresh invitation link',
        ...schemaOf('resendInvitation', messageErrorResponses),
      },
    },
    async (request) => {
      await invitations.resendInvitation(contextOf(request), intId(request.params));
      return { result: 'ok' as const };
    },
  );
}

/**
 * The invitee's side: no API token, the link's secret is the credential. A browser opening the
 * mailed link (it asks for HTML) gets the console's acceptance page, which sets a name and a
 * password; API clients asking for JSON get the preview as before.
 */
export function registerPublicInvitationRoutes(
  app: Api,
  invitations: InvitationsService,
  page?: ConsolePage,
): void {
  const gone = { 404: ErrorBody, 410: ErrorBody, 400: ErrorBody, 409: ErrorBody };
  app.get(
    '/invitations/:token',
    {
      schema: {
        tags,
        summary: 'Show an invitation',
        ...schemaOf('previewInvitation', gone),
      },
    },
    async (request, reply) => {
      if (page !== undefined && wantsHtml(request.headers.accept)) return page.send(reply);
      return { data: await invitations.previewInvitation(request.params.token) };
    },
  );
  app.post(
    '/invitations/:token/accept',
    {
      schema: {
        tags,
        summary: 'Accept an invitation and become a collaborator',
        ...schemaOf('acceptInvitation', gone),
      },
    },
    async (request, reply) => {
      const member = await invitations.acceptInvitation(
        request.params.token,
        request.body ?? {},
        undefined,
        request.changes ?? undefined,
      );
      return reply.status(201).send({ data: member });
    },
  );
}
