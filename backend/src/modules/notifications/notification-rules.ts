import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { AuditEvent } from '../audit/audit-context';
import { queueEmail } from './notifications.service';

/**
 * E-mails that follow from what a request changed, read from its queued audit entries (like webhook
 * events): a ticket created for a contact with an email address confirms it to that contact.
 */
export async function queueNotifications(config: AppConfig, audit: readonly AuditEvent[]): Promise<void> {
  const tickets = audit.filter((event) => event.action === 'ticket.create' && event.resourceId).map((event) => event.resourceId!);
  if (tickets.length === 0) return;
  const { trx } = tenantScope();
  const rows = (await trx('tickets as t')
    .join('contacts as c', (on) => on.on('c.id', 't.contactId').andOn('c.tenantId', 't.tenantId'))
    .whereIn('t.id', tickets)
    .whereNotNull('c.email')
    .whereNull('c.deletedAt')
    .select('t.id', 't.subject', 'c.email')) as Array<{ id: string; subject: string; email: string }>;
  for (const row of rows) await queueEmail(config, 'ticket_confirmation', { email: row.email }, { subject: row.subject, reference: row.id });
}
