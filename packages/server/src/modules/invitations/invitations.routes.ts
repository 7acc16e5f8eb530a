import { Type } from 'typebox';
import {
  AcceptInvitationBody,
  CreateInvitationBody,
  DataOf,
  ErrorBody,
  IntegerIdParams,
  Invitation,
  InvitationPreview,
  InvitationTokenParams,
  ListInvitationsQuery,
  Member,
  PagedList,
} from '@roster/contracts';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, messageErrorResponses, noContent } from '../../http/schemas.js';
import type { InvitationsService } from './invitations.service.js';
import { wantsHtml, type ConsolePage } from '../../http/console-shell.js';

const tags = ['Invitations'];
const InvitationCreated = Type.Object({ result: Type.Literal('ok'), data: Invitation });

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
        body: CreateInvitationBody,
        response: { 200: InvitationCreated, ...messageErrorResponses },
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
        querystring: ListInvitationsQuery,
        response: { 200: PagedList(Invitation), ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: DataOf(Invitation), ...errorResponses },
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
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
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
        params: IntegerIdParams,
        response: { 200: Type.Object({ result: Type.Literal('ok') }), ...messageErrorResponses },
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
        params: InvitationTokenParams,
        response: { 200: DataOf(InvitationPreview), ...gone },
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
        params: InvitationTokenParams,
        body: Type.Union([AcceptInvitationBody, Type.Null()]),
        response: { 201: DataOf(Member), ...gone },
      },
    },
    async (request, reply) => {
      const member = await invitations.acceptInvitation(request.params.token, request.body ?? {});
      return reply.status(201).send({ data: member });
    },
  );
}
