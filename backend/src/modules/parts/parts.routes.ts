import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { actorId } from '../auth/principal';
import {
  inventoryItemSchema,
  inventoryQuery,
  invoiceSchema,
  listOrdersQuery,
  orderBody,
  orderParams,
  orderSchema,
  partDetailsSchema,
  partParams,
  partSchema,
  quoteBody,
  quoteSchema,
  searchQuery,
  stockSchema,
} from './parts.schema';
import { createPartsService } from './parts.service';

/**
 * Parts ordering through the organization's supplier integration (docs/API.md "Parts ordering"). The
 * specific paths come before `/parts/:partNumber`. A supplier that is down answers 503 SUPPLIER_UNAVAILABLE
 * with Retry-After; 502 SUPPLIER_ERROR when it refuses the credentials.
 */
export function partsRoutes(deps: AppDeps): RouteDefinition[] {
  const service = createPartsService(deps.config);
  const tags = ['Parts ordering'];
  const feature = 'parts_ordering' as const;
  const errors = [409, 502];
  const idempotencyKey = (input: AnyRouteInput) => {
    const key = input.headers['idempotency-key'];
    return typeof key === 'string' ? key : undefined;
  };

  return [
    defineRoute({
      method: 'get',
      path: '/parts/search',
      permission: 'parts:read',
      feature,
      summary: "Search the supplier's catalogue by text and/or vehicle (make, model, year)",
      tags,
      schema: { query: searchQuery },
      response: { status: 200, description: 'Matching parts', schema: Joi.array().items(partSchema), errors },
      handler: async (input) => ok(await service.search(input.query)),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/orders',
      permission: 'parts:read',
      feature,
      summary: 'Parts orders, oldest first, keyset-paged; filter `status`',
      tags,
      schema: { query: listOrdersQuery },
      response: { status: 200, description: 'A page of orders', schema: orderSchema },
      handler: async (input) => {
        const { rows, pagination } = await service.listOrders(input.query);
        return page(rows, pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/parts/orders',
      auditResource: 'parts_order',
      permission: 'parts:order',
      feature,
      summary: 'Order parts from the supplier, optionally for a deal, ticket or account; send an Idempotency-Key so a retry never orders twice',
      description:
        'The supplier knows the order by a reference derived from the Idempotency-Key: a retried request (even one whose first answer was lost) ' +
        'finds the order already placed. The order is then polled until delivered or cancelled.',
      tags,
      schema: { body: orderBody },
      response: { status: 201, description: 'The order as placed, with the supplier’s answer', schema: orderSchema, errors },
      handler: async (input) => created(await service.placeOrder(input.body, actorId(principalOf(input)), idempotencyKey(input))),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/orders/:id',
      permission: 'parts:read',
      feature,
      summary: 'One parts order: status, tracking and every answer of the supplier about it',
      tags,
      schema: { params: orderParams },
      response: { status: 200, description: 'The order', schema: orderSchema },
      handler: async (input) => ok(await service.getOrder(input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/parts/orders/:id/cancel',
      auditResource: 'parts_order',
      permission: 'parts:order',
      feature,
      summary: 'Cancel an order the supplier has not shipped (409 once shipped or delivered); cancelling a cancelled order changes nothing',
      tags,
      schema: { params: orderParams },
      response: { status: 200, description: 'The order', schema: orderSchema, errors },
      handler: async (input) => ok(await service.cancelOrder(input.params.id)),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/orders/:id/invoice',
      permission: 'parts:read',
      feature,
      summary: "The supplier's invoice of an order (409 until it has shipped)",
      tags,
      schema: { params: orderParams },
      response: { status: 200, description: 'The invoice', schema: invoiceSchema, errors },
      handler: async (input) => ok(await service.invoice(input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/parts/quotes',
      auditResource: 'parts_order',
      permission: 'parts:read',
      feature,
      summary: 'A price quote for lines of parts, with what is available (nothing is ordered)',
      tags,
      schema: { body: quoteBody },
      response: { status: 200, description: 'The quote', schema: quoteSchema, errors },
      handler: async (input) => ok(await service.quote(input.body.items)),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/inventory',
      permission: 'parts:read',
      feature,
      summary: "The inventory cache: the supplier's stocked parts as last synced (`syncedAt`), keyset-paged",
      tags,
      schema: { query: inventoryQuery },
      response: { status: 200, description: 'A page of parts in stock', schema: inventoryItemSchema },
      handler: async (input) => {
        const { rows, pagination } = await service.listInventory(input.query);
        return page(rows, pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/parts/inventory/sync',
      auditResource: 'parts_inventory',
      permission: 'parts:order',
      feature,
      summary: 'Sync the inventory cache from the supplier now (queued; it also runs every 6 hours)',
      tags,
      response: { status: 202, description: 'Queued', schema: Joi.object({ queued: Joi.boolean().required() }), errors },
      handler: async () => ({ kind: 'json', status: 202, body: { data: await service.requestInventorySync() } }),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/:partNumber',
      permission: 'parts:read',
      feature,
      summary: "A part's details and fitment",
      tags,
      schema: { params: partParams },
      response: { status: 200, description: 'The part', schema: partDetailsSchema, errors },
      handler: async (input) => ok(await service.details(input.params.partNumber)),
    }),
    defineRoute({
      method: 'get',
      path: '/parts/:partNumber/stock',
      permission: 'parts:read',
      feature,
      summary: "A part's stock at the supplier, per branch",
      tags,
      schema: { params: partParams },
      response: { status: 200, description: 'The stock', schema: stockSchema, errors },
      handler: async (input) => ok(await service.stock(input.params.partNumber)),
    }),
  ];
}
