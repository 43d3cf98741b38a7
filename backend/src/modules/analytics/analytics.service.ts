import { Knex } from 'knex';
import { notFound } from '../../lib/errors';
import { BILLED_STATUSES } from './revenue-overview';

interface RiskRow {
  tenantId: string;
  name: string;
  plan: string;
  lastWeek: string;
  previousWeek: string;
  activeUsers: string;
  deletionScheduledFor: Date | null;
  openTickets: string;
  billingStatus: string;
}

/** Points per reason: a tenant scheduled for deletion is the surest sign, an open ticket the mildest. */
const POINTS = { scheduled_deletion: 40, no_active_users: 30, usage_decline: 30, payment_failed: 30, open_support_ticket: 10 } as const;
/** Usage halved week over week counts as a decline. */
const DECLINE_RATIO = 0.5;

function reasonsOf(row: RiskRow) {
  const reasons: Array<{ code: string; points: number; detail: string; recommendedAction: string }> = [];
  const lastWeek = Number(row.lastWeek);
  const previousWeek = Number(row.previousWeek);
  if (row.deletionScheduledFor) {
    reasons.push({
      code: 'scheduled_deletion',
      points: POINTS.scheduled_deletion,
      detail: `Purge scheduled for ${row.deletionScheduledFor.toISOString()}`,
      recommendedAction: 'Call the account owner before the purge date; the deletion can still be cancelled',
    });
  }
  if (Number(row.activeUsers) === 0) {
    reasons.push({
      code: 'no_active_users',
      points: POINTS.no_active_users,
      detail: 'No user signed in within 30 days',
      recommendedAction: 'Send a re-engagement e-mail or offer onboarding help',
    });
  }
  if (previousWeek > 0 && lastWeek < previousWeek * DECLINE_RATIO) {
    reasons.push({
      code: 'usage_decline',
      points: POINTS.usage_decline,
      detail: `API calls fell from ${previousWeek} to ${lastWeek} week over week`,
      recommendedAction: 'Check for failing integrations, then ask the admin what changed',
    });
  }
  if (row.billingStatus === 'past_due') {
    reasons.push({
      code: 'payment_failed',
      points: POINTS.payment_failed,
      detail: 'The last payment failed; Stripe is retrying it',
      recommendedAction: 'Ask the billing contact to update the card (POST /organization/billing/portal)',
    });
  }
  const openTickets = Number(row.openTickets);
  if (openTickets > 0) {
    reasons.push({
      code: 'open_support_tickets',
      points: Math.min(2, openTickets) * POINTS.open_support_ticket,
      detail: `${openTickets} support ticket(s) not resolved`,
      recommendedAction: 'Resolve the open support tickets first',
    });
  }
  return reasons;
}

/**
 * Platform analytics (`analytics:read`), read on the platform pool with aggregates the database does
 * well: one grouped pass per source table (usage_daily, users, support_tickets), joined to tenants, so the
 * cost grows with the rows of the window, not with requests per tenant. Revenue: revenue-overview.ts.
 */
export function createAnalyticsService(platformKnex: Knex) {
  return {
    /** Every active tenant with a score 0-100 and the reasons behind it, riskiest first. */
    async churnRisk(query: { minScore: number; limit: number; offset: number }) {
      const { rows } = (await platformKnex.raw(
        `with usage as (
           select tenant_id,
                  sum(api_calls) filter (where day > current_date - 7) as last_week,
                  sum(api_calls) filter (where day <= current_date - 7) as previous_week
             from usage_daily where day > current_date - 14 group by tenant_id),
         logins as (
           select tenant_id, count(*) filter (where last_login_at > now() - interval '30 days') as active_users
             from users where deleted_at is null and status = 'active' group by tenant_id),
         tickets as (
           select tenant_id, count(*) as open_tickets
             from support_tickets where status not in ('resolved', 'closed') group by tenant_id)
         select t.id as tenant_id, t.name, t.plan, t.deletion_scheduled_for, t.billing_status,
                coalesce(u.last_week, 0) as last_week, coalesce(u.previous_week, 0) as previous_week,
                coalesce(l.active_users, 0) as active_users, coalesce(k.open_tickets, 0) as open_tickets
           from tenants t
           left join usage u on u.tenant_id = t.id
           left join logins l on l.tenant_id = t.id
           left join tickets k on k.tenant_id = t.id
          where t.status = 'active'
          order by t.created_at, t.id`,
      )) as { rows: Array<Record<string, unknown>> };
      const scored = rows
        .map((raw) => {
          const row = camel(raw) as unknown as RiskRow;
          const reasons = reasonsOf(row);
          return { tenantId: row.tenantId, name: row.name, plan: row.plan, score: Math.min(100, reasons.reduce((sum, r) => sum + r.points, 0)), reasons };
        })
        .filter((tenant) => tenant.score >= query.minScore)
        .sort((a, b) => b.score - a.score);
      return { data: scored.slice(query.offset, query.offset + query.limit), total: scored.length };
    },

    /** Tenants by sign-up month, and the share of each cohort with API calls 1..12 months later. */
    async cohorts(query: { months: number }) {
      const { rows } = (await platformKnex.raw(
        `with cohorts as (
           select id, date_trunc('month', created_at) as cohort from tenants
            where created_at >= date_trunc('month', now()) - make_interval(months => ? - 1)),
         active_months as (
           select distinct tenant_id, date_trunc('month', day) as month from usage_daily
            where api_calls > 0 and day >= (select coalesce(min(cohort), now())::date from cohorts))
         select to_char(c.cohort, 'YYYY-MM') as cohort, m.offset_months,
                count(distinct c.id) as tenants,
                count(distinct a.tenant_id) as retained,
                c.cohort + make_interval(months => m.offset_months) <= date_trunc('month', now()) as reached
           from cohorts c
           cross join generate_series(1, 12) as m(offset_months)
           left join active_months a on a.tenant_id = c.id and a.month = c.cohort + make_interval(months => m.offset_months)
          group by c.cohort, m.offset_months
          order by c.cohort, m.offset_months`,
        [query.months],
      )) as { rows: Array<{ cohort: string; offset_months: number; tenants: string; retained: string; reached: boolean }> };
      const byCohort = new Map<string, { cohort: string; tenants: number; retention: Array<number | null> }>();
      for (const row of rows) {
        const entry = byCohort.get(row.cohort) ?? { cohort: row.cohort, tenants: Number(row.tenants), retention: [] };
        entry.retention.push(row.reached ? round(Number(row.retained) / Number(row.tenants)) : null);
        byCohort.set(row.cohort, entry);
      }
      return [...byCohort.values()];
    },

    /** One tenant: plan and monthly API calls; its users' activity, roles and tenure. */
    async tenant(tenantId: string) {
      const tenant = await platformKnex('tenants as t')
        .join('plans as p', 'p.code', 't.plan')
        .where('t.id', tenantId)
        .first<{ plan: string; status: string; billingStatus: string; monthlyPriceCents: number; currency: string } | undefined>(
          't.plan',
          't.status',
          't.billingStatus',
          'p.monthlyPriceCents',
          'p.currency',
        );
      if (!tenant) throw notFound('Tenant');
      const months = (await platformKnex('usageDaily')
        .where({ tenantId })
        .where('day', '>=', platformKnex.raw("date_trunc('month', now()) - interval '11 months'"))
        .groupByRaw("date_trunc('month', day)")
        .orderByRaw("date_trunc('month', day)")
        .select(platformKnex.raw("to_char(date_trunc('month', day), 'YYYY-MM') as month"), platformKnex.raw('sum(api_calls)::bigint as api_calls'))) as Array<{
        month: string;
        apiCalls: string;
      }>;
      const users = (await platformKnex('users as u')
        .join('roles as r', (on) => on.on('r.id', 'u.roleId').andOn('r.tenantId', 'u.tenantId'))
        .where('u.tenantId', tenantId)
        .whereNull('u.deletedAt')
        .groupBy('r.key', 'r.name')
        .select(
          'r.key',
          'r.name',
          platformKnex.raw('count(*) as total'),
          platformKnex.raw("count(*) filter (where u.status = 'active' and u.last_login_at > now() - interval '30 days') as active"),
          platformKnex.raw('count(*) filter (where u.last_login_at is not null) as ever_signed_in'),
          platformKnex.raw('sum(extract(epoch from now() - u.created_at) / 86400) as tenure_days'),
        )) as Array<{ key: string | null; name: string; total: string; active: string; everSignedIn: string; tenureDays: string }>;
      const total = users.reduce((sum, row) => sum + Number(row.total), 0);
      const active = users.reduce((sum, row) => sum + Number(row.active), 0);
      const everSignedIn = users.reduce((sum, row) => sum + Number(row.everSignedIn), 0);
      const tenure = users.reduce((sum, row) => sum + Number(row.tenureDays), 0);
      return {
        tenantId,
        financial: {
          plan: tenant.plan,
          billingStatus: tenant.billingStatus,
          monthlyPriceCents: tenant.monthlyPriceCents,
          currency: tenant.currency,
          // Billed now: the same rule as the overview's MRR.
          mrrCents: tenant.status === 'active' && BILLED_STATUSES.includes(tenant.billingStatus) ? tenant.monthlyPriceCents : 0,
          apiCalls: months.map((row) => ({ month: row.month, apiCalls: Number(row.apiCalls) })) },
        users: {
          total,
          active,
          inactive: total - active,
          activationRate: total ? round(everSignedIn / total) : null,
          byRole: Object.fromEntries(users.map((row) => [row.key ?? row.name, Number(row.total)])),
          averageTenureDays: total ? Math.round((tenure / total) * 10) / 10 : null,
        },
      };
    },
  };
}

const round = (share: number) => Math.round(share * 1000) / 1000;

/** knex.raw answers keep the database's snake_case names. */
const camel = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([key, value]) => [key.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), value]));
