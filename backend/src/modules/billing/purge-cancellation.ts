import { JobDeps } from '../../jobs/job-definition';
import { stripeGatewayOf } from './stripe-gateway';

/**
 * Deleting an organization ends its subscription: before a due purge erases the tenant, its live Stripe
 * subscription is cancelled. A Stripe outage throws, so the purge job retries later rather than erase a
 * tenant that would go on being charged. Read as the owner, like the purge itself.
 */
export async function cancelSubscriptionBeforePurge(deps: JobDeps, tenantId: string): Promise<void> {
  const stripe = stripeGatewayOf(deps.config);
  if (!stripe) return;
  const row = await deps.ownerKnex('tenants')
    .where({ id: tenantId })
    .whereNotNull('deletion_scheduled_for')
    .where('deletion_scheduled_for', '<=', deps.ownerKnex.fn.now())
    .whereNotNull('stripe_subscription_id')
    .whereNot('billing_status', 'canceled')
    .first<{ stripe_subscription_id: string } | undefined>('stripe_subscription_id');
  if (row) await stripe.cancelSubscription(row.stripe_subscription_id);
}
