import { Model, RelationMappings } from 'objection';
import { TenantModel } from '../../infra/tenant-model';
import { Role } from '../roles/role.model';

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
  teamId!: string | null;
  lastLoginAt!: Date | null;
  passwordChangedAt!: Date | null;
  /** SHA-256 of the one-time invitation token; the token itself is only ever in the creator's answer. */
  inviteTokenHash!: string | null;
  inviteExpiresAt!: Date | null;
  /** When TOTP was turned on; null: off. */
  mfaEnabledAt!: Date | null;
  createdBy!: string | null;
  updatedBy!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
  role?: Role;

  static override get relationMappings(): RelationMappings {
    return {
      role: { relation: Model.BelongsToOneRelation, modelClass: Role, join: { from: 'users.roleId', to: 'roles.id' } },
    };
  }
}
