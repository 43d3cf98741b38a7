import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';

/** Hourly: exports past their expiry (DATA_EXPORT_TTL_DAYS after completion) are marked expired and their content deleted. */
export const dataExportExpiryJob = defineJob({
  name: 'organization.export_expiry',
  payload: schedulePayload,
  schedule: '11 * * * *',
  async run(_payload, deps, job) {
    let expired = 0;
    await forEachTenant(deps, async (trx, tenantId) => {
      const ids = await trx('dataExports')
        .where({ tenantId, status: 'completed' })
        .where('expiresAt', '<=', trx.fn.now())
        .update({ status: 'expired' })
        .returning<Array<{ id: string }>>('id');
      if (ids.length === 0) return;
      await trx('dataExportChunks').where({ tenantId }).whereIn('exportId', ids.map((row) => row.id)).delete();
      expired += ids.length;
    });
    job.logger.info('expired organization exports deleted', { expired });
  },
});
