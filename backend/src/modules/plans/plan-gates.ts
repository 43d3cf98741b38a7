import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { TenantPrincipal } from '../auth/principal';

/** Features a plan may include; a route declares the one it needs. */
export type PlanFeature = 'api_keys' | 'bulk_import' | 'custom_roles' | 'audit_export';

/** Stage 9 (pipeline/gates.ts): a route whose feature the tenant's plan lacks answers 402 PLAN_FEATURE_UNAVAILABLE. */
export function requireFeature(principal: TenantPrincipal, feature: PlanFeature): void {
  if (!principal.plan.features.has(feature)) {
    throw new AppError('PLAN_FEATURE_UNAVAILABLE', `The ${principal.plan.code} plan does not include ${feature.replace('_', ' ')}`, [
      { field: 'plan', message: `upgrade to a plan with the "${feature}" feature` },
    ]);
  }
}

/**
 * Quotas count live rows in the tenant (users, or records of one CRM resource). `adding` rows must fit.
 * The count runs in the request's transaction, so it sees the writes made so far.
 */
export async function assertWithinQuota(
  principal: TenantPrincipal,
  quota: 'users' | 'records',
  table: string,
  adding = 1,
): Promise<void> {
  const limit = principal.plan.quotas[quota];
  if (limit === null || limit === undefined) return;
  const [row] = await tenantScope().trx(table).whereNull('deletedAt').count<{ count: string }[]>({ count: '*' });
  const current = Number(row?.count ?? 0);
  if (current + adding > limit) {
    throw new AppError('PLAN_FEATURE_UNAVAILABLE', `The ${principal.plan.code} plan allows ${limit} ${quota === 'users' ? 'users' : `${table}`}`, [
      { field: quota, message: `quota ${limit} reached (${current} in use)` },
    ]);
  }
}
