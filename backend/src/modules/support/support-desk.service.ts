import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { creationKeyset, keysetPage, Pagination } from '../../lib/pagination';
import { UserPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { queueEmail } from '../notifications/notifications.service';
import { NewSupportTicket, SupportTicketsQuery } from './support.schema';
import { presentTicket, slaHoursFor, ticketSelect, TicketRow } from './support-tickets';

/**
 * The tenant's side of the support desk, in the caller's tenant transaction (row-level security keeps
 * every query to the caller's organization). Tenants see their tickets and the public messages only.
 */
export function createSupportDeskService(config: AppConfig) {
  async function ticketOf(id: string, lock = false): Promise<TicketRow> {
    const query = ticketSelect(tenantScope().trx).where({ id });
    if (lock) query.forUpdate();
    const row = (await query.first()) as TicketRow | undefined;
    if (!row) throw notFound('Support ticket');
    return row;
  }

  return {
    async create(principal: UserPrincipal, input: NewSupportTicket) {
      const { trx, tenantId } = tenantScope();
      const hours = slaHoursFor(config.support.slaHoursByPlan, principal.plan.code);
      const [inserted] = await trx('supportTickets')
        .insert({
          tenantId,
          subject: input.subject,
          description: input.description,
          priority: input.priority,
          requesterId: principal.userId,
          createdBy: principal.userId,
          slaDueAt: trx.raw('now() + make_interval(hours => ?)', [hours]),
        })
        .returning<Array<{ id: string }>>('id');
      const ticket = await ticketOf(inserted!.id);
      recordEvent({ type: 'support_ticket.created', id: ticket.id, number: ticket.number, priority: ticket.priority, slaDueAt: ticket.slaDueAt.toISOString() });
      await queueEmail(
        config,
        'support_ticket_confirmation',
        { email: principal.email, userId: principal.userId },
        { number: ticket.number, subject: ticket.subject, slaDueAt: ticket.slaDueAt.toISOString() },
      );
      return presentTicket(ticket);
    },

    async list(query: Pick<SupportTicketsQuery, 'status' | 'limit' | 'cursor'>): Promise<{ data: ReturnType<typeof presentTicket>[]; pagination: Pagination }> {
      const { trx } = tenantScope();
      const builder = ticketSelect(trx);
      if (query.status) builder.where('status', query.status);
      const { rows, pagination } = await keysetPage<TicketRow>(builder, creationKeyset(), query);
      return { data: rows.map(presentTicket), pagination };
    },

    /** The ticket with its public messages, oldest first; staff's internal notes are never read here. */
    async get(id: string) {
      const ticket = await ticketOf(id);
      const messages = await tenantScope()
        .trx('supportTicketMessages')
        .where({ ticketId: id })
        .orderBy([{ column: 'createdAt' }, { column: 'id' }])
        .select('id', 'authorType', 'authorId', 'body', 'createdAt');
      return { ...presentTicket(ticket), messages };
    },

    /** A reply from the tenant; a ticket waiting for the customer, or resolved, is back with staff. */
    async reply(principal: UserPrincipal, id: string, body: string) {
      const { trx, tenantId } = tenantScope();
      const ticket = await ticketOf(id, true);
      if (ticket.status === 'closed') throw new AppError('CONFLICT', 'This ticket is closed: open a new one', [{ field: 'status', message: 'is closed' }]);
      const [message] = await trx('supportTicketMessages')
        .insert({ tenantId, ticketId: id, authorType: 'user', authorId: principal.userId, body, createdBy: principal.userId })
        .returning(['id', 'authorType', 'authorId', 'body', 'createdAt']);
      const status = ['waiting_for_customer', 'resolved'].includes(ticket.status) ? 'in_progress' : ticket.status;
      if (status !== ticket.status) await trx('supportTickets').where({ id }).update({ status, resolvedAt: null });
      recordEvent({ type: 'support_ticket.replied', id, messageId: (message as { id: string }).id, by: 'user', status });
      return message as { id: string; authorType: string; authorId: string; body: string; createdAt: Date };
    },
  };
}
