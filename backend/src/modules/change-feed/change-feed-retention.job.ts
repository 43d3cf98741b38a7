import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';
import { FEED_RETENTION_DAYS } from './change-feed.store';

/** The change feed keeps 30 days: older events go, hourly, per tenant (a cursor into them then answers 410). */
export const changeFeedRetentionJob = defineJob({
  name: 'change-feed.retention',
  payload: schedulePayload,
  schedule: '17 * * * *',
  async run(_payload, deps, job) {
    let pruned = 0;
    // Hourly, each run removes about an hour's worth of a tenant's events: one statement, on the (tenant_id, occurred_at) index.
    await forEachTenant(deps, async (trx) => {
      pruned += await trx('changeEvents').where('occurredAt', '<', trx.raw(`now() - interval '${FEED_RETENTION_DAYS} days'`)).delete();
    });
    job.logger.info('change feed pruned', { pruned });
  },
});
