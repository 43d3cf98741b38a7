import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { publishPrincipalChange } from '../auth/principal-revocation';
import { cancelSubscriptionBeforePurge } from '../billing/purge-cancellation';

export const ORGANIZATION_PURGE_TASK = 'organization.purge';
/** One purge job per tenant: a new deletion request replaces the queued one (app_enqueue_job prefixes the tenant). */
export const PURGE_JOB_KEY = 'organization-purge';

/**
 * Erases an organization whose deletion is due, through app_purge_due_tenant() on the jobs role (the
 * runtime role may not delete tenants; no process holds the owner's credentials). The function re-reads
 * the tenant row first, so a cancelled (or postponed) deletion makes the queued job a no-op; deleting the
 * tenants row cascades to every tenant table (their tenant_id foreign keys are ON DELETE CASCADE, and the
 * audit log's trigger lets its rows go once the tenant row is gone); in the same transaction it checks
 * that no tenant table kept a row and leaves a tombstone (tenant id and time, nothing else) in the
 * platform audit log (migrations/20261202000100_least_privilege.js). A paying organization's Stripe
 * subscription is cancelled first (a Stripe outage makes the job retry).
 */
export const organizationPurgeJob = defineJob({
  name: ORGANIZATION_PURGE_TASK,
  payload: tenantPayload({}),
  maxAttempts: 5,
  async run({ tenantId }, deps, job) {
    await cancelSubscriptionBeforePurge(deps, tenantId);
    const { rows } = await deps.jobsKnex.raw<{ rows: Array<{ purged: boolean }> }>('select app_purge_due_tenant(?) as purged', [tenantId]);
    const purged = rows[0]!.purged;
    if (purged) await publishPrincipalChange(deps.knex, { tenantId });
    job.logger.info(purged ? 'organization purged' : 'organization purge no longer due: nothing to do', { tenantId });
  },
});
