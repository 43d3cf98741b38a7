import { FeatureFlagsCache } from '../modules/feature-flags/feature-flags-cache';
import { flagOnFor } from '../modules/feature-flags/feature-flags';
import { JobDeps } from './job-definition';

/**
 * Whether a job rolled out under `flag` runs for its payload's tenant, by the same rule and the same
 * cached flags (every instance within RUNTIME_SETTINGS_CACHE_SECONDS) as a flagged route. A job without a
 * tenant in its payload runs while the flag is enabled at all; a tenant that is gone has nothing to run.
 */
export async function jobFlagOn(deps: JobDeps, flags: FeatureFlagsCache, flag: string, payload: unknown): Promise<boolean> {
  const state = (await flags.current()).get(flag);
  const tenantId = (payload as { tenantId?: unknown }).tenantId;
  if (typeof tenantId !== 'string') return state?.enabled === true;
  const tenant = (await deps.platformKnex('tenants').where('id', tenantId).first('plan')) as { plan: string } | undefined;
  return tenant !== undefined && flagOnFor(state, { tenantId, plan: tenant.plan });
}
