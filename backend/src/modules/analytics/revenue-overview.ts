import { Knex } from 'knex';

export interface OverviewWindow {
  from: Date;
  to: Date;
}

/** Billing states in which a subscription is still billed (past_due: Stripe is retrying the payment). */
export const BILLED_STATUSES: string[] = ['active', 'past_due'];

/**
 * GET /admin/analytics/overview: revenue as it stands (MRR and ARR from plan prices) and the flows of the
 * window [from, to): sign-ups, churned tenants, trials ended and converted. Every figure is one grouped
 * statement on the platform pool; flows read billing_status_changes, stocks read tenants.
 */
export async function revenueOverview(platformKnex: Knex, window: OverviewWindow) {
  const [plans, states, signUps, churned, trials] = await Promise.all([
    // MRR: the monthly price of every active tenant whose subscription is billed, per plan.
    platformKnex.raw(
      `select p.code as plan, p.monthly_price_cents, p.currency,
              count(t.id) filter (where t.status = 'active' and t.billing_status = any(?) and p.monthly_price_cents > 0) as paying
         from plans p left join tenants t on t.plan = p.code
        group by p.code, p.monthly_price_cents, p.currency
        order by p.monthly_price_cents, p.code`,
      [BILLED_STATUSES],
    ) as Promise<{ rows: Array<{ plan: string; monthly_price_cents: number; currency: string; paying: string }> }>,
    platformKnex.raw(
      `select plan, status, billing_status, count(*) as tenants from tenants group by plan, status, billing_status`,
    ) as Promise<{ rows: Array<{ plan: string; status: string; billing_status: string; tenants: string }> }>,
    platformKnex('tenants').where('createdAt', '>=', window.from).where('createdAt', '<', window.to).count({ n: '*' }).first<{ n: string }>(),
    // Churn: a billed subscription ended (canceled), or the organization asked to be deleted, in the window.
    platformKnex.raw(
      `select count(*) as n from (
         select tenant_id from billing_status_changes
          where created_at >= ? and created_at < ? and status_after = 'canceled' and status_before = any(?)
         union
         select id from tenants where deletion_requested_at >= ? and deletion_requested_at < ?) churned`,
      [window.from, window.to, BILLED_STATUSES, window.from, window.to],
    ) as Promise<{ rows: Array<{ n: string }> }>,
    // Trials that ended in the window, and how many of them ended in a paid subscription.
    platformKnex.raw(
      `select count(distinct tenant_id) as ended,
              count(distinct tenant_id) filter (where status_after = 'active') as converted
         from billing_status_changes
        where created_at >= ? and created_at < ? and status_before = 'trialing' and status_after <> 'trialing'`,
      [window.from, window.to],
    ) as Promise<{ rows: Array<{ ended: string; converted: string }> }>,
  ]);

  const byCurrency = new Map<string, { currency: string; mrrCents: number; arrCents: number; payingTenants: number }>();
  const byPlan = plans.rows.map((row) => {
    const paying = Number(row.paying);
    const mrrCents = paying * row.monthly_price_cents;
    const total = byCurrency.get(row.currency) ?? { currency: row.currency, mrrCents: 0, arrCents: 0, payingTenants: 0 };
    total.mrrCents += mrrCents;
    total.arrCents += mrrCents * 12;
    total.payingTenants += paying;
    byCurrency.set(row.currency, total);
    return { plan: row.plan, monthlyPriceCents: row.monthly_price_cents, currency: row.currency, payingTenants: paying, mrrCents };
  });

  const count = (key: (row: (typeof states.rows)[number]) => string) => {
    const counts: Record<string, number> = {};
    for (const row of states.rows) counts[key(row)] = (counts[key(row)] ?? 0) + Number(row.tenants);
    return counts;
  };
  const ended = Number(trials.rows[0]!.ended);
  const converted = Number(trials.rows[0]!.converted);
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    revenue: [...byCurrency.values()],
    plans: byPlan,
    tenants: {
      total: states.rows.reduce((sum, row) => sum + Number(row.tenants), 0),
      byPlan: count((row) => row.plan),
      byStatus: count((row) => row.status),
      byBillingStatus: count((row) => row.billing_status),
    },
    signUps: Number(signUps?.n ?? 0),
    churnedTenants: Number(churned.rows[0]!.n),
    trials: { ended, converted, conversionRate: ended ? Math.round((converted / ended) * 1000) / 1000 : null },
  };
}
