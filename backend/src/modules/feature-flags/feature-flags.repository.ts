import { Knex } from 'knex';
import { FeatureFlag } from './feature-flags';

interface FlagRow {
  key: string;
  enabled: boolean;
  tenantIds: string[];
  plans: string[] | null;
  percentage: number | null;
  updatedAt: Date;
}

const present = (row: FlagRow): FeatureFlag => ({
  key: row.key,
  enabled: row.enabled,
  tenants: row.tenantIds,
  plans: row.plans,
  percentage: row.percentage,
  updatedAt: row.updatedAt.toISOString(),
});

/** Every flag of this deployment (scope = REDIS_KEY_PREFIX, as platform_settings), by key. */
export async function readFlags(knex: Knex | Knex.Transaction, scope: string): Promise<FeatureFlag[]> {
  const rows = (await knex('featureFlags')
    .where({ scope })
    .orderBy('key')
    .select('key', 'enabled', 'tenantIds', 'plans', 'percentage', 'updatedAt')) as FlagRow[];
  return rows.map(present);
}

export async function readFlag(knex: Knex | Knex.Transaction, scope: string, key: string): Promise<FeatureFlag | undefined> {
  const row = (await knex('featureFlags')
    .where({ scope, key })
    .first('key', 'enabled', 'tenantIds', 'plans', 'percentage', 'updatedAt')) as FlagRow | undefined;
  return row ? present(row) : undefined;
}

/** The flag's whole state as given (a PUT replaces it). */
export async function writeFlag(
  trx: Knex.Transaction,
  scope: string,
  flag: Pick<FeatureFlag, 'key' | 'enabled' | 'tenants' | 'plans' | 'percentage'>,
  adminId: string,
): Promise<void> {
  const values = {
    enabled: flag.enabled,
    tenantIds: flag.tenants,
    plans: flag.plans,
    percentage: flag.percentage,
    updatedBy: adminId,
  };
  await trx('featureFlags')
    .insert({ scope, key: flag.key, ...values })
    .onConflict(['scope', 'key'])
    .merge({ ...values, updatedAt: trx.fn.now() });
}
