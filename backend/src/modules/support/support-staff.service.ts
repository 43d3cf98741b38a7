import { randomUUID } from 'node:crypto';
import { AppDeps } from '../../app-deps';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { creationKeyset, keysetPage, Pagination } from '../../lib/pagination';
import { inUnitOfWork } from '../../pipeline/unit-of-work';
import { PlatformActor, recordPlatformAuditInTenant } from '../admin/platform-audit';
import { platformPermissionsOf, StaffRole } from '../admin/staff-roles';
import { recordEvent, runWithEvents } from '../events/event-context';
import { queueEmail } from '../notifications/notifications.service';
import { SupportTicketChanges, SupportTicketsQuery } from './support.schema';
import { breachedSql, presentTicket, ticketSelect, TicketRow } from './support-tickets';

type StaffTicketRow = TicketRow & { breached: boolean; firstResponseMinutes: number | null; resolutionMinutes: number | null };

const presentStaffTicket = (row: StaffTicketRow) => ({
  ...presentTicket(row),
  tenantId: row.tenantId,
  assigneeId: row.assigneeId,
  breached: row.breached,
  firstResponseMinutes: row.firstResponseMinutes === null ? null : Number(row.firstResponseMinutes),
  resolutionMinutes: row.resolutionMinutes === null ? null : Number(row.resolutionMinutes),
});

const minutesSql = (column: string) => `round(extract(epoch from (${column} - created_at)) / 60)`;

/**
 * The staff side (`support:read`, `support:manage`). Reads go through the platform pool (its read policy
 * on tenant tables); writes run in the ticket's tenant as a unit of work on the runtime pool, so they pass
 * the tenant's row-level security, land in its audit trail (actor: the staff member) and in the platform
 * audit log. Internal notes are staff-only.
 */
export function createSupportStaffService(deps: AppDeps) {
  const { platformKnex } = deps;
  const staffRows = () =>
    ticketSelect(platformKnex).select(
      platformKnex.raw(`${breachedSql} as breached`),
      platformKnex.raw(`${minutesSql('first_response_at')} as first_response_minutes`),
      platformKnex.raw(`${minutesSql('resolved_at')} as resolution_minutes`),
    );

  async function ticketOf(id: string): Promise<StaffTicketRow> {
    const row = (await staffRows().where({ id }).first()) as StaffTicketRow | undefined;
    if (!row) throw notFound('Support ticket');
    return row;
  }

  /** A unit of work in the ticket's tenant, its events and audit entries naming the staff member. */
  const inTicketTenant = <T>(tenantId: string, actor: PlatformActor, work: () => Promise<T>) =>
    runWithEvents(
      { tenantId, actor: { actorType: 'platform_admin', actorId: actor.principal.adminId, ip: actor.ip, userAgent: actor.userAgent ?? null, requestId: actor.requestId } },
      () => inUnitOfWork(deps, tenantId, work),
    );

  async function assertAssignable(assigneeId: string): Promise<void> {
    const staff = await deps.platformKnex('platformAdmins').where({ id: assigneeId, status: 'active' }).first<{ role: StaffRole } | undefined>('role');
    if (!staff || !platformPermissionsOf(staff.role).has('platform:support:manage')) {
      throw new AppError('VALIDATION_ERROR', 'The request is invalid', [{ field: 'assigneeId', message: 'is not an active staff member who handles support' }]);
    }
  }

  /** With every message, internal notes included. */
  async function get(id: string) {
    const ticket = await ticketOf(id);
    const messages = await platformKnex
      .select('id', 'authorType', 'authorId', 'body', platformKnex.raw('false as internal'), 'createdAt')
      .from('supportTicketMessages')
      .where({ tenantId: ticket.tenantId, ticketId: id })
      .unionAll((notes) =>
        notes
          .select('id', platformKnex.raw("'staff' as author_type"), 'authorId', 'body', platformKnex.raw('true as internal'), 'createdAt')
          .from('supportTicketNotes')
          .where({ tenantId: ticket.tenantId, ticketId: id }),
      )
      .orderBy([{ column: 'createdAt' }, { column: 'id' }]);
    return { ...presentStaffTicket(ticket), messages };
  }

  return {
    async list(query: SupportTicketsQuery): Promise<{ data: ReturnType<typeof presentStaffTicket>[]; pagination: Pagination }> {
      const builder = staffRows();
      if (query.status) builder.where('status', query.status);
      if (query.priority) builder.where('priority', query.priority);
      if (query.tenantId) builder.where('tenantId', query.tenantId);
      if (query.assigneeId) builder.where('assigneeId', query.assigneeId);
      if (query.breached !== undefined) builder.whereRaw(query.breached ? breachedSql : `not ${breachedSql}`);
      const { rows, pagination } = await keysetPage<StaffTicketRow>(builder, creationKeyset(), query);
      return { data: rows.map(presentStaffTicket), pagination };
    },

    get,

    /** Status, priority, assignee; resolving or closing stamps the time (the resolution time is from creation). */
    async update(id: string, changes: SupportTicketChanges, actor: PlatformActor) {
      const current = await ticketOf(id);
      if (changes.assigneeId) await assertAssignable(changes.assigneeId);
      await inTicketTenant(current.tenantId, actor, async () => {
        const { trx } = tenantScope();
        const locked = (await trx('supportTickets').where({ id }).forUpdate().first('status', 'priority', 'assigneeId')) as Record<string, unknown>;
        const patch: Record<string, unknown> = { ...changes };
        if (changes.status === 'resolved' && locked.status !== 'resolved') patch.resolvedAt = trx.fn.now();
        if (changes.status === 'closed' && locked.status !== 'closed') patch.closedAt = trx.fn.now();
        if (changes.status && ['open', 'in_progress', 'waiting_for_customer'].includes(changes.status)) Object.assign(patch, { resolvedAt: null, closedAt: null });
        await trx('supportTickets').where({ id }).update(patch);
        const before = Object.fromEntries(Object.keys(changes).map((key) => [key, locked[key]]));
        recordEvent({ type: 'support_ticket.updated', id, before, after: { ...changes } });
        await recordPlatformAuditInTenant(trx, actor, [{ action: 'support_ticket.update', tenantId: current.tenantId, targetType: 'support_ticket', targetId: id, details: { before, after: changes } }]);
      });
      return presentStaffTicket(await ticketOf(id));
    },

    /**
     * A staff answer or internal note. The first public answer stamps the first response (a breach of the
     * SLA counts in support_sla_breaches_total) and mails the requester; internal notes touch nothing else.
     */
    async reply(id: string, input: { body: string; internal: boolean }, actor: PlatformActor) {
      const current = await ticketOf(id);
      if (current.status === 'closed') throw new AppError('CONFLICT', 'This ticket is closed', [{ field: 'status', message: 'is closed' }]);
      const late = await inTicketTenant(current.tenantId, actor, async () => {
        const { trx } = tenantScope();
        // A note and a public answer are the same row in different tables: one id, made here, for the audit entry.
        const message = { id: randomUUID() };
        const row = { tenantId: current.tenantId, id: message.id, ticketId: id, authorId: actor.principal.adminId, body: input.body };
        if (input.internal) await trx('supportTicketNotes').insert(row);
        else await trx('supportTicketMessages').insert({ ...row, authorType: 'staff' });
        await recordPlatformAuditInTenant(trx, actor, [
          { action: input.internal ? 'support_ticket.note' : 'support_ticket.reply', tenantId: current.tenantId, targetType: 'support_ticket', targetId: id, details: { messageId: message.id } },
        ]);
        if (input.internal) return false;
        const ticket = (await trx('supportTickets')
          .where({ id })
          .forUpdate()
          .first('status', trx.raw('first_response_at is null and now() > sla_due_at as answered_late'))) as { status: string; answeredLate: boolean };
        const status = ticket.status === 'open' ? 'in_progress' : ticket.status;
        await trx('supportTickets').where({ id }).update({ firstResponseAt: trx.raw('coalesce(first_response_at, now())'), status });
        recordEvent({ type: 'support_ticket.replied', id, messageId: message.id, by: 'staff', status });
        const requester = (await trx('users').where({ id: current.requesterId }).whereNull('deletedAt').first('email')) as { email: string } | undefined;
        if (requester) await queueEmail(deps.config, 'support_staff_reply', { email: requester.email, userId: current.requesterId }, { number: current.number, subject: current.subject, body: input.body });
        return ticket.answeredLate;
      });
      if (late) {
        const tenant = (await platformKnex('tenants').where({ id: current.tenantId }).first('plan')) as { plan: string };
        deps.metrics.supportSlaBreaches.inc({ plan: tenant.plan });
      }
      return get(id);
    },
  };
}
