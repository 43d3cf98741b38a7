import bcrypt from 'bcryptjs';
import { AppError } from '../../lib/errors';
import { Role } from '../roles/role.model';
import { User } from './user.model';

export interface NewUser {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  /** A system role key (tenant_admin, manager, ...) of the current tenant. */
  roleKey: string;
}

/** Adds an active user to the current tenant scope. */
export async function createUser(input: NewUser, bcryptCost: number): Promise<User> {
  const role = await Role.query().findOne({ key: input.roleKey });
  if (!role) throw new AppError('VALIDATION_ERROR', 'Unknown role', [{ field: 'role', message: 'does not exist' }]);
  return User.query().insert({
    email: input.email,
    passwordHash: await bcrypt.hash(input.password, bcryptCost),
    firstName: input.firstName,
    lastName: input.lastName,
    roleId: role.id,
    status: 'active',
  });
}
