import { StaffRole } from '../admin/staff-roles';

/** The tenant's plan as it stands for this request (plans are data: the `plans` table). */
export interface PlanLimits {
  code: string;
  features: ReadonlySet<string>;
  /** null: unlimited. */
  quotas: Readonly<Record<string, number | null>>;
  requestsPerHour: number;
  /** The subscription's state (trialing, active, past_due, trial_expired, canceled): lapsed billing makes quotas 402 PAYMENT_REQUIRED. */
  billingStatus: string;
}

/** Who is calling, as established from the token or key and checked against the database. */
export type Principal = UserPrincipal | ApiKeyPrincipal | PlatformAdminPrincipal;

export interface UserPrincipal {
  kind: 'user';
  tenantId: string;
  userId: string;
  sessionId: string;
  jti: string;
  /** Access token expiry, seconds since the epoch. */
  tokenExpiresAt: number;
  email: string;
  roleId: string;
  roleKey: string | null;
  teamId: string | null;
  permissions: ReadonlySet<string>;
  plan: PlanLimits;
  /** When the organization is scheduled for deletion: its purge date. */
  deletionScheduledFor?: Date;
  /** Set when a platform admin acts as this tenant (support sessions). */
  impersonatorId?: string;
  /** TOTP is on for this user. */
  mfaEnabled: boolean;
  /** The organization requires MFA and this user has none yet: only their own account is open. */
  mfaEnrollmentRequired: boolean;
}

export interface ApiKeyPrincipal {
  kind: 'api_key';
  tenantId: string;
  apiKeyId: string;
  /** The key's role; a `sales_user` key acts within its creator's own/team scope. */
  roleKey: string | null;
  /** The user who created the key (null once they are deleted) and their team: the scope it acts in. */
  creatorId: string | null;
  creatorTeamId: string | null;
  permissions: ReadonlySet<string>;
  plan: PlanLimits;
  /** When the organization is scheduled for deletion: its purge date. */
  deletionScheduledFor?: Date;
}

export interface PlatformAdminPrincipal {
  kind: 'platform_admin';
  adminId: string;
  /** The sign-in (platform_admin_sessions) the token belongs to. */
  sessionId: string;
  role: StaffRole;
  permissions: ReadonlySet<string>;
  /** TOTP is set up: with ADMIN_MFA_REQUIRED, nothing but one's own account is open until it is. */
  mfaEnabled: boolean;
}

/** What the authenticate link read off the request, before the database confirmed it. */
export type Credential =
  | { kind: 'user'; tenantId: string; userId: string; sessionId: string; jti: string; exp: number; impersonatorId?: string }
  | { kind: 'api_key'; tenantId: string; apiKeyId: string }
  | { kind: 'platform_admin'; adminId: string; sessionId: string };

export type TenantPrincipal = UserPrincipal | ApiKeyPrincipal;

/**
 * Whose records a caller may change when its role is scoped to its own and its team's (`sales_user`):
 * a user is themselves; an API key is the user who created it (a key has no records of its own). Null
 * when the caller is bounded by its permissions alone.
 */
export function ownScopeOf(principal: TenantPrincipal): { userId: string | null; teamId: string | null } | null {
  if (principal.roleKey !== 'sales_user') return null;
  return principal.kind === 'user'
    ? { userId: principal.userId, teamId: principal.teamId }
    : { userId: principal.creatorId, teamId: principal.creatorTeamId };
}

/** The id recorded as the actor of a change (created_by, audit). */
export const actorId = (principal: Principal): string =>
  principal.kind === 'user' ? principal.userId : principal.kind === 'api_key' ? principal.apiKeyId : principal.adminId;
