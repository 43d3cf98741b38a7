import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';

/** Expired keys already count as absent on use; this keeps the table from growing without bound. */
export const idempotencyPurgeJob = defineJob({
  name: 'idempotency.purge',
  payload: schedulePayload,
  schedule: '17 * * * *',
  async run(_payload, deps, job) {
    let purged = 0;
    const tenants = await forEachTenant(deps, async (trx) => {
      purged += await trx('idempotency_keys').where('expires_at', '<=', trx.fn.now()).delete();
    });
    job.logger.info('expired idempotency keys purged', { purged, tenants });
  },
});
