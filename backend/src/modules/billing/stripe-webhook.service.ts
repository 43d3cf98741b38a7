import { Knex } from 'knex';
import Stripe from 'stripe';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';
import { tenantScope } from '../../infra/tenant-scope';
import { recordEvent } from '../events/event-context';
import { followSubscription } from './billing-state';
import { requireStripe, SubscriptionSnapshot, subscriptionIdOf } from './stripe-gateway';
import { inSystemUnit } from './system-unit';

export interface WebhookDeps {
  knex: Knex;
  platformKnex: Knex;
  config: AppConfig;
  logger: Logger;
}

export interface WebhookOutcome {
  received: true;
  /** The event id was processed before: nothing changed. */
  duplicate: boolean;
}

const HANDLED = new Set([
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
]);

type EventObject = { id: string; customer?: string | { id: string } | null };

/** The subscription an event is about, whatever the object it carries. */
function subscriptionOf(event: Stripe.Event): string | null {
  const object = event.data.object as unknown;
  if (event.type === 'checkout.session.completed') return subscriptionIdOf((object as Stripe.Checkout.Session).subscription);
  if (event.type.startsWith('customer.subscription.')) return (object as Stripe.Subscription).id;
  const invoice = object as Stripe.Invoice;
  return subscriptionIdOf(invoice.parent?.subscription_details?.subscription ?? null);
}

/**
 * POST /billing/stripe/webhook. The signature is checked over the raw body (400 when it is missing,
 * forged or older than Stripe's 5-minute tolerance). The customer names the tenant (read through the
 * platform pool, the only one that sees every tenant). The subscription is then read from Stripe, outside
 * any transaction, since events come late and out of order and the object is the truth. In the tenant's
 * transaction the event id is recorded first: one already recorded is a replay, and changes nothing.
 * An unreachable Stripe answers 503, and Stripe delivers the event again later.
 */
export async function handleStripeWebhook(deps: WebhookDeps, rawBody: Buffer, signature: string | undefined, requestId: string): Promise<WebhookOutcome> {
  const stripe = requireStripe(deps.config);
  const event = stripe.verifyEvent(rawBody, signature);
  const log = { eventId: event.id, eventType: event.type };
  if (!HANDLED.has(event.type)) return { received: true, duplicate: false };
  const customerId = subscriptionIdOf((event.data.object as unknown as EventObject).customer ?? null);
  const tenant = customerId
    ? await deps.platformKnex('tenants').where({ stripeCustomerId: customerId }).first<{ id: string } | undefined>('id')
    : undefined;
  if (!tenant) {
    deps.logger.warn('stripe event for no known customer: ignored', log);
    return { received: true, duplicate: false };
  }
  const subscriptionId = subscriptionOf(event);
  const snapshot = subscriptionId ? await stripe.subscription(subscriptionId) : undefined;
  const outcome = await inSystemUnit(deps, tenant.id, requestId, async () => {
    if (!(await firstDelivery(event))) return { received: true as const, duplicate: true };
    await apply(event, snapshot && snapshot.customerId === customerId ? snapshot : undefined);
    return { received: true as const, duplicate: false };
  });
  deps.logger.info(outcome.duplicate ? 'stripe event replayed: nothing to do' : 'stripe event processed', { ...log, tenantId: tenant.id });
  return outcome;
}

/** Records the event id; false when the tenant has processed it before (a concurrent twin waits, then sees it). */
async function firstDelivery(event: Stripe.Event): Promise<boolean> {
  const { trx, tenantId } = tenantScope();
  const inserted = await trx('billingEvents')
    .insert({ tenantId, stripeEventId: event.id, type: event.type })
    .onConflict(['tenantId', 'stripeEventId'])
    .ignore()
    .returning('id');
  return inserted.length > 0;
}

async function apply(event: Stripe.Event, snapshot: SubscriptionSnapshot | undefined): Promise<void> {
  const { trx, tenantId } = tenantScope();
  if (event.type === 'invoice.payment_failed' || event.type === 'invoice.paid') {
    const invoice = event.data.object as unknown as Stripe.Invoice;
    if (event.type === 'invoice.payment_failed') {
      recordEvent({ type: 'billing.payment_failed', tenantId, invoiceId: invoice.id ?? '', amountDue: invoice.amount_due, currency: invoice.currency });
    } else if (invoice.amount_paid > 0) {
      recordEvent({
        type: 'billing.invoice_paid',
        tenantId,
        invoiceId: invoice.id ?? '',
        amountPaid: invoice.amount_paid,
        currency: invoice.currency,
        hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
      });
    }
  }
  if (!snapshot) return;
  const plans = new Set((await trx('plans').select<Array<{ code: string }>>('code')).map((plan) => plan.code));
  await followSubscription(snapshot, plans, event.type);
}
