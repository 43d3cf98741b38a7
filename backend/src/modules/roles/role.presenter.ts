import { Role } from './role.model';

export const presentRole = (role: Role) => ({
  id: role.id,
  key: role.key,
  name: role.name,
  description: role.description,
  isSystem: role.isSystem,
  permissions: [...role.permissions].sort(),
  createdAt: role.createdAt,
  updatedAt: role.updatedAt,
});

/** A role as other resources mention it (a user's, an API key's). */
export const presentRoleRef = (role: Role) => ({ id: role.id, key: role.key, name: role.name });
