import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { STRIPE_API_VERSION } from '../../src/modules/billing/stripe-gateway';

/**
 * A test double of the parts of Stripe's REST API the service uses, following API version
 * STRIPE_API_VERSION (2026-10-28.endive): form-encoded requests with bracketed keys, `Bearer` secret
 * keys, `Idempotency-Key` replays, `expand[]`, and Stripe's error envelope. The service talks to it with
 * the real `stripe` client (its host/port/protocol options), so what is tested is the client's traffic.
 *
 * Endpoints: POST /v1/customers, POST /v1/checkout/sessions, POST /v1/billing_portal/sessions,
 * GET and DELETE /v1/subscriptions/:id. What Stripe does on its own (a customer paying at Checkout, a
 * renewal failing, a retry succeeding) the test does with `completeCheckout` and `updateSubscription`,
 * then sends the event Stripe would send, signed with the real scheme (`signedEvent`).
 */
export class StripeDouble {
  static readonly secretKey = 'sk_test_double_0123456789';
  static readonly webhookSecret = 'whsec_double_0123456789abcdef';

  readonly requests: Array<{ method: string; path: string; params: Record<string, unknown>; headers: http.IncomingHttpHeaders }> = [];
  readonly customers = new Map<string, Record<string, unknown>>();
  readonly sessions = new Map<string, Record<string, unknown>>();
  readonly subscriptions = new Map<string, Record<string, unknown>>();
  /** Each call answers this status (a Stripe outage) while set. */
  failWith: number | null = null;
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  private readonly server = http.createServer((req, res) => this.serve(req, res));
  private readonly client = new Stripe(StripeDouble.secretKey);
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The app's environment for this double. */
  env(): Record<string, string> {
    return {
      STRIPE_SECRET_KEY: StripeDouble.secretKey,
      STRIPE_WEBHOOK_SECRET: StripeDouble.webhookSecret,
      STRIPE_API_URL: `http://127.0.0.1:${this.port}`,
      STRIPE_TIMEOUT_MS: '2000',
    };
  }

  /** The customer pays at Checkout: Stripe creates the subscription (with the card) and completes the session. */
  completeCheckout(sessionId: string): { session: Record<string, unknown>; subscription: Record<string, unknown> } {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`No checkout session ${sessionId}`);
    const now = Math.floor(Date.now() / 1000);
    const id = newId('sub');
    const subscriptionData = (session.subscription_data ?? {}) as { metadata?: Record<string, string> };
    const subscription = {
      id,
      object: 'subscription',
      customer: session.customer,
      status: 'active',
      metadata: subscriptionData.metadata ?? {},
      cancel_at_period_end: false,
      trial_end: null,
      default_payment_method: {
        id: newId('pm'),
        object: 'payment_method',
        type: 'card',
        card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 },
      },
      items: { object: 'list', data: [{ id: newId('si'), object: 'subscription_item', price: priceOf(session), current_period_start: now, current_period_end: now + 30 * 86_400 }] },
      created: now,
    };
    this.subscriptions.set(id, subscription);
    Object.assign(session, { status: 'complete', payment_status: 'paid', subscription: id });
    return { session, subscription };
  }

  /** A plan switch made in the customer portal: the item's price moves to another product (whose metadata names the plan). */
  switchPlan(id: string, plan: string, unitAmount: number): Record<string, unknown> {
    const subscription = this.subscriptions.get(id)!;
    const items = subscription.items as { data: Array<Record<string, unknown>> };
    items.data[0]!.price = { id: newId('price'), object: 'price', currency: 'usd', unit_amount: unitAmount, product: { id: newId('prod'), object: 'product', name: `Portal ${plan}`, metadata: { plan } } };
    return subscription;
  }

  updateSubscription(id: string, patch: Record<string, unknown>): Record<string, unknown> {
    const subscription = this.subscriptions.get(id);
    if (!subscription) throw new Error(`No subscription ${id}`);
    return Object.assign(subscription, patch);
  }

  /** An invoice of the subscription, as Stripe shapes it in this API version (the subscription under `parent`). */
  invoice(subscriptionId: string, outcome: { paid: boolean; amount: number }): Record<string, unknown> {
    const subscription = this.subscriptions.get(subscriptionId)!;
    const id = newId('in');
    return {
      id,
      object: 'invoice',
      customer: subscription.customer,
      currency: 'usd',
      amount_due: outcome.amount,
      amount_paid: outcome.paid ? outcome.amount : 0,
      status: outcome.paid ? 'paid' : 'open',
      hosted_invoice_url: `https://invoice.stripe.test/i/${id}`,
      parent: { type: 'subscription_details', subscription_details: { subscription: subscriptionId, metadata: subscription.metadata } },
    };
  }

  /** An event as Stripe delivers it, and its Stripe-Signature header made with the library's test helper. */
  signedEvent(type: string, object: Record<string, unknown>, options: { id?: string; timestamp?: number; secret?: string } = {}) {
    const event = {
      id: options.id ?? newId('evt'),
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created: Math.floor(Date.now() / 1000),
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object },
    };
    const payload = JSON.stringify(event);
    const signature = this.client.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? StripeDouble.webhookSecret,
      ...(options.timestamp ? { timestamp: options.timestamp } : {}),
    });
    return { id: event.id, payload, signature };
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://double');
      const params = parseForm(req.method === 'GET' || req.method === 'DELETE' ? url.searchParams : new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      this.requests.push({ method: req.method ?? '', path: url.pathname, params, headers: req.headers });
      const reply = this.answer(req, url.pathname, params);
      res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Request-Id': newId('req') }).end(JSON.stringify(reply.body));
    });
  }

  private answer(req: http.IncomingMessage, path: string, params: Record<string, unknown>): { status: number; body: unknown } {
    if (this.failWith) return stripeError(this.failWith, 'api_error', 'The double is failing on purpose');
    if (req.headers.authorization !== `Bearer ${StripeDouble.secretKey}`) return stripeError(401, 'invalid_request_error', 'Invalid API Key provided');
    const key = req.headers['idempotency-key'];
    const replayKey = typeof key === 'string' && req.method === 'POST' ? `${path} ${key}` : undefined;
    const replay = replayKey ? this.idempotent.get(replayKey) : undefined;
    if (replay) return replay;
    const reply = this.route(req.method ?? '', path, params);
    if (replayKey && reply.status < 500) this.idempotent.set(replayKey, reply);
    return reply;
  }

  private route(method: string, path: string, params: Record<string, unknown>): { status: number; body: unknown } {
    if (method === 'POST' && path === '/v1/customers') {
      const customer = { id: newId('cus'), object: 'customer', name: params.name ?? null, metadata: params.metadata ?? {} };
      this.customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      if (!this.customers.has(String(params.customer))) return stripeError(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      const id = newId('cs_test');
      const session = { id, object: 'checkout.session', url: `https://checkout.stripe.test/c/pay/${id}`, status: 'open', subscription: null, ...params };
      this.sessions.set(id, session);
      return { status: 200, body: session };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!this.customers.has(String(params.customer))) return stripeError(400, 'invalid_request_error', `No such customer: '${String(params.customer)}'`);
      const id = newId('bps');
      return { status: 200, body: { id, object: 'billing_portal.session', customer: params.customer, return_url: params.return_url, url: `https://billing.stripe.test/p/session/${id}` } };
    }
    const subscription = /^\/v1\/subscriptions\/([^/]+)$/.exec(path);
    if (subscription) {
      const found = this.subscriptions.get(subscription[1]!);
      if (!found) return stripeError(404, 'invalid_request_error', `No such subscription: '${subscription[1]}'`);
      if (method === 'DELETE') Object.assign(found, { status: 'canceled', canceled_at: Math.floor(Date.now() / 1000) });
      return { status: 200, body: expanded(found, Object.values((params.expand ?? {}) as Record<string, string>)) };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path})`);
  }
}

/** The price Checkout made from the session's inline `price_data`, its product inline too. */
function priceOf(session: Record<string, unknown>): Record<string, unknown> {
  const lineItems = session.line_items as Record<string, { price_data: { currency: string; unit_amount: string; product_data: { name: string; metadata?: Record<string, string> } } }>;
  const data = lineItems['0']!.price_data;
  const product = { id: newId('prod'), object: 'product', name: data.product_data.name, metadata: data.product_data.metadata ?? {} };
  return { id: newId('price'), object: 'price', currency: data.currency, unit_amount: Number(data.unit_amount), product };
}

/** A subscription as GET answers it: expandable fields are ids unless `expand[]` names them. */
function expanded(subscription: Record<string, unknown>, expand: string[]): Record<string, unknown> {
  const method = subscription.default_payment_method as { id: string } | null;
  const items = subscription.items as { data: Array<{ price: { product: { id: string } } }> };
  return {
    ...subscription,
    default_payment_method: expand.includes('default_payment_method') ? method : (method?.id ?? null),
    items: {
      ...items,
      data: items.data.map((item) => ({
        ...item,
        price: { ...item.price, product: expand.includes('items.data.price.product') ? item.price.product : item.price.product.id },
      })),
    },
  };
}

const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

const stripeError = (status: number, type: string, message: string) => ({ status, body: { error: { type, message } } });

/** `a[b][0]=x` form keys into nested objects (arrays stay objects keyed by index, enough for what is read here). */
function parseForm(form: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of form) {
    const path = key.replace(/\]/g, '').split('[');
    let node = root;
    path.slice(0, -1).forEach((part) => {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    });
    node[path[path.length - 1]!] = value;
  }
  return root;
}
