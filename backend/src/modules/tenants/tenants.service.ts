import { tenantScope } from '../../infra/tenant-scope';
import { createDefaultPipeline } from '../pipelines/pipelines.service';
import { Role } from '../roles/role.model';
import { Tenant } from './tenant.model';

export interface NewTenant {
  name: string;
  subdomain: string;
  plan?: string;
  /** A self-registered paid plan is a trial until then (billing_status `trialing`); otherwise the plan is active. */
  trialEndsAt?: Date;
}

/**
 * Creates the tenant of the current scope with its system roles (copied from the role matrix the
 * migrations keep as data) and its default deal pipeline. Runs inside withTenant(knex, newTenantId, ...), with the rest of the sign-up.
 */
export async function provisionTenant(input: NewTenant): Promise<Tenant> {
  const trial = input.trialEndsAt ? { billingStatus: 'trialing' as const, trialEndsAt: input.trialEndsAt } : {};
  const tenant = await Tenant.query().insert({ name: input.name, subdomain: input.subdomain, plan: input.plan ?? 'free', ...trial });
  const templates = await tenantScope()
    .trx('roleTemplates')
    .select<Array<{ key: string; name: string; permissions: string[] }>>('key', 'name', 'permissions');
  await Role.query().insert(templates.map((template) => ({ ...template, isSystem: true })));
  await createDefaultPipeline(tenant.id);
  return tenant;
}
