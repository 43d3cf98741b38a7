import { AppError } from '../lib/errors';
import { RouteDefinition } from '../http/route';
import { TenantPrincipal } from '../modules/auth/principal';
import { FeatureFlagsCache } from '../modules/feature-flags/feature-flags-cache';
import { flagOnFor } from '../modules/feature-flags/feature-flags';
import { assertLapsedWriteAllowed, requireFeature } from '../modules/plans/plan-gates';
import { isWrite } from './request-frame';

/**
 * Stage 9: what the organization's state allows. A route rolled out under a feature flag that is off for
 * the tenant does not exist for it (404 NOT_FOUND, the answer to an unknown route). While it awaits
 * deletion, reads go on and writes stop (409 TENANT_PENDING_DELETION) unless the route is declared open
 * then; a route's plan feature must be in the plan (402 PLAN_FEATURE_UNAVAILABLE); once billing has
 * lapsed, what exceeds the free plan is read-only (402 PAYMENT_REQUIRED).
 */
export async function passGates(route: RouteDefinition, principal: TenantPrincipal, flags: FeatureFlagsCache, path: string): Promise<void> {
  if (route.flag && !flagOnFor((await flags.current()).get(route.flag), { tenantId: principal.tenantId, plan: principal.plan.code })) {
    throw new AppError('NOT_FOUND', `No route for ${route.method.toUpperCase()} ${path}`);
  }
  if (principal.deletionScheduledFor && isWrite(route) && !route.allowedWhilePendingDeletion) {
    throw new AppError('TENANT_PENDING_DELETION', 'This organization is scheduled for deletion: only reads, exports and cancelling the deletion are possible', [
      { field: 'organization', message: `scheduled for deletion on ${principal.deletionScheduledFor.toISOString()}` },
    ]);
  }
  if (route.feature) requireFeature(principal, route.feature);
  if (isWrite(route)) await assertLapsedWriteAllowed(principal, route.permission, route.method);
}
