import { JobDeps } from '../../jobs/job-definition';
import { stripeGatewayOf } from './stripe-gateway';

/**
 * Deleting an organization ends its subscription: before a due purge erases the tenant, its live Stripe
 * subscription is cancelled. A Stripe outage throws, so the purge job retries later rather than erase a
 * tenant that would go on being charged. Read through the platform pool, which reads every tenant's billing columns.
 */
export async function cancelSubscriptionBeforePurge(deps: JobDeps, tenantId: string): Promise<void> {
  const stripe = stripeGatewayOf(deps.config);
  if (!stripe) return;
  const row = await deps.platformKnex('tenants')
    .where({ id: tenantId })
    .whereNotNull('deletionScheduledFor')
    .where('deletionScheduledFor', '<=', deps.platformKnex.fn.now())
    .whereNotNull('stripeSubscriptionId')
    .whereNot('billingStatus', 'canceled')
    .first<{ stripeSubscriptionId: string } | undefined>('stripeSubscriptionId');
  if (row) await stripe.cancelSubscription(row.stripeSubscriptionId);
}
