import { tenantScope } from '../../infra/tenant-scope';
import { notFound } from '../../lib/errors';
import { recordEvent } from '../events/event-context';

export interface OrganizationSettings {
  /** Platform support may open impersonation sessions as this organization's users. */
  allowImpersonation: boolean;
}

/** The caller's organization's settings, read and written in the request's tenant transaction (RLS). */
async function readSettings(forUpdate = false): Promise<OrganizationSettings> {
  const { trx, tenantId } = tenantScope();
  const query = trx('tenants').where('id', tenantId).first<{ impersonationOptOut: boolean } | undefined>('impersonationOptOut');
  if (forUpdate) query.forUpdate();
  const row = await query;
  if (!row) throw notFound('Organization');
  return { allowImpersonation: !row.impersonationOptOut };
}

export const getOrganizationSettings = (): Promise<OrganizationSettings> => readSettings();

/** Changes what is asked; an actual change is audited (`organization.settings_update`) with before/after. */
export async function updateOrganizationSettings(input: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
  const { trx, tenantId } = tenantScope();
  const before = await readSettings(true);
  const after = { ...before, ...input };
  if (after.allowImpersonation === before.allowImpersonation) return before;
  await trx('tenants').where('id', tenantId).update({ impersonationOptOut: !after.allowImpersonation });
  recordEvent({ type: 'organization.settings_updated', tenantId, before: { ...before }, after: { ...after } });
  return after;
}
