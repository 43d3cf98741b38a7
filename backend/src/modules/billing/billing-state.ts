import { tenantScope } from '../../infra/tenant-scope';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { recordEvent } from '../events/event-context';
import { BillingStatus } from '../tenants/tenant.model';
import { SubscriptionSnapshot } from './stripe-gateway';

/** The tenant's billing columns, as the service reads and writes them. */
export interface BillingRow {
  name: string;
  plan: string;
  billingStatus: BillingStatus;
  trialEndsAt: Date | null;
  trialRemindedAt: Date | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  paymentMethodBrand: string | null;
  paymentMethodLast4: string | null;
  stripeCustomerId: string | null;
  stripeSubscriptionId: string | null;
}

const BILLING_COLUMNS = [
  'name',
  'plan',
  'billingStatus',
  'trialEndsAt',
  'trialRemindedAt',
  'currentPeriodEnd',
  'cancelAtPeriodEnd',
  'paymentMethodBrand',
  'paymentMethodLast4',
  'stripeCustomerId',
  'stripeSubscriptionId',
];

/** The free plan: what a lapsed trial or an ended subscription falls back to. */
export const FREE_PLAN = 'free';

/** The current tenant's billing row; locked when the caller is about to change it. */
export async function billingRow(lock = false): Promise<BillingRow> {
  const { trx, tenantId } = tenantScope();
  const query = trx('tenants').where({ id: tenantId });
  if (lock) query.forUpdate();
  const row = await query.first<BillingRow | undefined>(BILLING_COLUMNS);
  if (!row) throw new Error('The tenant of the current scope is missing');
  return row;
}

/** GET /organization/billing's answer. */
export const presentBilling = (row: BillingRow) => ({
  plan: row.plan,
  status: row.billingStatus,
  trialEndsAt: row.trialEndsAt?.toISOString() ?? null,
  currentPeriodEnd: row.currentPeriodEnd?.toISOString() ?? null,
  cancelAtPeriodEnd: row.cancelAtPeriodEnd,
  paymentMethod: row.paymentMethodBrand && row.paymentMethodLast4 ? { brand: row.paymentMethodBrand, last4: row.paymentMethodLast4 } : null,
});

/**
 * Writes a change of the tenant's billing columns. When the plan or the status moves, it keeps the move
 * in billing_status_changes and records `billing.status_changed` (audit, e-mails) and tells every instance to reload the tenant's callers,
 * whose plan limits change with it.
 */
export async function changeBilling(current: BillingRow, patch: Partial<BillingRow>, cause: string): Promise<BillingRow> {
  const { trx, tenantId } = tenantScope();
  const { plan, billingStatus, ...rest } = patch;
  // The runtime role may not UPDATE plan or billing_status: these two go through the one function granted to it.
  if (plan !== undefined || billingStatus !== undefined) {
    await trx.raw('select app_set_tenant_billing_state(?, ?)', [plan ?? null, billingStatus ?? null]);
  }
  const next = Object.keys(rest).length
    ? ((await trx('tenants').where({ id: tenantId }).update(rest, BILLING_COLUMNS)) as BillingRow[])[0]!
    : await billingRow();
  if (next.plan !== current.plan || next.billingStatus !== current.billingStatus) {
    // The history revenue analytics reads (churn, trial conversion): the tenants row keeps only the present.
    await trx('billingStatusChanges').insert({
      tenantId,
      planBefore: current.plan,
      planAfter: next.plan,
      statusBefore: current.billingStatus,
      statusAfter: next.billingStatus,
      cause,
    });
    recordEvent({
      type: 'billing.status_changed',
      tenantId,
      before: { plan: current.plan, status: current.billingStatus },
      after: { plan: next.plan, status: next.billingStatus },
      cause,
    });
    announcePrincipalChange();
  }
  return next;
}

/** How Stripe's subscription statuses read here; `incomplete` (a first payment under way) and `paused` change nothing. */
function statusOf(snapshot: SubscriptionSnapshot): BillingStatus | undefined {
  switch (snapshot.status) {
    case 'trialing':
      return 'trialing';
    case 'active':
      return 'active';
    case 'past_due':
    case 'unpaid':
      return 'past_due';
    case 'canceled':
    case 'incomplete_expired':
      return 'canceled';
    default:
      return undefined;
  }
}

/**
 * The tenant's billing follows its subscription as Stripe has it now. Past due keeps the paid plan while
 * Stripe retries the payment (dunning); a canceled subscription falls back to the free plan's limits.
 * A subscription the tenant no longer holds (replaced by a newer one) changes nothing.
 */
export async function followSubscription(snapshot: SubscriptionSnapshot, knownPlans: ReadonlySet<string>, cause: string): Promise<BillingRow> {
  const current = await billingRow(true);
  const status = statusOf(snapshot);
  const replaced = current.stripeSubscriptionId !== null && current.stripeSubscriptionId !== snapshot.id && status === 'canceled';
  if (!status || replaced) return current;
  const plan = status === 'canceled' ? FREE_PLAN : snapshot.plan && knownPlans.has(snapshot.plan) ? snapshot.plan : current.plan;
  return changeBilling(
    current,
    {
      plan,
      billingStatus: status,
      trialEndsAt: status === 'trialing' ? snapshot.trialEnd : null,
      currentPeriodEnd: status === 'canceled' ? null : snapshot.currentPeriodEnd,
      cancelAtPeriodEnd: status === 'canceled' ? false : snapshot.cancelAtPeriodEnd,
      // An ended subscription has no card that pays for it.
      paymentMethodBrand: status === 'canceled' ? null : (snapshot.paymentMethod?.brand ?? current.paymentMethodBrand),
      paymentMethodLast4: status === 'canceled' ? null : (snapshot.paymentMethod?.last4 ?? current.paymentMethodLast4),
      stripeSubscriptionId: snapshot.id,
    },
    cause,
  );
}
