import { PlatformAdmin } from './platform-admin.model';

/** Never the password hash. */
export const presentPlatformAdmin = (admin: PlatformAdmin) => ({
  id: admin.id,
  email: admin.email,
  role: admin.role,
  status: admin.status,
  lastLoginAt: admin.lastLoginAt,
  createdAt: admin.createdAt,
});
