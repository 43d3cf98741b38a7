import { Knex } from 'knex';
import { AppError } from '../lib/errors';
import { refuseDuringImpersonation } from '../modules/admin/impersonation-policy';
import { platformPermission } from '../modules/admin/staff-roles';
import { Credential, PlatformAdminPrincipal, TenantPrincipal } from '../modules/auth/principal';
import { authorize, loadPlatformPrincipal, loadTenantPrincipal } from '../modules/auth/principal.service';
import { RequestFrame } from './request-frame';

export type TenantCredential = Exclude<Credential, { kind: 'platform_admin' }>;

const unauthenticated = () => new AppError('UNAUTHORIZED', 'Authentication is required');

/**
 * Stage 8 of a tenant route, the part that needs no database: a tenant caller, not a platform admin;
 * a support session (impersonation) may not do what would outlive it or widen anyone's access.
 */
export function tenantCallerOf(frame: RequestFrame): TenantCredential {
  const { credential } = frame;
  if (!credential) throw unauthenticated();
  if (credential.kind === 'platform_admin') throw new AppError('UNAUTHORIZED', 'A platform token is not valid for tenant endpoints');
  if (credential.kind === 'user' && credential.impersonatorId) refuseDuringImpersonation(frame.route);
  return credential;
}

/**
 * Stage 8 of a tenant route, in its tenant transaction: one query confirms the caller (session and
 * token not revoked, user active, tenant not suspended) and loads the role's permissions and the plan;
 * the route's permission must be among them, and MFA set up when the organization requires it.
 */
export async function authorizeTenantCaller(frame: RequestFrame, credential: TenantCredential): Promise<TenantPrincipal> {
  const principal = await loadTenantPrincipal(credential);
  // The organization requires MFA: a user without it reaches only their own account (to set it up).
  if (principal.kind === 'user' && principal.mfaEnrollmentRequired && frame.route.permission !== 'authenticated') {
    throw new AppError('MFA_ENROLLMENT_REQUIRED', 'Your organization requires multi-factor authentication: set it up first (POST /auth/mfa/setup)');
  }
  authorize(frame.route.permission, principal, frame.route.usersOnly);
  return principal;
}

/**
 * Stage 8 of a platform route: an active platform admin in a live session whose role holds the route's
 * permission. With ADMIN_MFA_REQUIRED, staff without MFA reach only their own account (to set it up).
 */
export async function authorizePlatformCaller(knex: Knex, frame: RequestFrame, mfaRequired: boolean): Promise<PlatformAdminPrincipal> {
  const { credential } = frame;
  if (!credential) throw unauthenticated();
  if (credential.kind !== 'platform_admin') throw new AppError('FORBIDDEN', 'This endpoint is for platform administrators');
  const principal = await loadPlatformPrincipal(knex, credential);
  if (mfaRequired && !principal.mfaEnabled && frame.route.permission !== platformPermission('account:self')) {
    throw new AppError('MFA_ENROLLMENT_REQUIRED', 'Set up multi-factor authentication first (POST /admin/auth/mfa/setup)');
  }
  authorize(frame.route.permission, principal);
  return principal;
}
