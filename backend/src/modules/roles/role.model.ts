import { TenantModel } from '../../infra/tenant-model';

export class Role extends TenantModel {
  static override tableName = 'roles';

  tenantId!: string;
  /** Set on system roles only (tenant_admin, manager, ...): the name code refers to them by. */
  key!: string | null;
  name!: string;
  description!: string | null;
  isSystem!: boolean;
  permissions!: string[];
  createdBy!: string | null;
  updatedBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
}
