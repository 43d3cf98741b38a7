import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { tenantIds } from '../../jobs/tenant-sweep';
import { effectiveSettings } from '../runtime-settings/runtime-settings';
import { pruneTenantAudit } from './audit-retention';

/** Daily: each tenant's entries older than the retention period (runtime setting, else AUDIT_RETENTION_DAYS) are archived, then pruned. */
export const auditRetentionJob = defineJob({
  name: 'audit.retention',
  payload: schedulePayload,
  schedule: '41 2 * * *',
  async run(_payload, deps, job) {
    const { auditRetentionDays } = await effectiveSettings(deps.platformKnex, deps.config);
    const cutoff = new Date(Date.now() - auditRetentionDays * 86_400_000);
    let entries = 0;
    let archives = 0;
    for (const id of await tenantIds(deps.platformKnex)) {
      const pruned = await pruneTenantAudit(deps.jobsKnex, id, cutoff);
      entries += pruned.entries;
      archives += pruned.archives;
    }
    job.logger.info('audit retention applied', { cutoff: cutoff.toISOString(), archives, entries });
  },
});
