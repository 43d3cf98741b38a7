import { AppDeps } from '../../app-deps';
import { deletionStatusSchema } from '../compliance/compliance.schema';
import { AnyRouteInput, created, defineRoute, ok, page, principalOf, RouteDefinition, RouteResult } from '../../http/route';
import {
  createdTenantSchema,
  createTenantBody,
  listTenantsQuery,
  tenantDetailSchema,
  tenantIdParams,
  tenantSummarySchema,
  updateTenantBody,
} from './tenants-admin.schema';
import { createTenantsAdminService } from './tenants-admin.service';
import { ConsoleRuntime } from './console-runtime';
import { createUsageAdminService } from './usage-admin.service';
import { PlatformActor } from './platform-audit';
import { createTenantProvisioningService } from './tenant-provisioning.service';

const actorOf = (input: AnyRouteInput): PlatformActor => ({
  principal: principalOf(input, 'platform_admin'),
  ip: input.ip,
  userAgent: input.userAgent,
  requestId: input.requestId,
});

/** The admin console's tenant routes: platform permissions, so they run on the platform pool, outside any tenant scope. */
export function adminTenantsRoutes(deps: AppDeps, runtime: ConsoleRuntime): RouteDefinition[] {
  const tenants = createTenantsAdminService(deps.platformKnex);
  const provisioning = createTenantProvisioningService(deps);
  const usage = createUsageAdminService({ platformKnex: deps.platformKnex, redis: deps.redis, redisKeyPrefix: deps.config.redisKeyPrefix, usage: runtime.usage });
  const tags = ['Platform admin'];
  return [
    defineRoute({
      method: 'get',
      path: '/admin/tenants',
      permission: 'platform:tenants:read',
      summary: 'Every tenant, oldest first; filters `status`, `plan`, and `q` or `search` (part of the name or subdomain, or a user email)',
      description: 'Pages by `cursor` (pagination.nextCursor) or by `offset`; `limit` 1..500.',
      response: { status: 200, description: 'A page of tenants', schema: tenantSummarySchema },
      tags,
      schema: { query: listTenantsQuery },
      handler: async (input) => {
        const { data, pagination } = await tenants.list(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/tenants',
      permission: 'platform:tenants:manage',
      summary: 'Creates a tenant with its system roles and invites its owner (tenant_admin) by e-mail',
      description: '409 when the name or subdomain is taken. The owner\'s `inviteToken` is in the answer only when e-mail is the JSON log.',
      response: { status: 201, description: 'The tenant and its invited owner', schema: createdTenantSchema },
      tags,
      schema: { body: createTenantBody },
      handler: async (input): Promise<RouteResult> =>
        created(await provisioning.create(input.body, actorOf(input)), { 'Cache-Control': 'no-store' }),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/tenants/:id',
      permission: 'platform:tenants:manage',
      summary: 'Schedules the organization\'s deletion, as its admin can: writes stop, purge after ORG_DELETION_GRACE_DAYS unless cancelled',
      description: 'The tenant admin can still cancel it (DELETE /organization/delete). Asking again moves the purge date.',
      response: { status: 202, description: 'The deletion is scheduled', schema: deletionStatusSchema },
      tags,
      schema: { params: tenantIdParams },
      handler: async (input): Promise<RouteResult> => ({
        kind: 'json',
        status: 202,
        body: { data: await provisioning.scheduleDeletion(input.params.id, actorOf(input)) },
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/tenants/:id',
      permission: 'platform:tenants:read',
      summary: "A tenant with its plan's limits, users, records per CRM resource, API calls, and its last activity",
      response: { status: 200, description: 'The tenant', schema: tenantDetailSchema },
      tags,
      schema: { params: tenantIdParams },
      handler: async (input) => {
        const tenant = await tenants.get(input.params.id);
        return ok({ ...tenant, usage: { ...tenant.usage, apiCalls: await usage.apiCallsSummary(tenant.id) } });
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/tenants/:id',
      permission: 'platform:tenants:manage',
      summary: "Suspends (with a reason) or reactivates a tenant and/or changes its plan; each change is in the platform audit log",
      description: "A suspended tenant's users and API keys get 403 `TENANT_SUSPENDED` from their next request on.",
      response: { status: 200, description: 'The tenant as it now stands', schema: tenantSummarySchema },
      tags,
      schema: { params: tenantIdParams, body: updateTenantBody },
      handler: async (input) =>
        ok(await tenants.update(input.params.id, input.body, actorOf(input))),
    }),
  ];
}
