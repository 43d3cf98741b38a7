import Joi from 'joi';
import { creationPageQuery, cursorParam } from '../../lib/pagination';
import { AuditViewerQuery, newestFirst, PlatformAuditQuery } from './audit-viewer.service';
import type { ConfigUpdate } from './config-admin.service';
import type { ImpersonationInput } from './impersonation.service';
import type { UsageQuery } from './usage-admin.service';
import { CRM_RESOURCES } from '../roles/permissions';
import { SETTING_KEYS, SETTING_SCHEMAS } from '../runtime-settings/runtime-settings';
import { JOB_STATES, JOBS_KEYSET, ListJobsQuery } from './jobs-admin.service';

const timeCursor = cursorParam(newestFirst('a'));
const limit = Joi.number().integer().min(1).max(200).default(50);
const isoDay = Joi.string().pattern(/^\d{4}-\d{2}-\d{2}$/).messages({ 'string.pattern.base': '{{#label}} must be a date (YYYY-MM-DD)' });
const range = {
  from: Joi.date().iso(),
  to: Joi.date()
    .iso()
    .when('from', { is: Joi.date().required(), then: Joi.date().min(Joi.ref('from')) })
    .messages({ 'date.min': '{{#label}} must not be before from' }),
};
// Factories, not shared instances: the OpenAPI example builder renders a schema instance once per document.
const counts = () => ({ apiCalls: Joi.number().integer().required(), clientErrors: Joi.number().integer().required(), serverErrors: Joi.number().integer().required() });
const byResource = (schema: () => Joi.Schema) => Joi.object(Object.fromEntries(CRM_RESOURCES.map((resource) => [resource, schema()]))).required();

export const usageQuery = Joi.object<UsageQuery>({
  tenantId: Joi.string().guid(),
  from: isoDay.custom((value: string, helpers) => (Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ? helpers.error('any.invalid') : value)),
  to: isoDay.custom((value: string, helpers) => (Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ? helpers.error('any.invalid') : value)),
  limit: Joi.number().integer().min(1).max(100).default(20),
  cursor: creationPageQuery.cursor,
});

// Examples given here: the document's example builder stops a few levels deep, too early for these.
const limitUse = () =>
  Joi.object({ limit: Joi.number().integer().allow(null).required(), used: Joi.number().integer().required() }).example({ limit: 1000, used: 12 });

export const usageSchema = Joi.object({
  tenantId: Joi.string().guid().required(),
  name: Joi.string().required(),
  plan: Joi.string().required(),
  apiCalls: Joi.object({
    from: Joi.string().required(),
    to: Joi.string().required(),
    total: Joi.object(counts()).required(),
    daily: Joi.array()
      .items(Joi.object({ day: Joi.string().required(), ...counts() }).example({ day: '2024-01-31', apiCalls: 120, clientErrors: 3, serverErrors: 0 }))
      .required(),
  }).required(),
  records: byResource(() => Joi.number().integer().required()),
  storage: Joi.object({ estimatedBytes: Joi.number().integer().required() }).required(),
  limits: Joi.object({
    users: limitUse().required(),
    records: byResource(() => limitUse().required()),
    requestsPerHour: Joi.object({ limit: Joi.number().integer().required(), averageToday: Joi.number().required() }).required(),
  }).required(),
});

const check = Joi.object({
  status: Joi.string().valid('up', 'down', 'disabled').required(),
  latencyMs: Joi.number(),
  error: Joi.string(),
});

const jobCountsSchema = Joi.object({
  byState: Joi.object(Object.fromEntries(JOB_STATES.map((state) => [state, Joi.number().integer().required()]))).required(),
  byTask: Joi.array()
    .items(Joi.object({ task: Joi.string().required(), state: Joi.string().valid(...JOB_STATES).required(), count: Joi.number().integer().required() }))
    .required(),
});

export const dashboardSchema = Joi.object({
  generatedAt: Joi.date().required(),
  tenants: Joi.object({
    total: Joi.number().integer().required(),
    byPlan: Joi.array().items(Joi.object({ plan: Joi.string().required(), count: Joi.number().integer().required() })).required(),
    byStatus: Joi.object({ active: Joi.number().integer().required(), suspended: Joi.number().integer().required() }).required(),
    growth: Joi.array().items(Joi.object({ day: Joi.string().required(), newTenants: Joi.number().integer().required() })).required(),
  }).required(),
  activeUsers: Joi.object({ last7Days: Joi.number().integer().required(), last30Days: Joi.number().integer().required() }).required(),
  requests: Joi.object({
    instance: Joi.object({
      total: Joi.number().integer().required(),
      clientErrors: Joi.number().integer().required(),
      serverErrors: Joi.number().integer().required(),
      serverErrorRate: Joi.number().required(),
      requestsPerMinute: Joi.number().required(),
      p95Seconds: Joi.number().allow(null).required(),
    }).required(),
    today: Joi.object({ day: Joi.string().required(), ...counts() })
      .allow(null)
      .required()
      .description('Every tenant, every instance: the shared usage counters (null while Redis is down)'),
  }).required(),
  database: check.keys({
    pool: Joi.object({
      used: Joi.number().integer().required(),
      free: Joi.number().integer().required(),
      pending: Joi.number().integer().required(),
      max: Joi.number().integer().required(),
    }).required(),
  }).required(),
  redis: check.required(),
  jobs: jobCountsSchema.required(),
  health: Joi.object({
    score: Joi.number().integer().min(0).max(100).required(),
    deductions: Joi.array().items(Joi.object({ reason: Joi.string().required(), points: Joi.number().integer().required() })).required(),
  }).required(),
  recentErrors: Joi.array()
    .items(
      Joi.object({
        at: Joi.date().required(),
        requestId: Joi.string().allow(null).required(),
        method: Joi.string().required(),
        route: Joi.string().required(),
        status: Joi.number().integer().required(),
        code: Joi.string().allow(null).required(),
        tenantId: Joi.string().allow(null).required(),
        durationMs: Joi.number().required(),
      }),
    )
    .required(),
  outbound: Joi.array()
    .items(
      Joi.object({
        destination: Joi.string().required(),
        state: Joi.string().valid('closed', 'half_open', 'open').required(),
        calls: Joi.object({
          success: Joi.number().integer().required(),
          failure: Joi.number().integer().required(),
          timeout: Joi.number().integer().required(),
          refused: Joi.number().integer().required(),
          rejected: Joi.number().integer().required(),
        }).required(),
        retries: Joi.number().integer().required(),
      }),
    )
    .required()
    .description("This instance's outbound destinations (supplier, Stripe, SMTP, webhooks, Slack): circuit breaker state and calls since it started"),
});

export const listJobsQuery = Joi.object<ListJobsQuery>({
  task: Joi.string().trim().min(1).max(100),
  state: Joi.string().valid(...JOB_STATES),
  limit,
  cursor: cursorParam(JOBS_KEYSET),
});

export const jobSchema = Joi.object({
  id: Joi.string().required(),
  queueName: Joi.string().allow(null).required(),
  task: Joi.string().required(),
  state: Joi.string().valid(...JOB_STATES).required(),
  priority: Joi.number().integer().required(),
  runAt: Joi.date().required(),
  attempts: Joi.number().integer().required(),
  maxAttempts: Joi.number().integer().required(),
  lastError: Joi.string().allow(null).required().description('First line of the last error, at most 300 characters'),
  lockedAt: Joi.date().allow(null).required(),
  createdAt: Joi.date().required(),
});

export const auditViewerQuery = Joi.object<AuditViewerQuery>({
  tenantId: Joi.string().guid(),
  action: Joi.string().trim().min(1).max(100),
  resourceType: Joi.string().trim().min(1).max(100),
  resourceId: Joi.string().guid(),
  userId: Joi.string().guid(),
  ...range,
  limit,
  cursor: timeCursor,
});

export const auditViewerEntrySchema = Joi.object({
  id: Joi.string().guid().required(),
  tenantId: Joi.string().guid().required(),
  seq: Joi.number().integer().allow(null).required().description('Null until the sealer puts the entry in the chain'),
  occurredAt: Joi.date().required(),
  actor: Joi.object({
    type: Joi.string().required(),
    id: Joi.string().allow(null).required(),
    impersonatorId: Joi.string().allow(null).required(),
  }).required(),
  action: Joi.string().required(),
  resourceType: Joi.string().allow(null).required(),
  resourceId: Joi.string().allow(null).required(),
  changes: Joi.object().unknown(true).allow(null).required().description('As stored: personal values stay encrypted (enc:v1:...)'),
  ip: Joi.string().allow(null).required(),
  userAgent: Joi.string().allow(null).required(),
  requestId: Joi.string().allow(null).required(),
  result: Joi.string().required(),
  errorCode: Joi.string().allow(null).required(),
});

export const platformAuditQuery = Joi.object<PlatformAuditQuery>({
  tenantId: Joi.string().guid(),
  action: Joi.string().trim().min(1).max(100),
  actorId: Joi.string().guid(),
  ...range,
  limit,
  cursor: timeCursor,
});

export const platformAuditEntrySchema = Joi.object({
  id: Joi.string().guid().required(),
  occurredAt: Joi.date().required(),
  actorType: Joi.string().required(),
  actorId: Joi.string().allow(null).required(),
  action: Joi.string().required(),
  tenantId: Joi.string().allow(null).required(),
  targetType: Joi.string().allow(null).required(),
  targetId: Joi.string().allow(null).required(),
  details: Joi.object().unknown(true).allow(null).required(),
  ip: Joi.string().allow(null).required(),
  userAgent: Joi.string().allow(null).required(),
  requestId: Joi.string().allow(null).required(),
  result: Joi.string().required(),
  errorCode: Joi.string().allow(null).required(),
});

/** Each setting: a number within its bounds, or null to drop the override. */
export const updateConfigBody = Joi.object<ConfigUpdate>(Object.fromEntries(SETTING_KEYS.map((key) => [key, SETTING_SCHEMAS[key].allow(null)])))
  .min(1)
  .required();

const settingValue = Joi.alternatives(Joi.number().integer(), Joi.string().allow('')).description('A number, or for a URL setting a string');
const settingSchema = Joi.object({
  value: settingValue.required(),
  source: Joi.string().valid('environment', 'override').required(),
  environmentValue: settingValue.required(),
});

export const configSchema = Joi.object({
  settings: Joi.object(Object.fromEntries(SETTING_KEYS.map((key) => [key, settingSchema.required()]))).required(),
  propagation: Joi.object({
    cacheSeconds: Joi.number().integer().required().description('Other instances apply a change within this many seconds'),
  }).required(),
});

export const impersonateBody = Joi.object<ImpersonationInput>({
  reason: Joi.string().trim().min(3).max(500).required(),
  userId: Joi.string().guid(),
}).required();

export const impersonationSchema = Joi.object({
  tenantId: Joi.string().guid().required(),
  user: Joi.object({ id: Joi.string().guid().required(), email: Joi.string().required(), role: Joi.string().required() }).required(),
  impersonatorId: Joi.string().guid().required(),
  sessionId: Joi.string().guid().required(),
  expiresAt: Joi.date().required(),
  tokens: Joi.object({
    accessToken: Joi.string().required(),
    tokenType: Joi.string().valid('Bearer').required(),
    expiresIn: Joi.number().integer().required(),
  }).required(),
});
