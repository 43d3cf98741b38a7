import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { recordEvent } from '../events/event-context';
import { tenantScope } from '../../infra/tenant-scope';
import { billingRow, changeBilling, FREE_PLAN } from './billing-state';
import { inSystemUnit } from './system-unit';

/** How long before a trial ends its admins are told. */
const REMINDER_DAYS = 3;

/**
 * Every 10 minutes: trials that end within 3 days get their one reminder (marked on the tenant, so it
 * goes out once), and trials that have ended without a subscription become `trial_expired` on the free
 * plan's limits (the data stays; what exceeds them is read-only until the tenant subscribes). The due
 * tenants are found through the platform pool; each is then changed in its own tenant transaction,
 * re-reading its row under a lock, so a subscription that arrived meanwhile wins.
 */
export const trialSweepJob = defineJob({
  name: 'billing.trials',
  payload: schedulePayload,
  schedule: '*/10 * * * *',
  async run(_payload, deps, job) {
    const horizon = new Date(Date.now() + REMINDER_DAYS * 86_400_000);
    const due = await deps.platformKnex('tenants')
      .where({ billingStatus: 'trialing' })
      .where('trialEndsAt', '<=', horizon)
      .select<Array<{ id: string }>>('id');
    let expired = 0;
    let reminded = 0;
    for (const { id } of due) {
      const outcome = await inSystemUnit(deps, id, null, settleTrial);
      if (outcome === 'expired') expired += 1;
      if (outcome === 'reminded') reminded += 1;
    }
    job.logger.info('trials swept', { expired, reminded });
  },
});

async function settleTrial(): Promise<'expired' | 'reminded' | 'none'> {
  const { trx, tenantId } = tenantScope();
  const row = await billingRow(true);
  if (row.billingStatus !== 'trialing' || !row.trialEndsAt) return 'none';
  const now = new Date();
  if (row.trialEndsAt <= now) {
    await changeBilling(row, { billingStatus: 'trial_expired', plan: FREE_PLAN }, 'trial_expired');
    return 'expired';
  }
  if (row.trialRemindedAt) return 'none';
  await trx('tenants').where({ id: tenantId }).update({ trialRemindedAt: now });
  recordEvent({ type: 'billing.trial_ending', tenantId, endsAt: row.trialEndsAt.toISOString() });
  return 'reminded';
}
