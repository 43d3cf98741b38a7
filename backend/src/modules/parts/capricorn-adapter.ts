import { OutboundCalls } from '../../infra/outbound/outbound-call';
import {
  Invoice,
  InventoryItem,
  Part,
  PartDetails,
  PartLine,
  PartSearch,
  Quote,
  Stock,
  SupplierAdapter,
  SupplierOrder,
  SupplierRefusal,
  Tracking,
} from './supplier-adapter';

export interface CapricornCredentials {
  apiKey: string;
  customerId: string;
  baseUrl: string;
}

/** Pages of the inventory feed: a bound, so a feed that never ends cannot hold a job forever. */
const MAX_INVENTORY_PAGES = 200;
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

/** The supplier is down, or answered with something that is not its protocol: an outage, worth a retry. */
export class SupplierOutage extends Error {
  constructor(
    readonly status: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'SupplierOutage';
  }
}

export const isSupplierOutage = (error: unknown): boolean => !(error instanceof SupplierRefusal);

/**
 * Capricorn's EDI as JSON over HTTPS (docs/SUPPLIER-PROTOCOL.md), through Node's built-in fetch (undici):
 * `Authorization: Bearer <apiKey>` and `X-Customer-Id` on every request, answers `{...}` or
 * `{error: {code, message}}`. Every call goes through the outbound policy under the destination
 * `supplier:<host>`: reads and order creation (which carries its client reference as the idempotency key)
 * are retried; cancelling is not.
 */
export class CapricornAdapter implements SupplierAdapter {
  readonly supplier = 'capricorn';
  private readonly base: URL;

  constructor(
    private readonly credentials: CapricornCredentials,
    private readonly outbound: OutboundCalls,
    private readonly timeoutMs: number,
  ) {
    this.base = new URL(credentials.baseUrl.endsWith('/') ? credentials.baseUrl : `${credentials.baseUrl}/`);
  }

  async validateCredentials() {
    const answer = await this.send<{ customerId: string; name: string }>('GET', 'v1/account');
    return { customerId: answer.customerId, name: answer.name };
  }

  async searchParts(search: PartSearch): Promise<Part[]> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(search)) if (value !== undefined) query.set(key, String(value));
    return (await this.send<{ parts: Part[] }>('GET', `v1/parts?${query}`)).parts;
  }

  async getProductDetails(partNumber: string): Promise<PartDetails> {
    return (await this.send<{ part: PartDetails }>('GET', `v1/parts/${encodeURIComponent(partNumber)}`)).part;
  }

  async getAvailableStock(partNumber: string): Promise<Stock> {
    return this.send<Stock>('GET', `v1/parts/${encodeURIComponent(partNumber)}/stock`);
  }

  async getPriceQuote(items: PartLine[]): Promise<Quote> {
    // A quote changes nothing at the supplier: repeating it is harmless.
    return this.send<Quote>('POST', 'v1/quotes', { items }, { idempotent: true });
  }

  async createOrder(clientReference: string, items: PartLine[]): Promise<SupplierOrder> {
    const answer = await this.send<{ order: SupplierOrder }>('POST', 'v1/orders', { clientReference, items }, { idempotent: true, idempotencyKey: clientReference });
    return answer.order;
  }

  async getOrderStatus(orderId: string): Promise<SupplierOrder> {
    return (await this.send<{ order: SupplierOrder }>('GET', `v1/orders/${encodeURIComponent(orderId)}`)).order;
  }

  async trackOrder(orderId: string): Promise<Tracking | null> {
    return (await this.send<{ tracking: Tracking | null }>('GET', `v1/orders/${encodeURIComponent(orderId)}/tracking`)).tracking;
  }

  async cancelOrder(orderId: string): Promise<SupplierOrder> {
    return (await this.send<{ order: SupplierOrder }>('POST', `v1/orders/${encodeURIComponent(orderId)}/cancel`, {}, { idempotent: false })).order;
  }

  async getOrderInvoice(orderId: string): Promise<Invoice> {
    return (await this.send<{ invoice: Invoice }>('GET', `v1/orders/${encodeURIComponent(orderId)}/invoice`)).invoice;
  }

  async syncInventory(): Promise<InventoryItem[]> {
    const items: InventoryItem[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_INVENTORY_PAGES; page += 1) {
      const answer: { items: InventoryItem[]; nextCursor: string | null } = await this.send('GET', `v1/inventory${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...answer.items);
      cursor = answer.nextCursor;
      if (!cursor) return items;
    }
    throw new SupplierOutage(null, `the inventory feed did not end within ${MAX_INVENTORY_PAGES} pages`);
  }

  private send<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: { idempotent?: boolean; idempotencyKey?: string } = {}): Promise<T> {
    const url = new URL(path, this.base);
    const call = { destination: `supplier:${this.base.host}`, timeoutMs: this.timeoutMs, idempotent: options.idempotent ?? method === 'GET', isOutage: isSupplierOutage };
    return this.outbound.call(call, async (signal) => {
      const response = await fetch(url, {
        method,
        signal,
        redirect: 'manual',
        headers: {
          authorization: `Bearer ${this.credentials.apiKey}`,
          'x-customer-id': this.credentials.customerId,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = response.body ? await readLimited(response.body as unknown as AsyncIterable<Uint8Array>) : '';
      const parsed = parseJson(text);
      const status = response.status;
      if (status >= 200 && status < 300 && parsed && typeof parsed === 'object') return parsed as T;
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      // The supplier's 5xx and 429 say it cannot answer now; its other 4xx refuse this request.
      if (status >= 400 && status < 500 && status !== 429) {
        throw new SupplierRefusal(status, error?.code ?? 'REFUSED', error?.message ?? `the supplier refused the request (${status})`);
      }
      throw new SupplierOutage(status, `the supplier answered ${status}`);
    });
  }
}

async function readLimited(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) throw new SupplierOutage(null, 'the supplier answer is too large');
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
