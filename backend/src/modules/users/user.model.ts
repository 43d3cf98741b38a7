import { TenantModel } from '../../infra/tenant-model';

export type UserStatus = 'active' | 'invited' | 'disabled';

export class User extends TenantModel {
  static override tableName = 'users';

  tenantId!: string;
  email!: string;
  passwordHash!: string | null;
  firstName!: string;
  lastName!: string;
  roleId!: string;
  status!: UserStatus;
  createdAt!: Date;
}
