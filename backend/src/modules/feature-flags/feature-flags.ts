import { createHash } from 'node:crypto';

/** A flag as stored in feature_flags and answered by /admin/feature-flags. */
export interface FeatureFlag {
  key: string;
  enabled: boolean;
  /** Tenants that get the flag whatever the plan and percentage say. */
  tenants: string[];
  /** Plans whose tenants are in the audience; null: every plan. */
  plans: string[] | null;
  /** Share of the audience (by a stable hash of the tenant) that gets it; null: all of it. */
  percentage: number | null;
  updatedAt: string;
}

/** The tenant a flag is evaluated for. */
export interface FlagSubject {
  tenantId: string;
  plan: string;
}

/**
 * The tenant's rollout bucket for one flag, 0..99: the first 32 bits of sha256(key:tenantId). Stable across
 * instances and restarts, so a tenant inside 10% stays inside when the flag goes to 20%; keyed by the flag,
 * so the same tenants are not always the first to get every new feature.
 */
export function rolloutBucket(key: string, tenantId: string): number {
  return createHash('sha256').update(`${key}:${tenantId}`).digest().readUInt32BE(0) % 100;
}

/**
 * Whether the flag is on for this tenant. Off when the flag is unknown or disabled. A listed tenant always
 * has it. A flag with neither plans nor a percentage is on for everyone, unless it lists tenants: then only
 * for them. Otherwise the tenant's plan must be listed (when plans are) and its bucket under the percentage.
 */
export function flagOnFor(flag: FeatureFlag | undefined, subject: FlagSubject): boolean {
  if (!flag?.enabled) return false;
  if (flag.tenants.includes(subject.tenantId)) return true;
  if (flag.plans === null && flag.percentage === null) return flag.tenants.length === 0;
  if (flag.plans !== null && !flag.plans.includes(subject.plan)) return false;
  return rolloutBucket(flag.key, subject.tenantId) < (flag.percentage ?? 100);
}
