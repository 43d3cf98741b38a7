import { TenantModel } from '../../infra/tenant-model';

export class Team extends TenantModel {
  static override tableName = 'teams';

  name!: string;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
}
