import { tenantScope } from '../../infra/tenant-scope';

/**
 * Amount and probability-weighted amount per stage and per expected close month (and owner, on request),
 * of one pipeline's deals or all. A deal weighs by its own probability (its stage's when it entered it,
 * unless set), else by its stage's.
 */
export async function dealForecast(byOwner: boolean, pipelineId?: string) {
  const { trx } = tenantScope();
  const owner = byOwner ? ['ownerId'] : [];
  const stageProbability = `(select s.probability from pipeline_stages s where s.tenant_id = deals.tenant_id and s.pipeline_id = deals.pipeline_id and s.key = deals.stage)`;
  const weighted = trx.raw(`round(sum(amount * coalesce(probability, ${stageProbability}, 0) / 100.0), 2) as weighted_amount`);
  const base = () => {
    const deals = trx('deals').whereNull('deletedAt');
    return pipelineId ? deals.where({ pipelineId }) : deals;
  };
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

/** Deals per stage, closed ones included: how many and how much (of one pipeline's deals, or all). */
export async function dealPipeline(pipelineId?: string) {
  const { trx } = tenantScope();
  const stages = await trx('deals')
    .whereNull('deletedAt')
    .modify((deals) => (pipelineId ? deals.where({ pipelineId }) : deals))
    .select('stage', 'currency', trx.raw('count(*)::int as count'), trx.raw('sum(amount) as amount'))
    .groupBy('stage', 'currency')
    .orderBy(['stage', 'currency']);
  return { stages };
}
