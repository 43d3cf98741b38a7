import { PLATFORM_PERMISSIONS, PlatformPermission } from '../admin/staff-roles';

/**
 * The permission catalogue. The migrations keep the same list in the `permissions` table and the
 * role matrix in `role_templates`; a test holds the two in step.
 */
export const CRM_RESOURCES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'] as const;
const CRM_ACTIONS = ['read', 'write', 'delete', 'export'] as const;

export const TENANT_PERMISSIONS: readonly string[] = [
  ...CRM_RESOURCES.flatMap((resource) => CRM_ACTIONS.map((action) => `${resource}:${action}`)),
  'reports:read',
  'reports:manage',
  'users:manage',
  'roles:manage',
  'audit:read',
  'billing:manage',
  'api_keys:manage',
  'organization:manage',
  'privacy:manage',
  'custom_fields:manage',
  'pipelines:manage',
  'parts:read',
  'parts:order',
  // Every system role holds it: anyone in a tenant may ask the platform for help (the support desk).
  'support:create',
];

export const isKnownPermission = (permission: string): boolean =>
  TENANT_PERMISSIONS.includes(permission) || (PLATFORM_PERMISSIONS as readonly string[]).includes(permission);

export const isPlatformPermission = (permission: string): permission is PlatformPermission =>
  (PLATFORM_PERMISSIONS as readonly string[]).includes(permission);

export type { PlatformPermission };
