import { tenantScope } from '../../infra/tenant-scope';

/** Amount and probability-weighted amount per stage and per expected close month (and owner, on request). */
export async function dealForecast(byOwner: boolean) {
  const { trx } = tenantScope();
  const owner = byOwner ? ['ownerId'] : [];
  const weighted = trx.raw('round(sum(amount * coalesce(probability, 0) / 100.0), 2) as weighted_amount');
  const base = () => trx('deals').whereNull('deletedAt');
  const [byStage, byMonth] = await Promise.all([
    base()
      .select('stage', 'currency', ...owner, trx.raw('count(*)::int as count'), trx.raw('sum(amount) as amount'), weighted)
      .groupBy('stage', 'currency', ...owner)
      .orderBy(['stage', 'currency', ...owner]),
    base()
      .whereNotNull('expectedCloseDate')
      .whereNot('stage', 'closed_lost')
      .select(trx.raw(`to_char(expected_close_date, 'YYYY-MM') as month`), 'currency', ...owner, trx.raw('count(*)::int as count'), trx.raw('sum(amount) as amount'), weighted)
      .groupByRaw(['to_char(expected_close_date, \'YYYY-MM\')', 'currency', ...(byOwner ? ['owner_id'] : [])].join(', '))
      .orderBy(['month', 'currency', ...owner]),
  ]);
  return { byStage, byCloseMonth: byMonth };
}

/** Deals per stage, closed ones included: how many and how much. */
export async function dealPipeline() {
  const { trx } = tenantScope();
  const stages = await trx('deals')
    .whereNull('deletedAt')
    .select('stage', 'currency', trx.raw('count(*)::int as count'), trx.raw('sum(amount) as amount'))
    .groupBy('stage', 'currency')
    .orderBy(['stage', 'currency']);
  return { stages };
}
