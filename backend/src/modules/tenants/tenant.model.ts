import { TenantModel } from '../../infra/tenant-model';

export type TenantStatus = 'active' | 'suspended';

export class Tenant extends TenantModel {
  static override tableName = 'tenants';
  static override tenantColumn = 'id' as const;

  name!: string;
  subdomain!: string;
  plan!: string;
  status!: TenantStatus;
  createdAt!: Date;
  updatedAt!: Date;
}
