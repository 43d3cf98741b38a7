import { setLocal } from '../../infra/local-settings';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { publishPrincipalChange } from '../auth/principal-revocation';
import { cancelSubscriptionBeforePurge } from '../billing/purge-cancellation';
import { tenantTableNames } from './tenant-tables';

export const ORGANIZATION_PURGE_TASK = 'organization.purge';
/** One purge job per tenant: a new deletion request replaces the queued one (app_enqueue_job prefixes the tenant). */
export const PURGE_JOB_KEY = 'organization-purge';

/**
 * Erases an organization whose deletion is due. It re-reads the tenant row first, so a cancelled (or
 * postponed) deletion makes the queued job a no-op. Deleting the tenants row cascades to every tenant
 * table (their tenant_id foreign keys are ON DELETE CASCADE, and the audit log's trigger lets its rows
 * go once the tenant row is gone); the runtime role may not delete tenants, so this runs as the owner,
 * naming the tenant in every statement. In the same transaction it checks that no tenant table kept a
 * row and leaves a tombstone (tenant id and time, nothing else) in the platform audit log. A paying
 * organization's Stripe subscription is cancelled first (a Stripe outage makes the job retry).
 */
export const organizationPurgeJob = defineJob({
  name: ORGANIZATION_PURGE_TASK,
  payload: tenantPayload({}),
  maxAttempts: 5,
  async run({ tenantId }, deps, job) {
    await cancelSubscriptionBeforePurge(deps, tenantId);
    const purged = await deps.ownerKnex.transaction(async (trx) => {
      await setLocal(trx, 'app.tenant_id', tenantId);
      const due = await trx('tenants')
        .where({ id: tenantId })
        .whereNotNull('deletion_scheduled_for')
        .where('deletion_scheduled_for', '<=', trx.fn.now())
        .forUpdate()
        .first<{ id: string } | undefined>('id');
      if (!due) return false;
      await trx('tenants').where({ id: tenantId }).delete();
      for (const table of await tenantTableNames(trx)) {
        const left = await trx(table).where({ tenant_id: tenantId }).count<Array<{ count: string }>>('* as count');
        if (Number(left[0]?.count ?? 0) > 0) throw new Error(`Purge left rows of the tenant in ${table}`);
      }
      await trx('platform_audit_logs').insert({
        actor_type: 'system',
        action: 'tenant.purged',
        tenant_id: tenantId,
        target_type: 'tenant',
        target_id: tenantId,
      });
      return true;
    });
    if (purged) await publishPrincipalChange(deps.knex, { tenantId });
    job.logger.info(purged ? 'organization purged' : 'organization purge no longer due: nothing to do', { tenantId });
  },
});
