import { AsyncLocalStorage } from 'node:async_hooks';
import { Knex } from 'knex';
import { BindingTransactionConfig, bindsTenantOnBegin } from './db';

/** The tenant a unit of work belongs to and the transaction its queries must run in. */
export interface TenantScope {
  tenantId: string;
  trx: Knex.Transaction;
  /** The pool the transaction came from: what serves this instance's requests. */
  knex: Knex;
  /** Work that must wait until the transaction has committed (and is dropped if it rolls back). */
  afterCommit: Array<() => Promise<void>>;
}

const storage = new AsyncLocalStorage<TenantScope>();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Runs fn in a transaction bound to one tenant. The binding is transaction-local (SET LOCAL), so it can
 * never outlive the unit of work on a pooled connection (safe behind pgbouncer too). On the app's pools it
 * travels with BEGIN in one round trip (infra/db.ts); on any other connection it is a statement of its own.
 * Hooks queued with `afterCommit` run once the commit has succeeded, in order.
 */
export async function withTenant<T>(knex: Knex, tenantId: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  if (!UUID.test(tenantId)) throw new Error('A tenant id must be a UUID');
  const afterCommit: TenantScope['afterCommit'] = [];
  const boundOnBegin = bindsTenantOnBegin(knex);
  const config: BindingTransactionConfig | undefined = boundOnBegin ? { bindTenant: tenantId } : undefined;
  const result = await knex.transaction(async (trx) => {
    if (!boundOnBegin) await trx.raw(`SET LOCAL app.tenant_id = '${tenantId.toLowerCase()}'`);
    return storage.run({ tenantId, trx, knex, afterCommit }, () => fn(trx));
  }, config);
  for (const hook of afterCommit) await hook();
  return result;
}

/** The current tenant scope; using tenant data outside one is a programming error, never a silent leak. */
export function tenantScope(): TenantScope {
  const scope = storage.getStore();
  if (!scope) throw new Error('Tenant data accessed outside a tenant scope (withTenant)');
  return scope;
}

/** Queues work for after the current scope's commit: what others may only learn once the change is real. */
export function afterCommit(hook: () => Promise<void>): void {
  tenantScope().afterCommit.push(hook);
}
