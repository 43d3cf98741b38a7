import Joi from 'joi';
import { creationPageQuery } from '../../lib/pagination';

export const SUPPORT_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const SUPPORT_STATUSES = ['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed'] as const;
export type SupportPriority = (typeof SUPPORT_PRIORITIES)[number];
export type SupportStatus = (typeof SUPPORT_STATUSES)[number];

const body = Joi.string().trim().min(1).max(10_000);

export const createSupportTicketBody = Joi.object<NewSupportTicket>({
  subject: Joi.string().trim().min(3).max(200).required(),
  description: body.required(),
  priority: Joi.string().valid(...SUPPORT_PRIORITIES).default('normal'),
});

export interface NewSupportTicket {
  subject: string;
  description: string;
  priority: SupportPriority;
}

export const supportMessageBody = Joi.object<{ body: string }>({ body: body.required() });

export const staffMessageBody = Joi.object<{ body: string; internal: boolean }>({
  body: body.required(),
  internal: Joi.boolean().default(false).description('A note for staff only, never shown to the tenant'),
});

export const updateSupportTicketBody = Joi.object<SupportTicketChanges>({
  status: Joi.string().valid(...SUPPORT_STATUSES),
  priority: Joi.string().valid(...SUPPORT_PRIORITIES),
  assigneeId: Joi.string().guid().allow(null).description('A staff member holding support:manage; null unassigns'),
})
  .or('status', 'priority', 'assigneeId')
  .required();

export interface SupportTicketChanges {
  status?: SupportStatus;
  priority?: SupportPriority;
  assigneeId?: string | null;
}

export const supportTicketParams = Joi.object<{ id: string }>({ id: Joi.string().guid().required() });

export const listSupportTicketsQuery = Joi.object<SupportTicketsQuery>({
  status: Joi.string().valid(...SUPPORT_STATUSES),
  ...creationPageQuery,
});

export const listStaffTicketsQuery = Joi.object<SupportTicketsQuery>({
  status: Joi.string().valid(...SUPPORT_STATUSES),
  priority: Joi.string().valid(...SUPPORT_PRIORITIES),
  tenantId: Joi.string().guid(),
  assigneeId: Joi.string().guid(),
  breached: Joi.boolean().description('true: only tickets past their SLA (unanswered after slaDueAt, or answered late)'),
  ...creationPageQuery,
});

export interface SupportTicketsQuery {
  status?: SupportStatus;
  priority?: SupportPriority;
  tenantId?: string;
  assigneeId?: string;
  breached?: boolean;
  limit: number;
  cursor?: string[];
}

const ticketFields = {
  id: Joi.string().guid().required(),
  number: Joi.string().pattern(/^SUP-\d{6,}$/).required(),
  subject: Joi.string().required(),
  description: Joi.string().required(),
  priority: Joi.string().valid(...SUPPORT_PRIORITIES).required(),
  status: Joi.string().valid(...SUPPORT_STATUSES).required(),
  requesterId: Joi.string().guid().required(),
  slaDueAt: Joi.date().required(),
  firstResponseAt: Joi.date().allow(null).required(),
  resolvedAt: Joi.date().allow(null).required(),
  closedAt: Joi.date().allow(null).required(),
  createdAt: Joi.date().required(),
  updatedAt: Joi.date().required(),
};

const messageFields = {
  id: Joi.string().guid().required(),
  authorType: Joi.string().valid('user', 'staff').required(),
  authorId: Joi.string().guid().required(),
  body: Joi.string().required(),
  createdAt: Joi.date().required(),
};

export const supportTicketSchema = Joi.object(ticketFields);
export const supportMessageSchema = Joi.object(messageFields);
export const supportTicketDetailSchema = Joi.object({ ...ticketFields, messages: Joi.array().items(supportMessageSchema).required() });

export const staffTicketSchema = Joi.object({
  ...ticketFields,
  tenantId: Joi.string().guid().required(),
  assigneeId: Joi.string().guid().allow(null).required(),
  breached: Joi.boolean().required(),
  firstResponseMinutes: Joi.number().allow(null).required().description('Minutes from creation to the first staff answer'),
  resolutionMinutes: Joi.number().allow(null).required().description('Minutes from creation to resolution'),
});
export const staffMessageSchema = Joi.object({ ...messageFields, internal: Joi.boolean().required() });
export const staffTicketDetailSchema = staffTicketSchema.keys({ messages: Joi.array().items(staffMessageSchema).required() });
