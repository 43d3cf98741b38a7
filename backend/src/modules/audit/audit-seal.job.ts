import { Knex } from 'knex';
import { defineJob, JobDeps, schedulePayload } from '../../jobs/job-definition';
import { Logger } from '../../infra/logger';
import { sealTenantAudit, tenantsWithPendingAudit } from './audit-sealer';

export const AUDIT_SEAL_JOB = 'audit.seal';

/** How long after one sweep the next one is due; the engine's poll (2 s) adds up to its interval. */
const RESWEEP_SECONDS = 1;

/**
 * Seals every tenant's pending audit entries, then schedules itself again a second later: crontab's
 * minute is far too coarse for this, so an engine starting and the crontab entry only (re)start the
 * loop, and the job key keeps one sweep queued at a time however many instances run jobs. A tenant another sealer is busy
 * with is skipped (it is being sealed); a tenant that fails is logged and left for the next sweep, where
 * `/health` and the audit_pending_* metrics show it if it keeps failing.
 */
export const auditSealJob = defineJob({
  name: AUDIT_SEAL_JOB,
  payload: schedulePayload,
  schedule: '* * * * *',
  queueAtStart: true,
  // The loop re-queues itself; a retried attempt would only run beside it.
  maxAttempts: 1,
  async run(_payload, deps, job) {
    try {
      await sweep(deps, job.logger);
    } finally {
      await scheduleNextSweep(deps.jobsKnex);
    }
  },
});

async function sweep(deps: JobDeps, logger: Logger): Promise<void> {
  let sealed = 0;
  for (const tenantId of await tenantsWithPendingAudit(deps.platformKnex)) {
    try {
      sealed += await sealTenantAudit(deps.jobsKnex, tenantId, { skipLocked: true });
    } catch (error) {
      logger.error('audit entries could not be sealed', { tenantId, error });
    }
  }
  if (sealed > 0) logger.debug('audit entries sealed', { entries: sealed });
}

/** preserve_run_at: a sweep already queued (by the crontab) keeps its time; the running one is not touched. */
async function scheduleNextSweep(jobsKnex: Knex): Promise<void> {
  await jobsKnex.raw(
    `select graphile_worker.add_job(?, '{}'::json, run_at := now() + make_interval(secs => ?), job_key := ?, job_key_mode := 'preserve_run_at', max_attempts := 1)`,
    [AUDIT_SEAL_JOB, RESWEEP_SECONDS, AUDIT_SEAL_JOB],
  );
}
