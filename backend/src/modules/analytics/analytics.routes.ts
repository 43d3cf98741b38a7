import Joi from 'joi';
import { AppDeps } from '../../app-deps';
import { defineRoute, ok, RouteDefinition } from '../../http/route';
import {
  churnRiskQuery,
  churnRiskSchema,
  cohortSchema,
  cohortsQuery,
  overviewQuery,
  overviewSchema,
  tenantAnalyticsParams,
  tenantAnalyticsSchema,
} from './analytics.schema';
import { createAnalyticsService } from './analytics.service';
import { revenueOverview } from './revenue-overview';

/** Platform analytics for staff holding `analytics:read`, computed on the platform pool. */
export function analyticsRoutes(deps: Pick<AppDeps, 'platformKnex'>): RouteDefinition[] {
  const analytics = createAnalyticsService(deps.platformKnex);
  const tags = ['Platform admin'];
  const permission = 'platform:analytics:read' as const;
  return [
    defineRoute({
      method: 'get',
      path: '/admin/analytics/overview',
      permission,
      summary: 'Revenue now (MRR, ARR per currency, per plan), tenants by plan and status, and the window\'s sign-ups, churn and trial conversion',
      description:
        'MRR counts active tenants whose subscription is billed (`active` or `past_due`) at their plan\'s monthly price. ' +
        'The window [from, to) is at most 366 days (default: the last 30 days). Churned: a billed subscription canceled, or an ' +
        'organization deletion requested, in the window. Trials: those that ended in the window, and those of them now paid.',
      response: { status: 200, description: 'The overview', schema: overviewSchema },
      tags,
      schema: { query: overviewQuery },
      handler: async (input) => ok(await revenueOverview(deps.platformKnex, input.query)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/analytics/churn-risk',
      permission,
      summary: 'Every active tenant with a churn-risk score 0-100, riskiest first, with the reasons and an action for each',
      description:
        'Reasons: scheduled deletion (40), no user signed in within 30 days (30), API calls halved week over week (30), a failed payment (30), ' +
        'unresolved support tickets (10 each, at most 20); the score is their sum, at most 100. `total` counts the tenants at or above `minScore`.',
      response: {
        status: 200,
        description: 'The tenants at risk',
        schema: Joi.object({ tenants: Joi.array().items(churnRiskSchema).required(), total: Joi.number().integer().required() }),
      },
      tags,
      schema: { query: churnRiskQuery },
      handler: async (input) => {
        const { data, total } = await analytics.churnRisk(input.query);
        return ok({ tenants: data, total });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/analytics/cohorts',
      permission,
      summary: 'Retention by sign-up month: for each cohort, the share of its tenants making API calls 1..12 months later',
      response: { status: 200, description: 'The cohorts, oldest first', schema: Joi.array().items(cohortSchema) },
      tags,
      schema: { query: cohortsQuery },
      handler: async (input) => ok(await analytics.cohorts(input.query)),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/analytics/tenants/:id',
      permission,
      summary: "One tenant: its plan and API calls per month (12 months); its users: active, inactive, activation rate, by role, tenure",
      response: { status: 200, description: 'The tenant analytics', schema: tenantAnalyticsSchema },
      tags,
      schema: { params: tenantAnalyticsParams },
      handler: async (input) => ok(await analytics.tenant(input.params.id)),
    }),
  ];
}
