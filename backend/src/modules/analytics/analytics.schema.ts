import Joi from 'joi';

export const churnRiskQuery = Joi.object({
  minScore: Joi.number().integer().min(0).max(100).default(0),
  limit: Joi.number().integer().min(1).max(500).default(100),
  offset: Joi.number().integer().min(0).max(1_000_000).default(0),
});

export const cohortsQuery = Joi.object({
  by: Joi.string().valid('month').default('month'),
  months: Joi.number().integer().min(1).max(36).default(12).description('Cohorts: the sign-up months ending with this one'),
});

export const tenantAnalyticsParams = Joi.object({ id: Joi.string().guid().required() });

const reason = Joi.object({
  code: Joi.string().valid('usage_decline', 'no_active_users', 'scheduled_deletion', 'open_support_tickets').required(),
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
