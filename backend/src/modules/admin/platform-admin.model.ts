import { Model } from 'objection';

type PlatformRole = 'super_admin' | 'support';

/** A platform operator. The table is global (no tenant, no row-level security), so queries pass the knex. */
export class PlatformAdmin extends Model {
  static override tableName = 'platformAdmins';

  id!: string;
  email!: string;
  passwordHash!: string;
  role!: PlatformRole;
  status!: string;
  lastLoginAt!: Date | null;
  createdAt!: Date;
}
