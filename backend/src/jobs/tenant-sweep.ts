import { Knex } from 'knex';
import { withTenant } from '../infra/tenant-scope';
import { JobDeps } from './job-definition';

/** Every tenant's id, read through the platform role (the runtime role sees one tenant at a time). */
export async function tenantIds(platformKnex: Knex): Promise<string[]> {
  const rows = await platformKnex('tenants').select<Array<{ id: string }>>('id').orderBy('id');
  return rows.map((row) => row.id);
}

/**
 * Runs fn once per tenant, each in its own tenant transaction on the runtime pool: maintenance across
 * the platform goes through the same row-level security as requests, one tenant at a time.
 */
export async function forEachTenant(deps: JobDeps, fn: (trx: Knex.Transaction, tenantId: string) => Promise<void>): Promise<number> {
  const ids = await tenantIds(deps.platformKnex);
  for (const id of ids) await withTenant(deps.knex, id, (trx) => fn(trx, id));
  return ids.length;
}
