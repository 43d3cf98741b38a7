import { Model } from 'objection';
import { StaffRole } from './staff-roles';

export type StaffStatus = 'active' | 'invited' | 'disabled';

/** A platform staff member. The table is global (no tenant, no row-level security), so queries pass the knex. */
export class PlatformAdmin extends Model {
  static override tableName = 'platformAdmins';

  id!: string;
  email!: string;
  passwordHash!: string | null;
  role!: StaffRole;
  status!: StaffStatus;
  firstName!: string | null;
  lastName!: string | null;
  inviteTokenHash!: string | null;
  inviteExpiresAt!: Date | null;
  invitedBy!: string | null;
  mfaEnabledAt!: Date | null;
  lastLoginAt!: Date | null;
  createdAt!: Date;
}
