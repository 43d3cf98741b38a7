import Joi from 'joi';
import type { OverviewWindow } from './revenue-overview';

export const churnRiskQuery = Joi.object<{ minScore: number; limit: number; offset: number }>({
  minScore: Joi.number().integer().min(0).max(100).default(0),
  limit: Joi.number().integer().min(1).max(500).default(100),
  offset: Joi.number().integer().min(0).max(1_000_000).default(0),
});

export const cohortsQuery = Joi.object<{ by: 'month'; months: number }>({
  by: Joi.string().valid('month').default('month'),
  months: Joi.number().integer().min(1).max(36).default(12).description('Cohorts: the sign-up months ending with this one'),
});

export const tenantAnalyticsParams = Joi.object<{ id: string }>({ id: Joi.string().guid().required() });

const reason = Joi.object({
  code: Joi.string().valid('usage_decline', 'no_active_users', 'scheduled_deletion', 'payment_failed', 'open_support_tickets').required(),
  points: Joi.number().integer().required(),
  detail: Joi.string().required(),
  recommendedAction: Joi.string().required(),
});

export const churnRiskSchema = Joi.object({
  tenantId: Joi.string().guid().required(),
  name: Joi.string().required(),
  plan: Joi.string().required(),
  score: Joi.number().integer().min(0).max(100).required(),
  reasons: Joi.array().items(reason).required(),
});

export const cohortSchema = Joi.object({
  cohort: Joi.string().pattern(/^\d{4}-\d{2}$/).required(),
  tenants: Joi.number().integer().required(),
  retention: Joi.array()
    .items(Joi.number().min(0).max(1).allow(null))
    .required()
    .description('Share of the cohort with API calls in each of the 12 months after signing up; null for months still to come'),
});

export const tenantAnalyticsSchema = Joi.object({
  tenantId: Joi.string().guid().required(),
  financial: Joi.object({
    plan: Joi.string().required(),
    billingStatus: Joi.string().required(),
    monthlyPriceCents: Joi.number().integer().required(),
    currency: Joi.string().required(),
    mrrCents: Joi.number().integer().required().description('What the tenant is billed per month now (0 unless its subscription is billed)'),
    apiCalls: Joi.array()
      .items(Joi.object({ month: Joi.string().required(), apiCalls: Joi.number().integer().required() }))
      .required()
      .description('API calls per UTC month, the last 12 months'),
  }).required(),
  users: Joi.object({
    total: Joi.number().integer().required(),
    active: Joi.number().integer().required().description('Signed in within 30 days'),
    inactive: Joi.number().integer().required(),
    activationRate: Joi.number().min(0).max(1).allow(null).required().description('Share of users who ever signed in'),
    byRole: Joi.object().pattern(Joi.string(), Joi.number().integer()).required(),
    averageTenureDays: Joi.number().allow(null).required(),
  }).required(),
});

const DAY_MS = 86_400_000;

export const overviewQuery = Joi.object<OverviewWindow>({
  from: Joi.date().iso().description('Start of the window (inclusive); default 30 days before `to`'),
  to: Joi.date().iso().description('End of the window (exclusive); default now'),
})
  .custom((value: { from?: Date; to?: Date }, helpers) => {
    const to = value.to ?? new Date();
    const from = value.from ?? new Date(to.getTime() - 30 * DAY_MS);
    if (from >= to) return helpers.message({ custom: '"from" must be before "to"' });
    if (to.getTime() - from.getTime() > 366 * DAY_MS) return helpers.message({ custom: 'The window is at most 366 days' });
    return { from, to };
  });

const counts = Joi.object().pattern(Joi.string(), Joi.number().integer());

export const overviewSchema = Joi.object({
  from: Joi.string().isoDate().required(),
  to: Joi.string().isoDate().required(),
  revenue: Joi.array()
    .items(
      Joi.object({
        currency: Joi.string().required(),
        mrrCents: Joi.number().integer().required().description('Monthly recurring revenue now, in minor units'),
        arrCents: Joi.number().integer().required().description('12 x MRR'),
        payingTenants: Joi.number().integer().required(),
      }),
    )
    .required()
    .description('One entry per currency the plans are priced in'),
  plans: Joi.array()
    .items(
      Joi.object({
        plan: Joi.string().required(),
        monthlyPriceCents: Joi.number().integer().required(),
        currency: Joi.string().required(),
        payingTenants: Joi.number().integer().required(),
        mrrCents: Joi.number().integer().required(),
      }),
    )
    .required(),
  tenants: Joi.object({ total: Joi.number().integer().required(), byPlan: counts.required(), byStatus: counts.required(), byBillingStatus: counts.required() }).required(),
  signUps: Joi.number().integer().required().description('Tenants created in the window'),
  churnedTenants: Joi.number().integer().required().description('Tenants whose billed subscription was canceled, or who asked to be deleted, in the window'),
  trials: Joi.object({
    ended: Joi.number().integer().required(),
    converted: Joi.number().integer().required(),
    conversionRate: Joi.number().min(0).max(1).allow(null).required(),
  })
    .required()
    .description('Trials that ended in the window, and those that became a paid subscription'),
});
