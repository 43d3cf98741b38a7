import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { createAuditViewerService } from './audit-viewer.service';
import { createConfigAdminService } from './config-admin.service';
import {
  auditViewerEntrySchema,
  auditViewerQuery,
  configSchema,
  dashboardSchema,
  impersonateBody,
  impersonationSchema,
  jobSchema,
  listJobsQuery,
  platformAuditEntrySchema,
  platformAuditQuery,
  updateConfigBody,
  usageQuery,
  usageSchema,
} from './console.schema';
import { ConsoleRuntime } from './console-runtime';
import { createDashboardService } from './dashboard.service';
import { outboundCallsOf } from '../../infra/outbound/outbound-call';
import { createImpersonationService } from './impersonation.service';
import { createJobsAdminService } from './jobs-admin.service';
import { PlatformActor } from './platform-audit';
import { tenantIdParams } from './tenants-admin.schema';
import { createUsageAdminService } from './usage-admin.service';

const actorOf = (input: AnyRouteInput): PlatformActor => ({
  principal: principalOf(input, 'platform_admin'),
  ip: input.ip,
  userAgent: input.userAgent,
  requestId: input.requestId,
});

/**
 * The admin console beyond tenants: dashboard, usage, jobs, audit viewers, runtime config, impersonation.
 * Each route declares the staff permission it needs (staff-roles.ts has the role matrix).
 */
export function adminConsoleRoutes(deps: AppDeps, runtime: ConsoleRuntime): RouteDefinition[] {
  const tags = ['Platform admin'];
  const usage = createUsageAdminService({ platformKnex: deps.platformKnex, redis: deps.redis, redisKeyPrefix: deps.config.redisKeyPrefix, usage: runtime.usage });
  const dashboard = createDashboardService({
    knex: deps.knex,
    platformKnex: deps.platformKnex,
    redis: deps.redis,
    redisKeyPrefix: deps.config.redisKeyPrefix,
    metrics: deps.metrics,
    usage: runtime.usage,
    recentErrors: runtime.recentErrors,
    outbound: outboundCallsOf(deps.config),
  });
  const jobs = createJobsAdminService(deps.platformKnex);
  const audit = createAuditViewerService(deps.platformKnex);
  const config = createConfigAdminService({ platformKnex: deps.platformKnex, config: deps.config, settings: runtime.settings });
  const impersonation = createImpersonationService(deps);

  return [
    defineRoute({
      method: 'get',
      path: '/admin/dashboard',
      permission: 'platform:tenants:read',
      summary: 'Tenants by plan and status, 30-day growth, active users, request and error rates, DB/Redis/job state, health score',
      description:
        'Request figures under `requests.instance` are this instance since it started (its Prometheus histogram); `requests.today` ' +
        'sums the shared usage counters of every instance. `recentErrors` are this instance\'s last 5xx answers. Formula: docs/OPERATIONS.md.',
      response: { status: 200, description: 'The dashboard', schema: dashboardSchema },
      tags,
      handler: async () => ok(await dashboard.dashboard()),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/usage',
      permission: 'platform:tenants:read',
      summary: 'Per tenant: API calls per UTC day over `from`..`to` (default the last 30 days, at most 92), records, storage estimate, plan limits vs usage',
      response: { status: 200, description: 'A page of tenants with their usage', schema: usageSchema },
      tags,
      schema: { query: usageQuery },
      handler: async (input) => {
        const { data, pagination } = await usage.report(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/jobs',
      permission: 'platform:jobs:read',
      summary: 'Background jobs waiting, running, retrying or out of attempts, newest first; filters `task` and `state` (payloads are never shown)',
      response: { status: 200, description: 'A page of jobs', schema: jobSchema },
      tags,
      schema: { query: listJobsQuery },
      handler: async (input) => {
        const { data, pagination } = await jobs.list(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/audit-logs',
      permission: 'platform:audit:read',
      summary: "Every tenant's audit entries, newest first; filters tenantId, action, resourceType, resourceId, userId, from, to",
      description: 'Personal values in `changes` stay encrypted as stored; the platform cannot decrypt them.',
      response: { status: 200, description: 'A page of audit entries', schema: auditViewerEntrySchema },
      tags,
      schema: { query: auditViewerQuery },
      handler: async (input) => {
        const { data, pagination } = await audit.tenantEntries(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/platform-audit-logs',
      permission: 'platform:audit:read',
      summary: 'What platform admins did (suspensions, plan changes, config changes, impersonations), newest first',
      response: { status: 200, description: 'A page of platform audit entries', schema: platformAuditEntrySchema },
      tags,
      schema: { query: platformAuditQuery },
      handler: async (input) => {
        const { data, pagination } = await audit.platformEntries(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/config',
      permission: 'platform:config:read',
      summary: 'Runtime settings: the effective value of each, and whether it is an override or the environment',
      response: { status: 200, description: 'The settings', schema: configSchema },
      tags,
      handler: async () => ok(await config.get()),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/config',
      permission: 'platform:config:manage',
      summary: 'Overrides runtime settings (null drops an override); audited with before/after, applied without restart',
      description: 'This instance applies the change at once; every other instance within `propagation.cacheSeconds`.',
      response: { status: 200, description: 'The settings as they now stand', schema: configSchema },
      tags,
      schema: { body: updateConfigBody },
      handler: async (input) => ok(await config.update(input.body, actorOf(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/tenants/:id/impersonate',
      permission: 'platform:impersonate',
      summary: "Starts a support session as one of the tenant's users (default: its first tenant_admin); needs a reason",
      description:
        'The token lasts IMPERSONATION_TTL_SECONDS, cannot be refreshed, marks every audit entry it produces with the admin as ' +
        'impersonator, and cannot change passwords or manage API keys, users, roles or the organization. 403 when the tenant ' +
        'does not allow impersonation.',
      response: { status: 201, description: 'The support session and its access token', schema: impersonationSchema },
      tags,
      schema: { params: tenantIdParams, body: impersonateBody },
      handler: async (input) => {
        const session = await impersonation.start(input.params.id, input.body, actorOf(input));
        return created(session, { 'Cache-Control': 'no-store' });
      },
    }),
  ];
}
