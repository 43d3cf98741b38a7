import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { AppError } from '../../lib/errors';
import { recordEvent } from '../events/event-context';
import { actorId, TenantPrincipal } from '../auth/principal';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { ORGANIZATION_PURGE_TASK, PURGE_JOB_KEY } from './organization-purge.job';

export interface DeletionStatus {
  status: 'active' | 'pending_deletion';
  requestedAt: string | null;
  requestedBy: string | null;
  purgeAt: string | null;
}

interface DeletionColumns {
  name: string;
  deletionRequestedAt: Date | null;
  deletionRequestedBy: string | null;
  deletionScheduledFor: Date | null;
}

const present = (row: DeletionColumns): DeletionStatus => ({
  status: row.deletionScheduledFor ? 'pending_deletion' : 'active',
  requestedAt: row.deletionRequestedAt?.toISOString() ?? null,
  requestedBy: row.deletionRequestedBy,
  purgeAt: row.deletionScheduledFor?.toISOString() ?? null,
});

/** The tenant row, locked when it is about to change, so two requests cannot both schedule or cancel. */
async function tenantRow(lock: boolean): Promise<DeletionColumns> {
  const { tenantId, trx } = tenantScope();
  const query = trx('tenants').where({ id: tenantId });
  if (lock) query.forUpdate();
  const row = await query.first<DeletionColumns | undefined>('name', 'deletionRequestedAt', 'deletionRequestedBy', 'deletionScheduledFor');
  if (!row) throw new Error('The caller’s organization is missing');
  return row;
}

export async function deletionStatus(): Promise<DeletionStatus> {
  return present(await tenantRow(false));
}

/**
 * Schedules the purge after the grace period: the tenant row says so (which the request chain reads to
 * refuse writes) and the purge job is enqueued for that moment in the same transaction, under a job key
 * of this tenant, so a later request replaces it rather than adding a second one.
 */
export async function requestDeletion(principal: TenantPrincipal, confirm: string, graceDays: number): Promise<DeletionStatus> {
  const tenant = await tenantRow(true);
  if (confirm !== tenant.name) {
    throw new AppError('VALIDATION_ERROR', 'The request is invalid', [{ field: 'confirm', message: "must be the organization's exact name" }]);
  }
  return scheduleDeletion(actorId(principal), graceDays);
}

/**
 * The schedule itself, for the tenant of the current scope: asked by its admin (requestDeletion) or by
 * platform staff (DELETE /admin/tenants/:id), who is then `requestedBy`. Asking again moves the date.
 */
export async function scheduleDeletion(requestedBy: string, graceDays: number): Promise<DeletionStatus> {
  const { tenantId, trx } = tenantScope();
  await tenantRow(true);
  const [updated] = await trx('tenants')
    .where({ id: tenantId })
    .update(
      {
        deletionRequestedAt: trx.fn.now(),
        deletionRequestedBy: requestedBy,
        deletionScheduledFor: trx.raw('now() + make_interval(days => ?)', [graceDays]),
      },
      ['name', 'deletionRequestedAt', 'deletionRequestedBy', 'deletionScheduledFor'],
    );
  const status = present(updated as DeletionColumns);
  // Writes stop for every caller of the tenant, on every instance.
  announcePrincipalChange();
  await enqueueJob(ORGANIZATION_PURGE_TASK, {}, { runAt: new Date(status.purgeAt!), jobKey: PURGE_JOB_KEY, maxAttempts: 5 });
  recordEvent({ type: 'organization.deletion_requested', tenantId, purgeAt: status.purgeAt });
  return status;
}

/** Cancels a pending deletion. The purge job stays queued but finds nothing to do (it re-reads the tenant row). */
export async function cancelDeletion(): Promise<DeletionStatus> {
  const { tenantId, trx } = tenantScope();
  const tenant = await tenantRow(true);
  if (!tenant.deletionScheduledFor) {
    throw new AppError('CONFLICT', 'This organization is not scheduled for deletion', [{ field: 'status', message: 'is active' }]);
  }
  const [updated] = await trx('tenants')
    .where({ id: tenantId })
    .update({ deletionRequestedAt: null, deletionRequestedBy: null, deletionScheduledFor: null }, ['name', 'deletionRequestedAt', 'deletionRequestedBy', 'deletionScheduledFor']);
  announcePrincipalChange();
  recordEvent({ type: 'organization.deletion_cancelled', tenantId, purgeAt: tenant.deletionScheduledFor.toISOString() });
  return present(updated as DeletionColumns);
}
