import Joi from 'joi';
import { creationPageQuery } from '../../lib/pagination';
import { CRM_RESOURCES } from '../roles/permissions';
import type { NewTenantByStaff } from './tenant-provisioning.service';

const TENANT_STATUSES = ['active', 'suspended'] as const;
const planCode = Joi.string().trim().min(1).max(50);

export const listTenantsQuery = Joi.object<ListTenantsQuery>({
  status: Joi.string().valid(...TENANT_STATUSES),
  plan: planCode,
  q: Joi.string().trim().min(1).max(100).description('Part of the name or subdomain, or a user email'),
  search: Joi.string().trim().min(1).max(100).description('The same as `q`'),
  ...creationPageQuery,
  offset: Joi.number().integer().min(0).max(1_000_000).description('Rows to skip, instead of `cursor`'),
})
  .oxor('q', 'search')
  .oxor('cursor', 'offset');

export interface ListTenantsQuery {
  status?: (typeof TENANT_STATUSES)[number];
  plan?: string;
  q?: string;
  search?: string;
  limit: number;
  cursor?: string[];
  offset?: number;
}

export const tenantIdParams = Joi.object<{ id: string }>({ id: Joi.string().guid().required() });

/** A reason goes with a suspension only; at least one of status and plan. */
export const updateTenantBody = Joi.object<UpdateTenantInput>({
  status: Joi.string().valid(...TENANT_STATUSES),
  reason: Joi.when('status', {
    is: 'suspended',
    then: Joi.string().trim().min(1).max(500),
    otherwise: Joi.forbidden().messages({ 'any.unknown': '{{#label}} is allowed only with status "suspended"' }),
  }),
  plan: planCode,
})
  .or('status', 'plan')
  .required();

export interface UpdateTenantInput {
  status?: (typeof TENANT_STATUSES)[number];
  reason?: string;
  plan?: string;
}

const tenantFields = {
  id: Joi.string().guid().required(),
  name: Joi.string().required(),
  subdomain: Joi.string().required(),
  plan: Joi.string().required(),
  status: Joi.string().valid(...TENANT_STATUSES).required(),
  suspendedAt: Joi.date().allow(null).required(),
  suspendedReason: Joi.string().allow(null).required(),
  createdAt: Joi.date().required(),
};

const apiCallCounts = () =>
  Joi.object({
    apiCalls: Joi.number().integer().required(),
    clientErrors: Joi.number().integer().required(),
    serverErrors: Joi.number().integer().required(),
  }).required();

export const tenantSummarySchema = Joi.object(tenantFields);

export const tenantDetailSchema = Joi.object({
  ...tenantFields,
  planLimits: Joi.object({
    name: Joi.string().required(),
    features: Joi.array().items(Joi.string()).required(),
    quotas: Joi.object().pattern(Joi.string(), Joi.number().integer().allow(null)).required(),
    requestsPerHour: Joi.number().integer().required(),
    monthlyPriceCents: Joi.number().integer().required(),
    currency: Joi.string().required(),
  }).required(),
  billing: Joi.object({
    status: Joi.string().valid('trialing', 'active', 'past_due', 'trial_expired', 'canceled').required(),
    trialEndsAt: Joi.date().allow(null).required(),
    currentPeriodEnd: Joi.date().allow(null).required(),
    cancelAtPeriodEnd: Joi.boolean().required(),
    stripeCustomerId: Joi.string().allow(null).required(),
    stripeSubscriptionId: Joi.string().allow(null).required(),
  })
    .required()
    .description('Where the tenant stands with billing; a plan set here by staff is `active` with no trial'),
  usage: Joi.object({
    users: Joi.number().integer().required(),
    records: Joi.object(Object.fromEntries(CRM_RESOURCES.map((resource) => [resource, Joi.number().integer().required()]))).required(),
    apiCalls: Joi.object({ today: apiCallCounts(), last30Days: apiCallCounts() })
      .required()
      .description('Authenticated tenant requests (UTC days), 4xx and 5xx counted apart; GET /admin/usage has the daily series'),
  }).required(),
  lastActivityAt: Joi.date().allow(null).required().description('The latest audit entry or sign-in, whichever is later'),
});

const subdomain = Joi.string()
  .lowercase()
  .pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
  .invalid('www', 'api', 'admin', 'app')
  .messages({ 'string.pattern.base': '{{#label}} must be letters, digits and inner dashes' });
const personName = Joi.string().trim().min(1).max(100);

export const createTenantBody = Joi.object<NewTenantByStaff>({
  name: Joi.string().trim().min(2).max(120).required(),
  subdomain: subdomain.description('Default: made from the name'),
  plan: planCode.required(),
  owner: Joi.object({
    email: Joi.string().trim().lowercase().email().max(254).required(),
    firstName: personName.required(),
    lastName: personName.required(),
  }).required(),
});

export const createdTenantSchema = Joi.object({
  tenant: Joi.object({
    id: Joi.string().guid().required(),
    name: Joi.string().required(),
    subdomain: Joi.string().required(),
    plan: Joi.string().required(),
    status: Joi.string().required(),
    createdAt: Joi.date().required(),
  }).required(),
  owner: Joi.object({
    id: Joi.string().guid().required(),
    email: Joi.string().required(),
    status: Joi.string().valid('invited').required(),
    inviteExpiresAt: Joi.date().required(),
    inviteToken: Joi.string().description('Only when e-mail is the JSON log (EMAIL_TRANSPORT=json): the code the invitation e-mail carries'),
  }).required(),
});

