import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { announcePrincipalChange } from '../auth/principal-revocation';
import { TenantPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { Tenant } from '../tenants/tenant.model';

export interface OrganizationSettings {
  /** Platform support may open impersonation sessions as this organization's users. */
  allowImpersonation: boolean;
  /** Every user signs in with TOTP; one without it can only set it up (403 MFA_ENROLLMENT_REQUIRED elsewhere). */
  requireMfa: boolean;
}

/** The caller's organization's settings, read and written in the request's tenant transaction (RLS). */
async function readSettings(forUpdate = false): Promise<OrganizationSettings> {
  const query = Tenant.query().select('impersonationOptOut', 'mfaRequired').first();
  if (forUpdate) query.forUpdate();
  const row = await query;
  if (!row) throw notFound('Organization');
  return { allowImpersonation: !row.impersonationOptOut, requireMfa: row.mfaRequired };
}

export const getOrganizationSettings = (): Promise<OrganizationSettings> => readSettings();

/**
 * Changes what is asked; an actual change is audited (`organization.settings_updated`) with before/after.
 * Requiring MFA takes a user who has it on: the switch cannot be thrown by an API key or by someone it
 * would lock out of everything but MFA setup.
 */
export async function updateOrganizationSettings(principal: TenantPrincipal, input: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
  const before = await readSettings(true);
  const after = { ...before, ...input };
  if (after.allowImpersonation === before.allowImpersonation && after.requireMfa === before.requireMfa) return before;
  if (after.requireMfa && !before.requireMfa && (principal.kind !== 'user' || !principal.mfaEnabled)) {
    throw new AppError('MFA_ENROLLMENT_REQUIRED', 'Turn on multi-factor authentication for your own account before requiring it (POST /auth/mfa/setup)');
  }
  await Tenant.query().patch({ impersonationOptOut: !after.allowImpersonation, mfaRequired: after.requireMfa });
  // Every caller of the organization is reloaded: who must enrol changed.
  if (after.requireMfa !== before.requireMfa) announcePrincipalChange();
  recordEvent({ type: 'organization.settings_updated', tenantId: tenantScope().tenantId, before: { ...before }, after: { ...after } });
  return after;
}
