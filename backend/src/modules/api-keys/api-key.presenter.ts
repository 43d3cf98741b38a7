import { presentRoleRef } from '../roles/role.presenter';
import { ApiKey } from './api-key.model';

/** What the API shows of a key: never the key or its hash. */
export const presentApiKey = (apiKey: ApiKey) => ({
  id: apiKey.id,
  name: apiKey.name,
  prefix: apiKey.prefix,
  role: apiKey.role ? presentRoleRef(apiKey.role) : null,
  permissions: apiKey.permissions,
  expiresAt: apiKey.expiresAt,
  lastUsedAt: apiKey.lastUsedAt,
  revokedAt: apiKey.revokedAt,
  createdAt: apiKey.createdAt,
  createdBy: apiKey.createdBy,
});
