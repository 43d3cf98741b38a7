import { TenantModel } from '../../infra/tenant-model';

export class Role extends TenantModel {
  static override tableName = 'roles';

  tenantId!: string;
  key!: string | null;
  name!: string;
  description!: string | null;
  isSystem!: boolean;
  permissions!: string[];
}
