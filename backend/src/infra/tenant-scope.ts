import { AsyncLocalStorage } from 'node:async_hooks';
import { Knex } from 'knex';
import { setLocal } from './local-settings';

/** The tenant a unit of work belongs to and the transaction its queries must run in. */
export interface TenantScope {
  tenantId: string;
  trx: Knex.Transaction;
}

const storage = new AsyncLocalStorage<TenantScope>();

/**
 * Runs fn in a transaction bound to one tenant. set_config(..., true) is transaction-local, so the
 * setting can never outlive the unit of work on a pooled connection (safe behind pgbouncer too).
 */
export async function withTenant<T>(knex: Knex, tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return knex.transaction(async (trx) => {
    await setLocal(trx, 'app.tenant_id', tenantId);
    return storage.run({ tenantId, trx }, () => fn(trx));
  });
}

/** The current tenant scope; using tenant data outside one is a programming error, never a silent leak. */
export function tenantScope(): TenantScope {
  const scope = storage.getStore();
  if (!scope) throw new Error('Tenant data accessed outside a tenant scope (withTenant)');
  return scope;
}
