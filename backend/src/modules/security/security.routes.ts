import { AppDeps } from '../../app-deps';
import { defineRoute, page, RouteDefinition } from '../../http/route';
import { platformSecurityEvents, tenantSecurityEvents } from './security-events.service';
import { platformSecurityEventSchema, platformSecurityEventsQuery, securityEventSchema, securityEventsQuery } from './security.schema';

const FILTERS = 'filters `type`, `severity`, `userId`, `from`, `to`; cursor-paged';

/** The tenant's security events, for its admins (`audit:read`). */
export function securityRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/security/events',
      permission: 'audit:read',
      summary: `What the security detectors found in this organization, newest first; ${FILTERS}`,
      description: 'Severe events (high, critical) are also mailed to the tenant admins, once per pattern per SECURITY_ALERT_DEDUP_SECONDS. docs/SECURITY.md lists the detectors.',
      response: { status: 200, description: 'A page of security events', schema: securityEventSchema },
      tags: ['Security'],
      schema: { query: securityEventsQuery },
      handler: async (input) => {
        const { data, pagination } = await tenantSecurityEvents(input.query);
        return page(data, pagination);
      },
    }),
  ];
}

/** Every tenant's security events, for staff who read audit logs. */
export function securityAdminRoutes(deps: AppDeps): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/security/events',
      permission: 'platform:audit:read',
      summary: `Security events of every tenant, newest first; ${FILTERS}, \`tenantId\``,
      response: { status: 200, description: 'A page of security events', schema: platformSecurityEventSchema },
      tags: ['Platform admin'],
      schema: { query: platformSecurityEventsQuery },
      handler: async (input) => {
        const { data, pagination } = await platformSecurityEvents(deps.platformKnex, input.query);
        return page(data, pagination);
      },
    }),
  ];
}
