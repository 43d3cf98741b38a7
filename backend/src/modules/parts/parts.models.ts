import { TenantModel } from '../../infra/tenant-model';
import type { PartLine, SupplierOrderStatus, Tracking } from './supplier-adapter';

/** One answer of the supplier about an order, kept for audit: which operation, when, and what it said. */
export interface SupplierAnswer {
  at: string;
  operation: string;
  answer: unknown;
}

/** A parts order placed with the supplier, with every answer the supplier gave about it. */
export class PartsOrder extends TenantModel {
  static override tableName = 'parts_orders';
  static override jsonAttributes = ['items', 'tracking', 'supplierAnswers'];

  supplier!: string;
  clientReference!: string;
  supplierOrderId!: string | null;
  status!: SupplierOrderStatus;
  items!: PartLine[];
  totalCents!: number | null;
  currency!: string | null;
  tracking!: Tracking | null;
  dealId!: string | null;
  ticketId!: string | null;
  accountId!: string | null;
  supplierAnswers!: SupplierAnswer[];
  statusChangedAt!: Date;
  polledAt!: Date | null;
  createdBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

/** A part of the supplier's stock as last synced. */
export class PartsInventoryItem extends TenantModel {
  static override tableName = 'parts_inventory';

  supplier!: string;
  partNumber!: string;
  description!: string;
  brand!: string | null;
  quantity!: number;
  priceCents!: number | null;
  currency!: string | null;
  syncedAt!: Date;
  createdAt!: Date;
}

export const presentOrder = (order: PartsOrder) => ({
  id: order.id,
  supplier: order.supplier,
  status: order.status,
  supplierOrderId: order.supplierOrderId,
  clientReference: order.clientReference,
  items: order.items,
  totalCents: order.totalCents,
  currency: order.currency,
  tracking: order.tracking,
  dealId: order.dealId,
  ticketId: order.ticketId,
  accountId: order.accountId,
  supplierAnswers: order.supplierAnswers,
  statusChangedAt: order.statusChangedAt,
  createdAt: order.createdAt,
  updatedAt: order.updatedAt,
});

export const presentInventoryItem = (item: PartsInventoryItem) => ({
  supplier: item.supplier,
  partNumber: item.partNumber,
  description: item.description,
  brand: item.brand,
  quantity: item.quantity,
  priceCents: item.priceCents,
  currency: item.currency,
  syncedAt: item.syncedAt,
});
