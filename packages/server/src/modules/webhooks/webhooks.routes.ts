import {
  CreateWebhookBody,
  DataOf,
  IntegerIdParams,
  ListWebhookDeliveriesQuery,
  PagedList,
  UpdateWebhookBody,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryParams,
  WebhookWithSecret,
} from '@roster/contracts';
import { Type } from 'typebox';
import { contextOf, intId, type Api } from '../../http/types.js';
import { errorResponses, noContent } from '../../http/schemas.js';
import type { WebhooksService } from './webhooks.service.js';

const tags = ['Webhooks'];

export function registerWebhookRoutes(app: Api, webhooks: WebhooksService): void {
  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Create a webhook',
        description:
          'The endpoint receives every audit event whose action matches one of `events` (`end_user.locked`, `scim.*`, `*`), signed as the Standard Webhooks specification says. The answer carries the signing secret (`whsec_…`) this once. A URL must be http(s) and must not resolve to a loopback, link-local or private address unless the server allows it (ROSTER_WEBHOOK_ALLOW_PRIVATE). Needs full workspace scope.',
        body: CreateWebhookBody,
        response: { 201: DataOf(WebhookWithSecret), ...errorResponses },
      },
    },
    async (request, reply) =>
      reply.status(201).send({ data: await webhooks.create(contextOf(request), request.body) }),
  );
  app.get(
    '/webhooks',
    {
      schema: {
        tags,
        summary: "The workspace's webhooks",
        response: { 200: Type.Object({ data: Type.Array(Webhook) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await webhooks.list(contextOf(request)) }),
  );
  app.get(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'A webhook (its secret is never shown again)',
        params: IntegerIdParams,
        response: { 200: DataOf(Webhook), ...errorResponses },
      },
    },
    async (request) => ({ data: await webhooks.get(contextOf(request), intId(request.params)) }),
  );
  app.patch(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Update a webhook',
        description:
          '`enabled: true` turns an endpoint that was disabled after failures back on and resets its failure count.',
        params: IntegerIdParams,
        body: UpdateWebhookBody,
        response: { 200: DataOf(Webhook), ...errorResponses },
      },
    },
    async (request) => ({
      data: await webhooks.update(contextOf(request), intId(request.params), request.body),
    }),
  );
  app.delete(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Delete a webhook and its queued deliveries',
        params: IntegerIdParams,
        response: { ...noContent, ...errorResponses },
      },
    },
    async (request, reply) => {
      await webhooks.remove(contextOf(request), intId(request.params));
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/webhooks/:id/rotate_secret',
    {
      schema: {
        tags,
        summary: 'Replace the signing secret',
        description:
          'The answer carries the new secret this once; deliveries are signed with it from now on.',
        params: IntegerIdParams,
        response: { 200: DataOf(WebhookWithSecret), ...errorResponses },
      },
    },
    async (request) => ({
      data: await webhooks.rotateSecret(contextOf(request), intId(request.params)),
    }),
  );
  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: 'The delivery log of a webhook, newest first',
        params: IntegerIdParams,
        querystring: ListWebhookDeliveriesQuery,
        response: { 200: PagedList(WebhookDelivery), ...errorResponses },
      },
    },
    async (request) =>
      webhooks.listDeliveries(contextOf(request), intId(request.params), request.query),
  );
  app.post(
    '/webhooks/:id/deliveries/:delivery_id/redeliver',
    {
      schema: {
        tags,
        summary: 'Send a delivered or failed event again',
        description:
          'Queues a new delivery of the same event, due now, with the same `webhook-id`; the original stays in the log.',
        params: WebhookDeliveryParams,
        response: { 202: DataOf(WebhookDelivery), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, delivery_id } = request.params;
      const delivery = await webhooks.redeliver(
        contextOf(request),
        intId({ id }),
        intId({ id: delivery_id }),
      );
      return reply.status(202).send({ data: delivery });
    },
  );
}
