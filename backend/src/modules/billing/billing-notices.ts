import { tenantScope } from '../../infra/tenant-scope';
import { defineSubscriber } from '../events/event-subscriber';
import { queueEmail, tenantAdmins } from '../notifications/notifications.service';

/** An amount in minor units as people read it: `49.00 USD`. */
export const formatAmount = (minorUnits: number, currency: string): string => `${(minorUnits / 100).toFixed(2)} ${currency.toUpperCase()}`;

/**
 * Billing's e-mails to the organization's active admins, one per event: a trial ending in 3 days or
 * ended, a payment failed (with where to open the customer portal), an invoice paid (amount and
 * Stripe's hosted invoice), a subscription cancelled. Each event is recorded once (a Stripe event id is
 * processed once, a trial reminder is marked sent), so each e-mail goes out once. The portal link is
 * the app's billing page, which opens a fresh portal session: Stripe's own session links expire within
 * minutes and must not travel by e-mail.
 */
export const billingNotices = defineSubscriber({
  name: 'billing e-mails',
  types: ['billing.status_changed', 'billing.trial_ending', 'billing.payment_failed', 'billing.invoice_paid'],
  async handle(events, { config }) {
    const admins = await tenantAdmins();
    const organization = admins[0]?.organization ?? (await organizationName());
    const billingUrl = config.billing.returnUrl;
    for (const event of events) {
      for (const admin of admins) {
        const to = { email: admin.email, userId: admin.id };
        if (event.type === 'billing.trial_ending') await queueEmail(config, 'trial_expiring', to, { organization, endsAt: event.endsAt });
        else if (event.type === 'billing.payment_failed') {
          await queueEmail(config, 'payment_failed', to, { organization, amount: formatAmount(event.amountDue, event.currency), billingUrl });
        } else if (event.type === 'billing.invoice_paid') {
          await queueEmail(config, 'invoice_paid', to, { organization, amount: formatAmount(event.amountPaid, event.currency), invoiceUrl: event.hostedInvoiceUrl });
        } else if (event.after.status === 'trial_expired') await queueEmail(config, 'trial_expired', to, { organization, billingUrl });
        else if (event.after.status === 'canceled' && event.before.status !== 'canceled') {
          await queueEmail(config, 'subscription_cancelled', to, { organization, billingUrl });
        }
      }
    }
  },
});

async function organizationName(): Promise<string> {
  const { trx, tenantId } = tenantScope();
  const row = await trx('tenants').where({ id: tenantId }).first<{ name: string }>('name');
  return row?.name ?? '';
}
