import { AppDeps } from '../../app-deps';
import { defineRoute, ok, page, principalOf, RouteDefinition } from '../../lib/http/route';
import {
  ListTenantsQuery,
  listTenantsQuery,
  tenantDetailSchema,
  tenantIdParams,
  tenantSummarySchema,
  UpdateTenantInput,
  updateTenantBody,
} from './tenants-admin.schema';
import { createTenantsAdminService } from './tenants-admin.service';
import { ConsoleRuntime } from './console-runtime';
import { createUsageAdminService } from './usage-admin.service';

/** The admin console's tenant routes: platform permissions, so they run on the platform pool, outside any tenant scope. */
export function adminTenantsRoutes(deps: Pick<AppDeps, 'platformKnex' | 'redis' | 'config'>, runtime: ConsoleRuntime): RouteDefinition[] {
  const tenants = createTenantsAdminService(deps.platformKnex);
  const usage = createUsageAdminService({ platformKnex: deps.platformKnex, redis: deps.redis, redisKeyPrefix: deps.config.redisKeyPrefix, usage: runtime.usage });
  const tags = ['Platform admin'];
  return [
    defineRoute({
      method: 'get',
      path: '/admin/tenants',
      permission: 'platform:read',
      summary: 'Every tenant, oldest first; filters `status`, `plan`, and `q` (part of the name or subdomain, or a user email)',
      response: { status: 200, description: 'A page of tenants', schema: tenantSummarySchema },
      tags,
      schema: { query: listTenantsQuery },
      handler: async (input) => {
        const { data, pagination } = await tenants.list(input.query as unknown as ListTenantsQuery);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/tenants/:id',
      permission: 'platform:read',
      summary: "A tenant with its plan's limits, users, records per CRM resource, API calls, and its last activity",
      response: { status: 200, description: 'The tenant', schema: tenantDetailSchema },
      tags,
      schema: { params: tenantIdParams },
      handler: async (input) => {
        const tenant = await tenants.get(input.params.id!);
        return ok({ ...tenant, usage: { ...tenant.usage, apiCalls: await usage.apiCallsSummary(tenant.id) } });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/tenants/:id',
      permission: 'platform:write',
      summary: "Suspends (with a reason) or reactivates a tenant and/or changes its plan; each change is in the platform audit log",
      description: "A suspended tenant's users and API keys get 403 `TENANT_SUSPENDED` from their next request on.",
      response: { status: 200, description: 'The tenant as it now stands', schema: tenantSummarySchema },
      tags,
      schema: { params: tenantIdParams, body: updateTenantBody },
      handler: async (input) =>
        ok(
          await tenants.update(input.params.id!, input.body as UpdateTenantInput, {
            principal: principalOf(input, 'platform_admin'),
            ip: input.ip,
            userAgent: input.userAgent,
            requestId: input.requestId,
          }),
        ),
    }),
  ];
}
