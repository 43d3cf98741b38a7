/**
 * The platform staff's roles and what each may do, kept as data like the tenant role matrix. A route
 * of the admin console declares `platform:<permission>`; the prefix keeps staff permissions apart from
 * tenant ones of the same name (`audit:read` exists on both sides). docs/API.md prints this matrix.
 */
export const STAFF_PERMISSIONS = [
  'tenants:read',
  'tenants:manage',
  'admins:manage',
  'impersonate',
  'billing:read',
  'analytics:read',
  'support:read',
  'support:manage',
  'config:read',
  'config:manage',
  'jobs:read',
  'audit:read',
  // One's own staff account: profile, sign-out, MFA. Every role holds it.
  'account:self',
] as const;
export type StaffPermission = (typeof STAFF_PERMISSIONS)[number];

export const STAFF_ROLES = ['super_admin', 'admin', 'developer', 'support', 'marketing', 'finance', 'sales'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export const STAFF_ROLE_PERMISSIONS: Record<StaffRole, readonly StaffPermission[]> = {
  super_admin: STAFF_PERMISSIONS,
  admin: STAFF_PERMISSIONS.filter((permission) => permission !== 'config:manage'),
  developer: ['tenants:read', 'config:read', 'jobs:read', 'audit:read', 'account:self'],
  support: ['tenants:read', 'support:read', 'support:manage', 'jobs:read', 'audit:read', 'config:read', 'account:self'],
  marketing: ['tenants:read', 'analytics:read', 'account:self'],
  finance: ['tenants:read', 'billing:read', 'analytics:read', 'account:self'],
  sales: ['tenants:read', 'analytics:read', 'account:self'],
};

/**
 * Who outranks whom when staff is managed: nobody grants, changes or removes a role above their own.
 * The five specialist roles stand level with each other.
 */
export const STAFF_ROLE_RANK: Record<StaffRole, number> = {
  super_admin: 3,
  admin: 2,
  developer: 1,
  support: 1,
  marketing: 1,
  finance: 1,
  sales: 1,
};

export type PlatformPermission = `platform:${StaffPermission}`;

/** The declaration's name of a staff permission. */
export const platformPermission = (permission: StaffPermission): PlatformPermission => `platform:${permission}`;

export const PLATFORM_PERMISSIONS: readonly PlatformPermission[] = STAFF_PERMISSIONS.map(platformPermission);

/** What a role's principal holds, in the declarations' names. */
export const platformPermissionsOf = (role: StaffRole): Set<string> => new Set(STAFF_ROLE_PERMISSIONS[role].map(platformPermission));
