import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import type { Invoice, InventoryItem, PartDetails, PartLine, SupplierOrder, SupplierOrderStatus, Tracking } from './supplier-adapter';

/** The catalogue the simulator sells: a few common service parts with fitment and stock per branch. */
const CATALOGUE: Array<PartDetails & { branches: Array<{ branch: string; quantity: number }> }> = [
  { partNumber: 'RYCO-Z411', description: 'Oil filter', brand: 'Ryco', priceCents: 1895, currency: 'AUD', fitment: [{ make: 'Toyota', model: 'Corolla', yearFrom: 2007, yearTo: 2019 }], branches: [{ branch: 'Sydney', quantity: 40 }, { branch: 'Melbourne', quantity: 25 }] },
  { partNumber: 'BOSCH-0986AF', description: 'Air filter', brand: 'Bosch', priceCents: 3450, currency: 'AUD', fitment: [{ make: 'Toyota', model: 'Hilux', yearFrom: 2015, yearTo: 2023 }], branches: [{ branch: 'Sydney', quantity: 12 }] },
  { partNumber: 'BEN-DB1170', description: 'Front brake pads', brand: 'Bendix', priceCents: 8900, currency: 'AUD', fitment: [{ make: 'Ford', model: 'Ranger', yearFrom: 2011, yearTo: 2022 }], branches: [{ branch: 'Brisbane', quantity: 6 }] },
  { partNumber: 'NGK-BKR6E', description: 'Spark plug', brand: 'NGK', priceCents: 1250, currency: 'AUD', fitment: [{ make: 'Mazda', model: '3', yearFrom: 2004, yearTo: 2013 }], branches: [{ branch: 'Sydney', quantity: 200 }] },
  { partNumber: 'GATES-K060', description: 'Timing belt kit', brand: 'Gates', priceCents: 24900, currency: 'AUD', fitment: [{ make: 'Toyota', model: 'Corolla', yearFrom: 1998, yearTo: 2006 }], branches: [] },
];
const TAX_RATE = 0.1;
const INVENTORY_PAGE = 2;

interface SimulatedOrder extends SupplierOrder {
  customerId: string;
  lines: Array<PartLine & { unitPriceCents: number }>;
}

/** What a test (or a demo) can make the supplier do. */
export interface SimulatorFaults {
  /** Every request answers this status (an outage: 500, 503, 429) while set. */
  status: number | null;
  /** Every answer waits this long first (a slow supplier; past the deadline, a timeout). */
  delayMs: number;
  /** The next N order creations are placed but their answer is lost (a 502 instead). */
  loseOrderAnswers: number;
}

/**
 * A simulator of Capricorn's EDI as docs/SUPPLIER-PROTOCOL.md writes it down: the tests drive the real
 * adapter against it, and a deployment whose capricorn_edi integration has no `baseUrl` orders from it
 * (demo data). It is a simulator: nothing it answers is a real supplier's stock, price or order.
 * Accepted credentials: any `Bearer` key that is not `invalid`, with an `X-Customer-Id`.
 */
export class CapricornSimulator {
  readonly faults: SimulatorFaults = { status: null, delayMs: 0, loseOrderAnswers: 0 };
  /** Every request it received: method, path, and the headers that matter to the protocol. */
  readonly requests: Array<{ method: string; path: string; customerId: string | undefined; idempotencyKey: string | undefined }> = [];
  readonly orders = new Map<string, SimulatedOrder>();
  private readonly server = http.createServer((req, res) => void this.serve(req, res));
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.server.unref();
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The warehouse moves an order on (ships it, delivers it), as the real supplier does on its own. */
  advance(orderId: string, status: SupplierOrderStatus): void {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`No simulated order ${orderId}`);
    order.status = status;
    if (status === 'shipped' || status === 'delivered') order.tracking = trackingOf(order, status);
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const customerId = header(req, 'x-customer-id');
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, customerId, idempotencyKey: header(req, 'idempotency-key') });
    const body = await readBody(req);
    if (this.faults.delayMs) await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
    if (res.destroyed) return;
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const refuse = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    if (this.faults.status) return refuse(this.faults.status, 'UNAVAILABLE', 'The EDI gateway is unavailable');
    const auth = header(req, 'authorization');
    if (!auth?.startsWith('Bearer ') || auth === 'Bearer invalid' || !customerId) return refuse(401, 'UNAUTHORIZED', 'Unknown API key or customer');

    const path = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const route = `${req.method} /${path.map((part, index) => (index >= 2 ? ':' : part)).join('/')}`;
    const part = path[2] ? CATALOGUE.find((entry) => entry.partNumber === path[2]) : undefined;
    const order = path[2] ? this.orders.get(path[2]) : undefined;
    const mine = order && order.customerId === customerId ? order : undefined;
    switch (route) {
      case 'GET /v1/account':
        return send(200, { customerId, name: `Workshop ${customerId}` });
      case 'GET /v1/parts':
        return send(200, { parts: search(url.searchParams).map(partOf) });
      case 'GET /v1/parts/:':
        return part ? send(200, { part: { ...partOf(part), fitment: part.fitment } }) : refuse(404, 'PART_NOT_FOUND', 'No such part');
      case 'GET /v1/parts/:/:':
        if (!part || path[3] !== 'stock') return refuse(404, 'PART_NOT_FOUND', 'No such part');
        return send(200, { partNumber: part.partNumber, available: available(part), branches: part.branches });
      case 'POST /v1/quotes': {
        const lines = linesOf(body);
        if (!lines) return refuse(400, 'INVALID_ITEMS', 'items must name known parts with positive quantities');
        return send(200, { quoteId: `Q-${randomUUID().slice(0, 8)}`, lines: lines.map((line) => ({ ...line, available: available(find(line.partNumber)) })), totalCents: totalOf(lines), currency: 'AUD', validUntil: new Date(Date.now() + 86_400_000).toISOString() });
      }
      case 'POST /v1/orders':
        return this.placeOrder(customerId, body, send, refuse);
      case 'GET /v1/orders/:':
        return mine ? send(200, { order: present(mine) }) : refuse(404, 'ORDER_NOT_FOUND', 'No such order');
      case 'GET /v1/orders/:/:':
      case 'POST /v1/orders/:/:':
        if (!mine) return refuse(404, 'ORDER_NOT_FOUND', 'No such order');
        return this.orderAction(req.method!, path[3]!, mine, send, refuse);
      case 'GET /v1/inventory': {
        const start = Number(url.searchParams.get('cursor') ?? 0);
        const items: InventoryItem[] = CATALOGUE.slice(start, start + INVENTORY_PAGE).map((entry) => ({ ...partOf(entry), quantity: available(entry) }));
        return send(200, { items, nextCursor: start + INVENTORY_PAGE < CATALOGUE.length ? String(start + INVENTORY_PAGE) : null });
      }
      default:
        return refuse(404, 'NOT_FOUND', 'No such endpoint');
    }
  }

  private placeOrder(customerId: string, body: unknown, send: (status: number, payload: unknown) => void, refuse: (status: number, code: string, message: string) => void): void {
    const reference = (body as { clientReference?: unknown } | null)?.clientReference;
    const lines = linesOf(body);
    if (typeof reference !== 'string' || !reference || !lines) return refuse(400, 'INVALID_ORDER', 'clientReference and items naming known parts are required');
    const existing = [...this.orders.values()].find((entry) => entry.customerId === customerId && entry.clientReference === reference);
    if (existing) return send(200, { order: present(existing) });
    const backordered = lines.some((line) => line.quantity > available(find(line.partNumber)));
    const order: SimulatedOrder = {
      orderId: `CAP-${randomUUID().slice(0, 8).toUpperCase()}`,
      clientReference: reference,
      customerId,
      status: backordered ? 'backordered' : 'confirmed',
      totalCents: totalOf(lines),
      currency: 'AUD',
      tracking: null,
      lines,
    };
    this.orders.set(order.orderId, order);
    if (this.faults.loseOrderAnswers > 0) {
      this.faults.loseOrderAnswers -= 1;
      return refuse(502, 'GATEWAY_ERROR', 'The answer was lost on the way');
    }
    send(201, { order: present(order) });
  }

  private orderAction(method: string, action: string, order: SimulatedOrder, send: (status: number, payload: unknown) => void, refuse: (status: number, code: string, message: string) => void): void {
    if (method === 'GET' && action === 'tracking') return send(200, { tracking: order.tracking });
    if (method === 'POST' && action === 'cancel') {
      if (order.status === 'cancelled') return send(200, { order: present(order) });
      if (order.status === 'shipped' || order.status === 'delivered') return refuse(409, 'NOT_CANCELLABLE', `The order is already ${order.status}`);
      order.status = 'cancelled';
      return send(200, { order: present(order) });
    }
    if (method === 'GET' && action === 'invoice') {
      if (order.status !== 'shipped' && order.status !== 'delivered') return refuse(409, 'INVOICE_NOT_READY', 'An order is invoiced once it has shipped');
      return send(200, { invoice: invoiceOf(order) });
    }
    refuse(404, 'NOT_FOUND', 'No such endpoint');
  }
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (!chunks.length) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

const partOf = ({ partNumber, description, brand, priceCents, currency }: PartDetails) => ({ partNumber, description, brand, priceCents, currency });
const available = (part: (typeof CATALOGUE)[number] | undefined) => (part ? part.branches.reduce((sum, branch) => sum + branch.quantity, 0) : 0);
const find = (partNumber: string) => CATALOGUE.find((entry) => entry.partNumber === partNumber);

function search(params: URLSearchParams) {
  const q = params.get('q')?.toLowerCase();
  const make = params.get('make')?.toLowerCase();
  const model = params.get('model')?.toLowerCase();
  const year = params.get('year') ? Number(params.get('year')) : undefined;
  return CATALOGUE.filter(
    (part) =>
      (!q || `${part.partNumber} ${part.description} ${part.brand}`.toLowerCase().includes(q)) &&
      part.fitment.some(
        (fit) => (!make || fit.make.toLowerCase() === make) && (!model || fit.model.toLowerCase() === model) && (year === undefined || (year >= fit.yearFrom && year <= fit.yearTo)),
      ),
  );
}

function linesOf(body: unknown): Array<PartLine & { unitPriceCents: number }> | null {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length === 0) return null;
  const lines = items.map((item: { partNumber?: unknown; quantity?: unknown }) => {
    const part = typeof item?.partNumber === 'string' ? find(item.partNumber) : undefined;
    return part && Number.isInteger(item.quantity) && (item.quantity as number) > 0 ? { partNumber: part.partNumber, quantity: item.quantity as number, unitPriceCents: part.priceCents! } : null;
  });
  return lines.every(Boolean) ? (lines as Array<PartLine & { unitPriceCents: number }>) : null;
}

const totalOf = (lines: Array<{ quantity: number; unitPriceCents: number }>) => lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);

const present = ({ orderId, clientReference, status, totalCents, currency, tracking }: SimulatedOrder): SupplierOrder => ({ orderId, clientReference, status, totalCents, currency, tracking });

function trackingOf(order: SimulatedOrder, status: SupplierOrderStatus): Tracking {
  const events = [{ at: new Date().toISOString(), description: 'Picked up by the carrier' }];
  if (status === 'delivered') events.push({ at: new Date().toISOString(), description: 'Delivered' });
  return { carrier: 'StarTrack', trackingNumber: `ST${order.orderId.slice(4)}`, eta: status === 'delivered' ? null : new Date(Date.now() + 86_400_000).toISOString(), events };
}

function invoiceOf(order: SimulatedOrder): Invoice {
  const subtotalCents = totalOf(order.lines);
  const taxCents = Math.round(subtotalCents * TAX_RATE);
  return {
    invoiceNumber: `INV-${order.orderId.slice(4)}`,
    orderId: order.orderId,
    issuedAt: new Date().toISOString(),
    lines: order.lines.map((line) => ({ ...line, amountCents: line.quantity * line.unitPriceCents })),
    subtotalCents,
    taxCents,
    totalCents: subtotalCents + taxCents,
    currency: order.currency,
  };
}

let shared: Promise<CapricornSimulator> | undefined;

/** The process's one simulator, started on first use: where an integration without `baseUrl` orders (demo data). */
export function sharedSimulator(): Promise<CapricornSimulator> {
  shared ??= new CapricornSimulator().start();
  return shared;
}
