/**
 * The permission catalogue. The migrations keep the same list in the `permissions` table and the
 * role matrix in `role_templates`; a test holds the two in step.
 */
export const CRM_RESOURCES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'] as const;
const CRM_ACTIONS = ['read', 'write', 'delete', 'export'] as const;

export const TENANT_PERMISSIONS: readonly string[] = [
  ...CRM_RESOURCES.flatMap((resource) => CRM_ACTIONS.map((action) => `${resource}:${action}`)),
  'reports:read',
  'users:manage',
  'roles:manage',
  'audit:read',
  'billing:manage',
  'api_keys:manage',
  'organization:manage',
  'privacy:manage',
  'custom_fields:manage',
  'pipelines:manage',
];

/** Platform (cross-tenant) permissions: `support` admins read, `super_admin` also writes. */
export const PLATFORM_PERMISSIONS = ['platform:read', 'platform:write'] as const;
export type PlatformPermission = (typeof PLATFORM_PERMISSIONS)[number];

export const PLATFORM_ROLE_PERMISSIONS: Record<'super_admin' | 'support', readonly PlatformPermission[]> = {
  super_admin: ['platform:read', 'platform:write'],
  support: ['platform:read'],
};

export const isKnownPermission = (permission: string): boolean =>
  TENANT_PERMISSIONS.includes(permission) || (PLATFORM_PERMISSIONS as readonly string[]).includes(permission);

export const isPlatformPermission = (permission: string): permission is PlatformPermission =>
  (PLATFORM_PERMISSIONS as readonly string[]).includes(permission);
