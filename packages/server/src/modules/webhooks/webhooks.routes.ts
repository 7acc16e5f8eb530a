import { contextOf, intId, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
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
        ...schemaOf('createWebhook'),
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
        ...schemaOf('listWebhooks'),
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
        ...schemaOf('getWebhook'),
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
        ...schemaOf('updateWebhook'),
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
        ...schemaOf('deleteWebhook'),
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
        ...schemaOf('rotateWebhookSecret'),
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
        ...schemaOf('listWebhookDeliveries'),
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
        ...schemaOf('redeliverWebhookDelivery'),
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
