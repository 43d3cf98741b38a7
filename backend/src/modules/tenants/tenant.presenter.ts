import { Tenant } from './tenant.model';

export const presentTenant = (tenant: Tenant) => ({
  id: tenant.id,
  name: tenant.name,
  subdomain: tenant.subdomain,
  plan: tenant.plan,
  status: tenant.status,
  createdAt: tenant.createdAt,
});
