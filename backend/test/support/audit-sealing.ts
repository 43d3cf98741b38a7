import { Knex } from 'knex';

/**
 * Runs fn while the tenant's audit chain head is locked, as a sealer stuck mid-batch would hold it:
 * the job's sweeps skip the tenant, so its entries stay pending until fn is done, however other test
 * files run the sealer meanwhile. Requests never take this lock, so they go on committing.
 */
export async function whileSealingStalls<T>(owner: Knex, tenantId: string, fn: () => Promise<T>): Promise<T> {
  return owner.transaction(async (trx) => {
    await trx.raw("select set_config('app.tenant_id', ?, true)", [tenantId]);
    await trx('audit_chain_heads').insert({ tenant_id: tenantId }).onConflict('tenant_id').ignore();
    await trx('audit_chain_heads').where({ tenant_id: tenantId }).forUpdate().first();
    return fn();
  });
}
