import { Knex } from 'knex';
import { AppError, notFound } from '../../lib/errors';
import { PlatformActor, recordPlatformAudit } from '../admin/platform-audit';
import { FeatureFlagsCache } from './feature-flags-cache';
import { readFlag, readFlags, writeFlag } from './feature-flags.repository';
import { FlagUpdate } from './feature-flags.schema';

/** Staff's side of the flags: read them, and replace one's state, audited in the platform audit log. */
export function createFeatureFlagsService(deps: { platformKnex: Knex; scope: string; flags: FeatureFlagsCache }) {
  const { platformKnex: knex, scope } = deps;

  /** Named plans and tenants must exist: a typo would otherwise silently target nobody. */
  async function assertTargetsExist(trx: Knex.Transaction, input: FlagUpdate): Promise<void> {
    if (input.plans) {
      const known = new Set((await trx('plans').whereIn('code', input.plans).pluck('code')) as string[]);
      const unknown = input.plans.filter((code) => !known.has(code));
      if (unknown.length > 0) throw new AppError('VALIDATION_ERROR', 'Unknown plan', [{ field: 'plans', message: `no plan ${unknown.join(', ')}` }]);
    }
    if (input.tenants.length > 0) {
      const known = new Set((await trx('tenants').whereIn('id', input.tenants).pluck('id')) as string[]);
      const unknown = input.tenants.filter((id) => !known.has(id));
      if (unknown.length > 0) throw new AppError('VALIDATION_ERROR', 'Unknown tenant', [{ field: 'tenants', message: `no tenant ${unknown.join(', ')}` }]);
    }
  }

  return {
    list: () => readFlags(knex, scope),

    async get(key: string) {
      const flag = await readFlag(knex, scope, key);
      if (!flag) throw notFound('Feature flag');
      return flag;
    },

    /** Creates or replaces the flag; this instance applies it at once, the others within their cache TTL. */
    async put(key: string, input: FlagUpdate, actor: PlatformActor) {
      const flag = await knex.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`feature_flags:${scope}:${key}`]);
        await assertTargetsExist(trx, input);
        const before = (await readFlag(trx, scope, key)) ?? null;
        await writeFlag(trx, scope, { key, ...input }, actor.principal.adminId);
        const after = (await readFlag(trx, scope, key))!;
        await recordPlatformAudit(trx, actor, [
          { action: 'feature_flag.update', targetType: 'feature_flag', details: { scope, key, before, after: { ...after, updatedAt: undefined } } },
        ]);
        return after;
      });
      await deps.flags.refresh();
      return flag;
    },
  };
}
