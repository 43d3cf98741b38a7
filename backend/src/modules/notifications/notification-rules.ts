import { tenantScope } from '../../infra/tenant-scope';
import { defineSubscriber } from '../events/event-subscriber';
import { queueEmail } from './notifications.service';

/**
 * E-mails that follow from what a unit of work changed: a ticket created for a contact with an email
 * address confirms it to that contact.
 */
export const ticketConfirmations = defineSubscriber({
  name: 'ticket confirmation e-mails',
  types: ['record.created'],
  async handle(events, { config }) {
    const tickets = events.filter((event) => event.resource === 'ticket').map((event) => event.id);
    if (tickets.length === 0) return;
    const { trx } = tenantScope();
    const rows = (await trx('tickets as t')
      .join('contacts as c', (on) => on.on('c.id', 't.contactId').andOn('c.tenantId', 't.tenantId'))
      .whereIn('t.id', tickets)
      .whereNotNull('c.email')
      .whereNull('c.deletedAt')
      .select('t.id', 't.subject', 'c.email')) as Array<{ id: string; subject: string; email: string }>;
    for (const row of rows) await queueEmail(config, 'ticket_confirmation', { email: row.email }, { subject: row.subject, reference: row.id });
  },
});
