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
