import { presentRoleRef } from '../roles/role.presenter';
import { User } from './user.model';

/** What the API shows of a user: never the password hash, invite token or lockout counters. */
export function presentUser(user: User) {
  return {
    id: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    status: user.status,
    role: user.role ? presentRoleRef(user.role) : { id: user.roleId },
    teamId: user.teamId,
    lastLoginAt: user.lastLoginAt,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

