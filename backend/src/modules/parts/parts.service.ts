import { createHash, randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { outboundCallsOf } from '../../infra/outbound/outbound-call';
import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { recordEvent } from '../events/event-context';
import { createIntegrationsService } from '../integrations/integrations.service';
import { CapricornAdapter } from './capricorn-adapter';
import { sharedSimulator } from './capricorn-simulator';
import { PartsInventoryItem, PartsOrder, presentInventoryItem, presentOrder, SupplierAnswer } from './parts.models';
import { FINAL_STATUSES, PartLine, PartSearch, SupplierAdapter, SupplierOrder } from './supplier-adapter';
import { supplierFailure } from './supplier-errors';

export const POLL_ORDER_JOB = 'parts.poll_order';
export const SYNC_INVENTORY_JOB = 'parts.sync_inventory';

export interface OrderDraft {
  items: PartLine[];
  dealId?: string;
  ticketId?: string;
  accountId?: string;
}

const LINKS = [
  { field: 'dealId', table: 'deals' },
  { field: 'ticketId', table: 'tickets' },
  { field: 'accountId', table: 'accounts' },
] as const;

const answer = (operation: string, said: unknown): SupplierAnswer => ({ at: new Date().toISOString(), operation, answer: said });

/**
 * Parts ordering for the current tenant through its supplier integration (capricorn_edi). Supplier calls
 * go through the adapter, which goes through the outbound policy; failures become the contract's errors
 * (supplier-errors.ts). Orders keep every answer the supplier gave; status changes are domain events.
 */
export function createPartsService(config: AppConfig) {
  const integrations = createIntegrationsService(config);
  const resetSeconds = Math.ceil(config.outbound.breakerResetMs / 1000);

  async function adapter(): Promise<SupplierAdapter> {
    const settings = await integrations.activeConfigOf('capricorn_edi');
    if (!settings) throw new AppError('SUPPLIER_NOT_CONFIGURED', 'The organization has no active capricorn_edi integration to order parts through');
    // No baseUrl: the built-in simulator (demo data); docs/SUPPLIER-PROTOCOL.md says so.
    const baseUrl = (settings.baseUrl as string | undefined) ?? (await sharedSimulator()).url;
    return new CapricornAdapter({ apiKey: settings.apiKey as string, customerId: settings.customerId as string, baseUrl }, outboundCallsOf(config), config.parts.supplierTimeoutMs);
  }

  async function ask<T>(what: string, work: (supplier: SupplierAdapter) => Promise<T>): Promise<T> {
    const supplier = await adapter();
    try {
      return await work(supplier);
    } catch (error) {
      throw supplierFailure(error, what, resetSeconds);
    }
  }

  async function loadOrder(id: string): Promise<PartsOrder> {
    const order = await PartsOrder.query().findById(id);
    if (!order) throw notFound('Parts order');
    return order;
  }

  /** Stores what the supplier now says about the order; a new status is an event (webhooks, audit, timelines). */
  async function applySupplierOrder(order: PartsOrder, said: SupplierOrder, operation: string): Promise<PartsOrder> {
    const statusChanged = said.status !== order.status;
    const trackingChanged = JSON.stringify(said.tracking ?? null) !== JSON.stringify(order.tracking ?? null);
    if (!statusChanged && !trackingChanged) {
      return PartsOrder.query().patchAndFetchById(order.id, { polledAt: new Date() } as never);
    }
    const { trx } = tenantScope();
    const updated = await PartsOrder.query().patchAndFetchById(order.id, {
      status: said.status,
      tracking: said.tracking ?? null,
      polledAt: new Date(),
      ...(statusChanged ? { statusChangedAt: new Date() } : {}),
      supplierAnswers: trx.raw('supplier_answers || ?::jsonb', [JSON.stringify([answer(operation, said)])]),
    } as never);
    if (statusChanged) recordEvent({ type: 'parts_order.status_changed', id: order.id, from: order.status, to: said.status, order: presentOrder(updated) });
    return updated;
  }

  async function schedulePoll(orderId: string): Promise<void> {
    await enqueueJob(POLL_ORDER_JOB, { orderId }, { runAt: new Date(Date.now() + config.parts.orderPollSeconds * 1000), jobKey: `parts-order-poll:${orderId}` });
  }

  /** A link must name a record of this organization (400 otherwise, as if it did not exist). */
  async function assertLinks(draft: OrderDraft): Promise<void> {
    const { trx } = tenantScope();
    for (const { field, table } of LINKS) {
      const id = draft[field];
      if (id && !(await trx(table).where({ id }).whereNull('deletedAt').first('id'))) {
        throw new AppError('VALIDATION_ERROR', 'A linked record does not exist', [{ field, message: `does not name a ${table.slice(0, -1)} of this organization` }]);
      }
    }
  }

  return {
    search: (search: PartSearch) => ask('Part', (supplier) => supplier.searchParts(search)),
    details: (partNumber: string) => ask('Part', (supplier) => supplier.getProductDetails(partNumber)),
    stock: (partNumber: string) => ask('Part', (supplier) => supplier.getAvailableStock(partNumber)),
    quote: (items: PartLine[]) => ask('Part', (supplier) => supplier.getPriceQuote(items)),

    /**
     * Places the order once: the supplier knows it by a client reference derived from the Idempotency-Key
     * (when given), so a retried request, even one whose first answer was lost, finds the same order.
     */
    async placeOrder(draft: OrderDraft, actor: string | null, idempotencyKey: string | undefined) {
      const { tenantId } = tenantScope();
      await assertLinks(draft);
      const clientReference = idempotencyKey ? `k-${createHash('sha256').update(`${tenantId}:${idempotencyKey}`).digest('hex').slice(0, 40)}` : `o-${randomUUID()}`;
      const existing = await PartsOrder.query().findOne({ clientReference });
      if (existing) return presentOrder(existing);
      const said = await ask('Part', (supplier) => supplier.createOrder(clientReference, draft.items));
      const order = await PartsOrder.query()
        .insert({
          supplier: 'capricorn',
          clientReference,
          supplierOrderId: said.orderId,
          status: said.status,
          items: draft.items,
          totalCents: said.totalCents,
          currency: said.currency,
          tracking: said.tracking ?? null,
          dealId: draft.dealId ?? null,
          ticketId: draft.ticketId ?? null,
          accountId: draft.accountId ?? null,
          supplierAnswers: [answer('createOrder', said)],
          createdBy: actor,
          updatedBy: actor,
        } as never)
        .returning('*');
      const shown = presentOrder(order);
      recordEvent({ type: 'parts_order.placed', id: order.id, order: shown });
      if (!FINAL_STATUSES.includes(order.status)) await schedulePoll(order.id);
      return shown;
    },

    listOrders: async (page: Page & { status?: string }) => {
      const query = PartsOrder.query();
      if (page.status) query.where({ status: page.status });
      const { rows, pagination } = await pageByCreation(query, page);
      return { rows: rows.map(presentOrder), pagination };
    },

    getOrder: async (id: string) => presentOrder(await loadOrder(id)),

    async cancelOrder(id: string) {
      const order = await loadOrder(id);
      if (order.status === 'cancelled') return presentOrder(order);
      if (order.status === 'delivered') throw new AppError('CONFLICT', 'A delivered order cannot be cancelled', [{ field: 'status', message: 'delivered' }]);
      const said = await ask('Parts order', (supplier) => supplier.cancelOrder(order.supplierOrderId!));
      return presentOrder(await applySupplierOrder(order, said, 'cancelOrder'));
    },

    async invoice(id: string) {
      const order = await loadOrder(id);
      const invoice = await ask('Invoice', (supplier) => supplier.getOrderInvoice(order.supplierOrderId!));
      const already = order.supplierAnswers.some((kept) => kept.operation === 'getOrderInvoice');
      if (!already) {
        await PartsOrder.query().patchAndFetchById(id, {
          supplierAnswers: tenantScope().trx.raw('supplier_answers || ?::jsonb', [JSON.stringify([answer('getOrderInvoice', invoice)])]),
        } as never);
      }
      return invoice;
    },

    /** Asks the supplier where an open order stands (the polling job); true once it will not change again. */
    async refreshOrder(id: string): Promise<boolean> {
      const order = await PartsOrder.query().findById(id);
      if (!order || FINAL_STATUSES.includes(order.status)) return true;
      const said = await ask('Parts order', (supplier) => supplier.getOrderStatus(order.supplierOrderId!));
      const updated = await applySupplierOrder(order, said, 'getOrderStatus');
      if (FINAL_STATUSES.includes(updated.status)) return true;
      await schedulePoll(id);
      return false;
    },

    /** Replaces the cache with the supplier's feed: parts no longer stocked leave it. */
    async syncInventory() {
      const items = await ask('Inventory', (supplier) => supplier.syncInventory());
      const { trx, tenantId } = tenantScope();
      const syncedAt = new Date();
      if (items.length) {
        await trx('partsInventory')
          .insert(items.map((item) => ({ tenantId, supplier: 'capricorn', ...item, syncedAt })))
          .onConflict(['tenantId', 'supplier', 'partNumber'])
          .merge(['description', 'brand', 'quantity', 'priceCents', 'currency', 'syncedAt']);
      }
      await trx('partsInventory').where({ supplier: 'capricorn' }).where('syncedAt', '<', syncedAt).delete();
      recordEvent({ type: 'parts_inventory.synced', supplier: 'capricorn', parts: items.length });
      return { parts: items.length, syncedAt };
    },

    /** Queues a sync now (at most one waiting per tenant). */
    async requestInventorySync() {
      await adapter();
      await enqueueJob(SYNC_INVENTORY_JOB, {}, { jobKey: 'parts-inventory-sync' });
      return { queued: true };
    },

    async listInventory(page: Page) {
      const { rows, pagination } = await pageByCreation(PartsInventoryItem.query(), page);
      return { rows: rows.map(presentInventoryItem), pagination };
    },
  };
}
