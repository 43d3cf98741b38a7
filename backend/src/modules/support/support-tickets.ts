import { Knex } from 'knex';

/** The number as people quote it: SUP-000123 (more digits once past a million). */
export const ticketNumberSql = "'SUP-' || lpad(number::text, greatest(6, length(number::text)), '0')";

/** Past its SLA: unanswered after the due time, or first answered after it. */
export const breachedSql = '(coalesce(first_response_at, now()) > sla_due_at)';

const TICKET_COLUMNS = [
  'id',
  'tenantId',
  'assigneeId',
  'subject',
  'description',
  'priority',
  'status',
  'requesterId',
  'slaDueAt',
  'firstResponseAt',
  'resolvedAt',
  'closedAt',
  'createdAt',
  'updatedAt',
];

export interface TicketRow {
  id: string;
  tenantId: string;
  number: string;
  subject: string;
  description: string;
  priority: string;
  status: string;
  requesterId: string;
  assigneeId: string | null;
  slaDueAt: Date;
  firstResponseAt: Date | null;
  resolvedAt: Date | null;
  closedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The ticket as its tenant sees it: never who at the platform holds it. */
export const presentTicket = (row: TicketRow) => ({
  id: row.id,
  number: row.number,
  subject: row.subject,
  description: row.description,
  priority: row.priority,
  status: row.status,
  requesterId: row.requesterId,
  slaDueAt: row.slaDueAt,
  firstResponseAt: row.firstResponseAt,
  resolvedAt: row.resolvedAt,
  closedAt: row.closedAt,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** A ticket's columns, its number formatted. */
export const ticketSelect = (knex: Knex | Knex.Transaction) => knex('supportTickets').select(...TICKET_COLUMNS, knex.raw(`${ticketNumberSql} as number`));

/** Hours to a first answer for a plan: SUPPORT_SLA_HOURS, a plan not listed getting the longest target. */
export function slaHoursFor(slaHoursByPlan: Record<string, number>, plan: string): number {
  return slaHoursByPlan[plan] ?? Math.max(...Object.values(slaHoursByPlan));
}
