import express from 'express';
import { AppDeps } from './app-deps';
import { RouteDefinition } from './http/route';
import { createRateLimiters, RateLimiters } from './middleware/rate-limits';
import { accountsRoutes } from './modules/accounts/accounts.routes';
import { activitiesRoutes } from './modules/activities/activities.routes';
import { adminAuthRoutes } from './modules/admin/admin-auth.routes';
import { adminConsoleRoutes } from './modules/admin/console.routes';
import { consoleRuntime } from './modules/admin/console-runtime';
import { adminTenantsRoutes } from './modules/admin/tenants.routes';
import { featureFlagsRoutes } from './modules/feature-flags/feature-flags.routes';
import { securityAdminRoutes, securityRoutes } from './modules/security/security.routes';
import { useSecurity } from './modules/security/security-context';
import { securityEventsTotal } from './modules/security/security-metrics';
import { staffRoutes } from './modules/admin/staff.routes';
import { supportAdminRoutes, supportRoutes } from './modules/support/support.routes';
import { analyticsRoutes } from './modules/analytics/analytics.routes';
import { apiKeysRoutes } from './modules/api-keys/api-keys.routes';
import { useAuditEncryptionKey } from './modules/audit/audit-crypto';
import { auditRoutes } from './modules/audit/audit.routes';
import { authRoutes } from './modules/auth/auth.routes';
import { billingRoutes } from './modules/billing/billing.routes';
import { passwordResetRoutes } from './modules/auth/password-reset.routes';
import { startPrincipalRevocation } from './modules/auth/principal-revocation';
import { changeFeedRoutes } from './modules/change-feed/change-feed.routes';
import { mergeUndoRoutes } from './modules/merges/merges.routes';
import { userNotificationsRoutes } from './modules/notifications/user-notifications.routes';
import { startLiveEvents } from './modules/change-feed/live-events';
import { organizationRoutes } from './modules/compliance/organization.routes';
import { privacyRoutes } from './modules/compliance/privacy.routes';
import { contactsRoutes } from './modules/contacts/contacts.routes';
import { importUndoRoutes } from './modules/crm/import.routes';
import { customFieldsRoutes } from './modules/custom-fields/custom-fields.routes';
import { dealsRoutes } from './modules/deals/deals.routes';
import { docsRoutes } from './modules/docs/docs.routes';
import { healthRoutes } from './modules/health/health.routes';
import { integrationsRoutes } from './modules/integrations/integrations.routes';
import { leadsRoutes } from './modules/leads/leads.routes';
import { pipelinesRoutes } from './modules/pipelines/pipelines.routes';
import { organizationSettingsRoutes } from './modules/organization-settings/organization-settings.routes';
import { rateLimitRoutes } from './modules/plans/rate-limit.routes';
import { rolesRoutes } from './modules/roles/roles.routes';
import { tasksRoutes } from './modules/tasks/tasks.routes';
import { ticketsRoutes } from './modules/tickets/tickets.routes';
import { usersRoutes } from './modules/users/users.routes';
import { viewsRoutes } from './modules/views/views.routes';
import { partsRoutes } from './modules/parts/parts.routes';
import { reportsRoutes } from './modules/reports/reports.routes';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes';
import { buildPipeline } from './pipeline/pipeline';

/** Every declared route of the service, in one list: the pipeline, the OpenAPI document and tests read it. */
export function declaredRoutes(deps: AppDeps, limiters: RateLimiters): RouteDefinition[] {
  const routes = [
    ...healthRoutes({ ...deps, metricsToken: deps.config.metricsToken }),
    ...authRoutes(deps),
    ...passwordResetRoutes(deps),
    ...adminAuthRoutes(deps),
    ...staffRoutes(deps),
    ...supportAdminRoutes(deps),
    ...analyticsRoutes(deps),
    ...adminTenantsRoutes(deps, consoleRuntime(deps)),
    ...adminConsoleRoutes(deps, consoleRuntime(deps)),
    ...featureFlagsRoutes(deps, consoleRuntime(deps)),
    ...securityAdminRoutes(deps),
    ...organizationSettingsRoutes(),
    ...billingRoutes(deps),
    ...usersRoutes(deps),
    ...rolesRoutes(),
    ...apiKeysRoutes(),
    ...webhooksRoutes(deps),
    ...integrationsRoutes(deps),
    ...auditRoutes(),
    ...securityRoutes(),
    ...rateLimitRoutes(limiters),
    ...leadsRoutes(),
    ...contactsRoutes(),
    ...accountsRoutes(),
    ...dealsRoutes(),
    ...tasksRoutes(),
    ...activitiesRoutes(),
    ...ticketsRoutes(),
    ...importUndoRoutes(),
    ...mergeUndoRoutes(),
    ...userNotificationsRoutes(),
    ...customFieldsRoutes(),
    ...pipelinesRoutes(),
    ...viewsRoutes(),
    ...reportsRoutes(deps),
    ...organizationRoutes(deps),
    ...privacyRoutes(deps),
    ...supportRoutes(deps),
    ...changeFeedRoutes(deps.config),
    ...partsRoutes(deps),
  ];
  return [...routes, ...docsRoutes(routes, deps)];
}

/** Builds the Express app without listening, so tests drive it in-process: the pipeline over the declared routes. */
export function createApp(deps: AppDeps): express.Express {
  useAuditEncryptionKey(deps.config.encryptionKey);
  useSecurity(deps);
  // The detectors' counter is the process's own (they run as event subscribers): every app's registry shows it.
  if (!deps.metrics.registry.getSingleMetric('security_events_total')) deps.metrics.registry.registerMetric(securityEventsTotal);
  startPrincipalRevocation(deps, 'serves');
  startLiveEvents(deps, 'serves');
  const limiters = createRateLimiters(deps, () => consoleRuntime(deps).settings.current());
  return buildPipeline(deps, limiters, declaredRoutes(deps, limiters));
}
