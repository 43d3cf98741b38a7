import { Model, RelationMappings } from 'objection';
import { TenantModel } from '../../infra/tenant-model';
import { Role } from '../roles/role.model';

/** An integrator's credential. Only the key's SHA-256 is kept: the key itself is shown once, at creation. */
export class ApiKey extends TenantModel {
  static override tableName = 'apiKeys';

  name!: string;
  prefix!: string;
  keyHash!: string;
  roleId!: string | null;
  /** Narrows the role's permissions; null means all of them. */
  permissions!: string[] | null;
  expiresAt!: Date | null;
  lastUsedAt!: Date | null;
  revokedAt!: Date | null;
  createdBy!: string | null;
  updatedBy!: string | null;
  createdAt!: Date;
  role?: Role | null;

  static override get relationMappings(): RelationMappings {
    return {
      role: { relation: Model.BelongsToOneRelation, modelClass: Role, join: { from: 'apiKeys.roleId', to: 'roles.id' } },
    };
  }
}
