import { tenantScope } from '../infra/tenant-scope';
import { AppError } from '../lib/errors';

/** Seconds a refused caller is told to wait: as for the per-instance slots, an import's end is not known in advance. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Stage 14 of a bulk route (an import): its transaction first holds one of the tenant's `limit` import
 * slots across every API instance. A slot is a transaction-level advisory lock on (tenant, slot number),
 * taken without waiting (pg_try_advisory_xact_lock), so it is freed by the commit or rollback, or by
 * PostgreSQL when the connection of a crashed instance goes: nothing to clean up, no lease to expire.
 * The per-instance slots (TenantSlots) still bound the uploads, which hold no connection; this caps the
 * part that works the database. None free: 429, never a queue.
 */
export async function takeBulkSlot(limit: number): Promise<void> {
  const { trx, tenantId } = tenantScope();
  for (let slot = 0; slot < limit; slot += 1) {
    // The two-key form: a lock space of its own, apart from the one-key locks other features take.
    const { rows } = await trx.raw<{ rows: Array<{ taken: boolean }> }>('select pg_try_advisory_xact_lock(hashtext(?), ?) as taken', [`bulk-import:${tenantId}`, slot]);
    if (rows[0]!.taken) return;
  }
  throw new AppError(
    'RATE_LIMITED',
    `At most ${limit} imports of an organization at a time across all instances: retry when one has finished`,
    undefined,
    { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  );
}
