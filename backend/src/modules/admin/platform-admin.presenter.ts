import { PlatformAdmin } from './platform-admin.model';

/** Never the password hash, the invitation or the MFA secret. */
export const presentPlatformAdmin = (admin: PlatformAdmin) => ({
  id: admin.id,
  email: admin.email,
  firstName: admin.firstName,
  lastName: admin.lastName,
  role: admin.role,
  status: admin.status,
  mfaEnabled: admin.mfaEnabledAt !== null,
  lastLoginAt: admin.lastLoginAt,
  createdAt: admin.createdAt,
});
