import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { created, defineRoute, noContent, ok, page, principalOf, raw, RouteDefinition } from '../../http/route';
import { actorId } from '../auth/principal';
import { createdSubscriptionSchema, deliverySchema, deliveryWithAttemptsSchema, subscriptionSchema } from './webhook.presenter';
import { createSubscriptionBody, idParams, listDeliveriesQuery, listSubscriptionsQuery, replayBody, rotateSecretBody, updateSubscriptionBody } from './webhooks.schema';
import { createWebhooksService } from './webhooks.service';

/** Webhooks are organization settings: tenant admins (organization:manage) manage them. */
const PERMISSION = 'organization:manage';

export function webhooksRoutes(deps: AppDeps): RouteDefinition[] {
  const service = createWebhooksService(deps.config);
  const tags = ['Webhooks'];
  return [
    defineRoute({
      method: 'get',
      path: '/webhooks',
      permission: PERMISSION,
      summary: "The tenant's webhook subscriptions, oldest first, keyset-paged; never their secrets",
      tags,
      schema: { query: listSubscriptionsQuery },
      response: { status: 200, description: 'A page of subscriptions', schema: subscriptionSchema },
      handler: async (input) => {
        const { rows, pagination } = await service.list(input.query);
        return page(rows, pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'Subscribe a URL to events (`lead.created`, `deal.*`, `*`); the signing secret is in this answer only',
      description:
        'The URL must resolve to public addresses only (no loopback, private, link-local or metadata address) unless the operator allows private networks.',
      tags,
      schema: { body: createSubscriptionBody },
      response: { status: 201, description: 'The subscription and its signing secret', schema: createdSubscriptionSchema },
      handler: async (input) => created(await service.create(input.body, actorId(principalOf(input))), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id',
      permission: PERMISSION,
      summary: 'One webhook subscription',
      tags,
      schema: { params: idParams },
      response: { status: 200, description: 'The subscription', schema: subscriptionSchema },
      handler: async (input) => ok(await service.get(input.params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/webhooks/:id',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'Change the URL, events, description or active flag; turning it on clears the reason it was turned off',
      tags,
      schema: { params: idParams, body: updateSubscriptionBody },
      response: { status: 200, description: 'The subscription', schema: subscriptionSchema },
      handler: async (input) => ok(await service.update(input.params.id, input.body, actorId(principalOf(input)))),
    }),
    defineRoute({
      method: 'delete',
      path: '/webhooks/:id',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'Delete a subscription and its delivery log',
      tags,
      schema: { params: idParams },
      handler: async (input) => {
        await service.remove(input.params.id);
        return noContent();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/rotate-secret',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'A new signing secret (in this answer only); the old one keeps signing beside it for `overlapSeconds` (default a day)',
      description:
        'During the overlap every delivery carries two `v1` signatures in `Webhook-Signature`, one per secret; a receiver accepting any matching `v1` verifies with either.',
      tags,
      schema: { params: idParams, body: rotateSecretBody },
      response: { status: 200, description: 'The subscription and its new signing secret', schema: createdSubscriptionSchema },
      handler: async (input) =>
        ok(await service.rotateSecret(input.params.id, input.body.overlapSeconds, actorId(principalOf(input))), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/ping',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'Send a `ping` event to this subscription (sent by the job engine after the answer)',
      tags,
      schema: { params: idParams },
      response: { status: 202, description: 'The delivery of the ping', schema: deliverySchema },
      handler: async (input) => raw(202, { data: await service.ping(input.params.id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/replay',
      auditResource: 'webhook',
      permission: PERMISSION,
      summary: 'Send stored events again to this subscription: the ones named, or all since a time (at most 1000)',
      description: 'Only events the subscription subscribes to are sent; each gets a new delivery. Events are kept 30 days.',
      tags,
      schema: { params: idParams, body: replayBody },
      response: { status: 202, description: 'How many deliveries were made', schema: Joi.object({ deliveries: Joi.number().integer().required() }) },
      handler: async (input) => raw(202, { data: await service.replay(input.params.id, input.body) }),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries',
      permission: PERMISSION,
      summary: "The subscription's deliveries, oldest first, keyset-paged, optionally by status",
      tags,
      schema: { params: idParams, query: listDeliveriesQuery },
      response: { status: 200, description: 'A page of deliveries', schema: deliverySchema },
      handler: async (input) => {
        const { rows, pagination } = await service.listDeliveries(input.params.id, input.query);
        return page(rows, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/webhook-deliveries/:id',
      permission: PERMISSION,
      summary: 'One delivery with its log of attempts (status code, duration, error, the first 4 KB of the answer)',
      tags,
      schema: { params: idParams },
      response: { status: 200, description: 'The delivery', schema: deliveryWithAttemptsSchema },
      handler: async (input) => ok(await service.getDelivery(input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/webhook-deliveries/:id/retry',
      auditResource: 'webhook_delivery',
      permission: PERMISSION,
      summary: 'Send a succeeded or failed delivery again now, with a fresh 24-hour retry window',
      tags,
      schema: { params: idParams },
      response: { status: 202, description: 'The delivery, pending again', schema: deliverySchema },
      handler: async (input) => raw(202, { data: await service.retryDelivery(input.params.id) }),
    }),
  ];
}
