import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { billingRow, BillingRow, presentBilling } from './billing-state';
import { planPrice } from './plan-prices';
import { requireStripe, StripeGateway } from './stripe-gateway';

/** GET /organization/billing. */
export async function getBilling() {
  return presentBilling(await billingRow());
}

/**
 * The tenant's Stripe customer, created on first need. The row is locked first, so two requests at once
 * make one customer (Stripe's idempotency key on the create covers a retry after a lost answer).
 */
async function customerOf(stripe: StripeGateway): Promise<{ row: BillingRow; customerId: string }> {
  const { trx, tenantId } = tenantScope();
  const row = await billingRow(true);
  if (row.stripeCustomerId) return { row, customerId: row.stripeCustomerId };
  const customerId = await stripe.createCustomer(tenantId, row.name);
  await trx('tenants').where({ id: tenantId }).update({ stripeCustomerId: customerId });
  return { row, customerId };
}

/** Statuses in which the tenant already pays (or is being asked to): changes go through the portal. */
const SUBSCRIBED = new Set(['active', 'past_due']);

/** POST /organization/billing/checkout: a Checkout Session for a paid plan; the webhook applies the result. */
export async function startCheckout(config: AppConfig, planCode: string): Promise<{ url: string }> {
  const stripe = requireStripe(config);
  const plan = await planPrice(planCode);
  if (!plan || plan.monthlyPriceCents === 0) {
    throw new AppError('VALIDATION_ERROR', 'The request is invalid', [{ field: 'plan', message: '"plan" must be a paid plan' }]);
  }
  const { row, customerId } = await customerOf(stripe);
  if (row.stripeSubscriptionId && SUBSCRIBED.has(row.billingStatus)) {
    throw new AppError('CONFLICT', 'This organization already has a subscription: change or cancel it in the customer portal', [
      { field: 'status', message: `is ${row.billingStatus}` },
    ]);
  }
  const url = await stripe.createCheckoutSession({ tenantId: tenantScope().tenantId, customerId, plan, returnUrl: config.billing.returnUrl });
  return { url };
}

/** POST /organization/billing/portal: Stripe's customer portal (payment method, invoices, plan, cancel). */
export async function openPortal(config: AppConfig): Promise<{ url: string }> {
  const stripe = requireStripe(config);
  const { customerId } = await customerOf(stripe);
  return { url: await stripe.createPortalSession(customerId, config.billing.returnUrl) };
}
