import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';

/**
 * Sessions (and their refresh tokens, by cascade) stay listed for SESSION_RETENTION_DAYS after they end,
 * so a user can still see a recently revoked sign-in; revoked access tokens matter only until they expire.
 */
export const sessionCleanupJob = defineJob({
  name: 'sessions.cleanup',
  payload: schedulePayload,
  schedule: '23 3 * * *',
  async run(_payload, deps, job) {
    const cutoff = new Date(Date.now() - deps.config.auth.sessionRetentionDays * 86_400_000);
    let sessions = 0;
    let revokedTokens = 0;
    await forEachTenant(deps, async (trx) => {
      sessions += await trx('sessions')
        .where((ended) => ended.where('expires_at', '<', cutoff).orWhere('revoked_at', '<', cutoff))
        .delete();
      revokedTokens += await trx('revoked_access_tokens').where('expires_at', '<=', trx.fn.now()).delete();
    });
    // Budgets of addresses nobody has tried for a day (known or not): none of them counts any more. On the
    // platform pool: the runtime role sees only the tenant scopes, not staff lockouts.
    const throttles = await deps.platformKnex('signInThrottles')
      .where('windowStartedAt', '<', deps.platformKnex.raw("now() - interval '1 day'"))
      .where((free) => free.whereNull('lockedUntil').orWhere('lockedUntil', '<', deps.platformKnex.fn.now()))
      .delete();
    job.logger.info('ended sessions cleaned up', { sessions, revokedTokens, throttles });
  },
});
