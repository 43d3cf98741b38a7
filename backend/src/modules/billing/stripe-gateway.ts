import Stripe from 'stripe';
import { AppConfig } from '../../config/app-config';
import { AppError } from '../../lib/errors';
import { CircuitOpenError, OutboundCalls, outboundCallsOf, OutboundTimeoutError } from '../../infra/outbound/outbound-call';

/** The Stripe API version every call pins (stripe-node 23's own), and the one the test double speaks. */
export const STRIPE_API_VERSION = '2026-10-28.endive';

type StripeSettings = NonNullable<AppConfig['billing']['stripe']>;

/** What the subscription looks like to this service, whatever Stripe call or event it came from. */
export interface SubscriptionSnapshot {
  id: string;
  customerId: string;
  status: Stripe.Subscription.Status;
  plan: string | null;
  trialEnd: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  paymentMethod: { brand: string; last4: string } | null;
}

const OUTAGE_TYPES = new Set(['StripeConnectionError', 'StripeAPIError', 'StripeRateLimitError']);

/** Stripe could not answer (no connection, a timeout, its 5xx, its rate limit): a retry later may work. */
const isOutage = (error: unknown): boolean =>
  error instanceof Stripe.errors.StripeError && (OUTAGE_TYPES.has(error.type) || (error.statusCode ?? 0) >= 500);

const unreachable = (): AppError =>
  new AppError('SERVICE_UNAVAILABLE', 'Billing is unreachable right now (the payment provider did not answer); nothing was changed, try again in a minute', undefined, {
    'Retry-After': '30',
  });

const at = (seconds: number | null | undefined): Date | null => (seconds ? new Date(seconds * 1000) : null);
const idOf = (value: string | { id: string } | null): string | null => (value === null ? null : typeof value === 'string' ? value : value.id);

/**
 * Every call this service makes to Stripe, through the official client and the one outbound policy
 * (infra/outbound): a deadline (STRIPE_TIMEOUT_MS), the `stripe` circuit breaker, and retries with jittered
 * backoff only for calls a repeat cannot double (reads, and creates carrying an idempotency key of ours);
 * stripe-node's own retries are off so that there is one policy. An outage or an open breaker answers the
 * client 503 SERVICE_UNAVAILABLE saying billing is unreachable; any other Stripe refusal is a bug of ours (500).
 */
export class StripeGateway {
  readonly client: Stripe;

  constructor(
    readonly settings: StripeSettings,
    private readonly outbound: OutboundCalls,
  ) {
    const endpoint = settings.apiUrl ? new URL(settings.apiUrl) : undefined;
    this.client = new Stripe(settings.secretKey, {
      apiVersion: STRIPE_API_VERSION,
      timeout: settings.timeoutMs,
      maxNetworkRetries: 0,
      telemetry: false,
      ...(endpoint
        ? {
            host: endpoint.hostname,
            port: endpoint.port || (endpoint.protocol === 'https:' ? 443 : 80),
            protocol: endpoint.protocol === 'https:' ? ('https' as const) : ('http' as const),
          }
        : {}),
    });
  }

  private call<T>(work: () => Promise<T>, idempotent = true): Promise<T> {
    return this.outbound.call({ destination: 'stripe', timeoutMs: this.settings.timeoutMs, idempotent, isOutage }, work).catch((error: unknown) => {
      throw error instanceof CircuitOpenError || error instanceof OutboundTimeoutError || isOutage(error) ? unreachable() : error;
    });
  }

  /** The tenant's customer; the key makes a repeated create (a retry, two requests at once) return the same one. */
  async createCustomer(tenantId: string, name: string): Promise<string> {
    const customer = await this.call(() =>
      this.client.customers.create({ name, metadata: { tenantId } }, { idempotencyKey: `crm-customer-${tenantId}` }),
    );
    return customer.id;
  }

  async createCheckoutSession(input: {
    tenantId: string;
    customerId: string;
    plan: { code: string; name: string; monthlyPriceCents: number; currency: string };
    returnUrl: string;
  }): Promise<string> {
    const metadata = { tenantId: input.tenantId, plan: input.plan.code };
    const session = await this.call(() =>
      this.client.checkout.sessions.create({
        mode: 'subscription',
        customer: input.customerId,
        client_reference_id: input.tenantId,
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: input.plan.currency,
              unit_amount: input.plan.monthlyPriceCents,
              recurring: { interval: 'month' },
              product_data: { name: `CRM ${input.plan.name}`, metadata: { plan: input.plan.code } },
            },
          },
        ],
        metadata,
        subscription_data: { metadata },
        success_url: `${input.returnUrl}?checkout=success`,
        cancel_url: `${input.returnUrl}?checkout=cancelled`,
      }),
      false,
    );
    if (!session.url) throw new Error('Stripe returned a Checkout Session without a URL');
    return session.url;
  }

  async createPortalSession(customerId: string, returnUrl: string): Promise<string> {
    const session = await this.call(() => this.client.billingPortal.sessions.create({ customer: customerId, return_url: returnUrl }), false);
    return session.url;
  }

  /**
   * The subscription as Stripe has it now: events may arrive late or out of order, the object is the truth.
   * Its plan is its product's `metadata.plan` (products offered in the portal carry one too).
   */
  async subscription(id: string): Promise<SubscriptionSnapshot> {
    const subscription = await this.call(() =>
      this.client.subscriptions.retrieve(id, { expand: ['default_payment_method', 'items.data.price.product'] }),
    );
    return snapshotOf(subscription);
  }

  /** Ends the subscription now (the organization is being deleted); an already canceled one is fine. */
  async cancelSubscription(id: string): Promise<void> {
    try {
      await this.call(() => this.client.subscriptions.cancel(id, {}, { idempotencyKey: `crm-cancel-${id}` }));
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.statusCode === 404) return;
      throw error;
    }
  }

  /** The event, if the signature is Stripe's (this endpoint's secret) and recent (5 minutes); otherwise a 400. */
  verifyEvent(rawBody: Buffer, signature: string | undefined): Stripe.Event {
    try {
      return this.client.webhooks.constructEvent(rawBody, signature ?? '', this.settings.webhookSecret);
    } catch {
      throw new AppError('VALIDATION_ERROR', 'The webhook signature is missing, invalid or too old', [
        { field: 'Stripe-Signature', message: 'does not match the body under this endpoint’s signing secret within the tolerance' },
      ]);
    }
  }
}

function snapshotOf(subscription: Stripe.Subscription): SubscriptionSnapshot {
  const method = subscription.default_payment_method;
  const card = method && typeof method !== 'string' ? method.card : undefined;
  const item = subscription.items.data[0];
  const product = item?.price.product;
  // The product's plan follows a switch made in the customer portal; the subscription's own is what Checkout set.
  const productPlan = product && typeof product !== 'string' && !product.deleted ? product.metadata.plan : undefined;
  return {
    id: subscription.id,
    customerId: idOf(subscription.customer) ?? '',
    status: subscription.status,
    plan: productPlan ?? subscription.metadata.plan ?? null,
    trialEnd: at(subscription.trial_end),
    currentPeriodEnd: at(item?.current_period_end),
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
    paymentMethod: card ? { brand: card.brand, last4: card.last4 } : null,
  };
}

const gateways = new WeakMap<object, StripeGateway>();

/** One gateway (and so one breaker) per configuration, i.e. per process; undefined when Stripe is not configured. */
export function stripeGatewayOf(config: AppConfig): StripeGateway | undefined {
  const settings = config.billing.stripe;
  if (!settings) return undefined;
  let gateway = gateways.get(settings);
  if (!gateway) {
    gateway = new StripeGateway(settings, outboundCallsOf(config));
    gateways.set(settings, gateway);
  }
  return gateway;
}

/** The gateway, or 404 BILLING_DISABLED on a deployment without Stripe. */
export function requireStripe(config: AppConfig): StripeGateway {
  const gateway = stripeGatewayOf(config);
  if (!gateway) throw new AppError('BILLING_DISABLED', 'Billing with Stripe is not enabled on this deployment; platform staff assign plans');
  return gateway;
}

export const subscriptionIdOf = idOf;
