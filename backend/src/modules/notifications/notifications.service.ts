import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { enqueueJob } from '../../jobs/enqueue';
import { encryptCredential, rowContext } from '../credentials/credential-crypto';
import { Tenant } from '../tenants/tenant.model';
import { EMAIL_TEMPLATES, EmailTemplate, TemplateParams } from './email-templates';

export const SEND_JOB = 'notifications.send';

/**
 * Renders an e-mail and queues it in the current tenant transaction: the notification row (pending)
 * and its send job commit with the change that caused them. The rendered message is stored encrypted,
 * as it may carry a single-use token.
 */
export async function queueEmail<T extends EmailTemplate>(
  config: AppConfig,
  template: T,
  recipient: { email: string; userId?: string | null },
  params: TemplateParams<T>,
): Promise<string> {
  const { trx, tenantId } = tenantScope();
  const id = randomUUID();
  const rendered = (EMAIL_TEMPLATES[template] as (p: TemplateParams<T>) => unknown)(params);
  await trx('notifications').insert({
    tenantId,
    id,
    template,
    recipient: recipient.email,
    userId: recipient.userId ?? null,
    messageEncrypted: encryptCredential(config.credentialKeys, JSON.stringify(rendered), rowContext('notifications', tenantId, id)),
  });
  await enqueueJob(SEND_JOB, { notificationId: id }, { maxAttempts: 6 });
  return id;
}

/** The tenant's active admins: who hears about the organization itself (suspension, billing). */
export async function tenantAdmins(): Promise<Array<{ id: string; email: string; organization: string }>> {
  const { trx } = tenantScope();
  return (await trx('users as u')
    .join('roles as r', (on) => on.on('r.id', 'u.roleId').andOn('r.tenantId', 'u.tenantId'))
    .join('tenants as t', 't.id', 'u.tenantId')
    .where({ 'r.key': 'tenant_admin', 'u.status': 'active' })
    .whereNull('u.deletedAt')
    .select('u.id', 'u.email', 't.name as organization')) as Array<{ id: string; email: string; organization: string }>;
}

/** The invitation e-mail: the code the invitee accepts with, and until when. */
export async function queueInviteEmail(config: AppConfig, user: { id: string; email: string }, invitation: { token: string; expiresAt: Date }): Promise<void> {
  const tenant = await Tenant.query().select('name').first();
  await queueEmail(config, 'invite', { email: user.email, userId: user.id }, { organization: tenant!.name, token: invitation.token, expiresAt: invitation.expiresAt.toISOString() });
}
