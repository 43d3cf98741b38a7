/** A line of a quote or an order: which part, how many. */
export interface PartLine {
  partNumber: string;
  quantity: number;
}

export interface Part {
  partNumber: string;
  description: string;
  brand: string | null;
  priceCents: number | null;
  currency: string | null;
}

export interface PartDetails extends Part {
  /** Vehicles the part fits: `{make, model, yearFrom, yearTo}`. */
  fitment: Array<{ make: string; model: string; yearFrom: number; yearTo: number }>;
}

export interface Stock {
  partNumber: string;
  available: number;
  branches: Array<{ branch: string; quantity: number }>;
}

export interface Quote {
  quoteId: string;
  lines: Array<PartLine & { unitPriceCents: number; available: number }>;
  totalCents: number;
  currency: string;
  validUntil: string;
}

export const SUPPLIER_ORDER_STATUSES = ['submitted', 'confirmed', 'backordered', 'shipped', 'delivered', 'cancelled'] as const;
export type SupplierOrderStatus = (typeof SUPPLIER_ORDER_STATUSES)[number];
/** An order in one of these will not change again: polling stops. */
export const FINAL_STATUSES: readonly SupplierOrderStatus[] = ['delivered', 'cancelled'];

export interface Tracking {
  carrier: string;
  trackingNumber: string;
  eta: string | null;
  events: Array<{ at: string; description: string }>;
}

export interface SupplierOrder {
  orderId: string;
  clientReference: string;
  status: SupplierOrderStatus;
  totalCents: number;
  currency: string;
  tracking: Tracking | null;
}

export interface Invoice {
  invoiceNumber: string;
  orderId: string;
  issuedAt: string;
  lines: Array<PartLine & { unitPriceCents: number; amountCents: number }>;
  subtotalCents: number;
  taxCents: number;
  totalCents: number;
  currency: string;
}

export interface InventoryItem {
  partNumber: string;
  description: string;
  brand: string | null;
  quantity: number;
  priceCents: number | null;
  currency: string | null;
}

export interface PartSearch {
  q?: string;
  make?: string;
  model?: string;
  year?: number;
}

/**
 * The supplier refused the request itself (an unknown part, an order it will not cancel, refused
 * credentials): a retry would get the same answer, and the supplier is not down.
 */
export class SupplierRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SupplierRefusal';
  }
}

/**
 * What ordering needs of a supplier; Capricorn is the first adapter (capricorn-adapter.ts), another
 * supplier is another implementation of this. Every method is one call (syncInventory: one per page),
 * made through the outbound policy by the adapter; refusals are SupplierRefusal, anything else an outage.
 */
export interface SupplierAdapter {
  readonly supplier: string;
  validateCredentials(): Promise<{ customerId: string; name: string }>;
  searchParts(search: PartSearch): Promise<Part[]>;
  getProductDetails(partNumber: string): Promise<PartDetails>;
  getAvailableStock(partNumber: string): Promise<Stock>;
  getPriceQuote(items: PartLine[]): Promise<Quote>;
  /** Placed once per `clientReference`: the same reference again answers the order already placed. */
  createOrder(clientReference: string, items: PartLine[]): Promise<SupplierOrder>;
  getOrderStatus(orderId: string): Promise<SupplierOrder>;
  trackOrder(orderId: string): Promise<Tracking | null>;
  cancelOrder(orderId: string): Promise<SupplierOrder>;
  getOrderInvoice(orderId: string): Promise<Invoice>;
  /** The supplier's whole catalogue of stocked parts for this customer, page by page. */
  syncInventory(): Promise<InventoryItem[]>;
}
