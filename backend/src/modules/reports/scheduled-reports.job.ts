import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { inSystemUnit } from '../billing/system-unit';
import { recordFailedRun, runScheduledReport } from './scheduled-report-run';

export const SCHEDULED_REPORTS_TASK = 'reports.scheduled';

/** The most reports one tick sends; the rest are still due at the next tick, a minute later. */
const BATCH = 200;

/**
 * Every minute: the saved reports whose next tick has come, found across tenants through the platform
 * role (saved_reports_next_run_idx), each then run in its tenant's own unit of work (row-level security,
 * audit entry by `system`). "Now" is the tick's own time (graphile-worker's `_cron.ts`), so a tick
 * enqueued late, or by a test with a time of its choosing, sends what was due at that tick.
 */
export const scheduledReportsJob = defineJob({
  name: SCHEDULED_REPORTS_TASK,
  payload: schedulePayload,
  schedule: '* * * * *',
  async run(payload, deps, job) {
    const tick = (payload as { _cron?: { ts?: string } })._cron?.ts;
    const now = tick ? new Date(tick) : new Date();
    const due = await deps.platformKnex('saved_reports')
      .where('nextRunAt', '<=', now)
      .orderBy('nextRunAt')
      .limit(BATCH)
      .select<Array<{ tenantId: string; id: string }>>('tenantId', 'id');
    let sent = 0;
    let failed = 0;
    for (const { tenantId, id } of due) {
      try {
        if (await inSystemUnit(deps, tenantId, null, () => runScheduledReport(deps.config, id, now))) sent += 1;
      } catch (error) {
        job.logger.warn('scheduled report failed', { tenantId, reportId: id, error });
        if (await inSystemUnit(deps, tenantId, null, () => recordFailedRun(id, now, error))) failed += 1;
      }
    }
    job.logger.info('scheduled reports swept', { due: due.length, sent, failed });
  },
});
