import { tenantScope } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { TenantPrincipal } from '../auth/principal';
import { CRM_RESOURCES } from '../roles/permissions';

/** Features a plan may include; a route declares the one it needs. */
export type PlanFeature = 'api_keys' | 'bulk_import' | 'custom_roles' | 'audit_export' | 'parts_ordering';

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
    if (billingLapsed(principal)) throw paymentRequired(principal, quota, limit, current);
    throw new AppError('PLAN_FEATURE_UNAVAILABLE', `The ${principal.plan.code} plan allows ${limit} ${quota === 'users' ? 'users' : `${table}`}`, [
      { field: quota, message: `quota ${limit} reached (${current} in use)` },
    ]);
  }
}

/** A trial that ended without a subscription, or a subscription that ended: the free plan's limits apply. */
export const billingLapsed = (principal: TenantPrincipal): boolean =>
  principal.plan.billingStatus === 'trial_expired' || principal.plan.billingStatus === 'canceled';

const paymentRequired = (principal: TenantPrincipal, quota: string, limit: number, current: number): AppError =>
  new AppError('PAYMENT_REQUIRED', `Billing has lapsed (${principal.plan.billingStatus}): the ${principal.plan.code} plan allows ${limit} ${quota}; subscribe to write past it`, [
    { field: quota, message: `quota ${limit} exceeded (${current} in use)` },
  ]);

/** The table whose live rows a write needing this permission counts against a quota. */
const QUOTA_TABLES: Record<string, { quota: 'users' | 'records'; table: string }> = {
  'users:manage': { quota: 'users', table: 'users' },
  ...Object.fromEntries(
    CRM_RESOURCES.map((table) => [`${table}:write`, { quota: 'records' as const, table }]),
  ),
};

/**
 * Stage 9, once billing has lapsed: a kind of data that already exceeds the free plan's quota stays
 * readable but is read-only (402 PAYMENT_REQUIRED), except deletes, which bring the tenant back under it.
 * The data stays; subscribing lifts the limits. Tenants in good standing pay nothing for this check.
 */
export async function assertLapsedWriteAllowed(principal: TenantPrincipal, permission: string, method: string): Promise<void> {
  if (!billingLapsed(principal) || method === 'delete') return;
  const counted = QUOTA_TABLES[permission];
  const limit = counted ? principal.plan.quotas[counted.quota] : null;
  if (!counted || limit === null || limit === undefined) return;
  const [row] = await tenantScope().trx(counted.table).whereNull('deletedAt').count<{ count: string }[]>({ count: '*' });
  const current = Number(row?.count ?? 0);
  if (current > limit) throw paymentRequired(principal, counted.quota, limit, current);
}
