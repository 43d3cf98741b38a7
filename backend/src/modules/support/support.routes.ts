import { AppDeps } from '../../app-deps';
import { AnyRouteInput, created, defineRoute, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { PlatformActor } from '../admin/platform-audit';
import {
  createSupportTicketBody,
  listStaffTicketsQuery,
  listSupportTicketsQuery,
  staffMessageBody,
  staffTicketDetailSchema,
  staffTicketSchema,
  supportMessageBody,
  supportMessageSchema,
  supportTicketDetailSchema,
  supportTicketParams,
  supportTicketSchema,
  updateSupportTicketBody,
} from './support.schema';
import { createSupportDeskService } from './support-desk.service';
import { createSupportStaffService } from './support-staff.service';

/** The tenant's side: anyone in an organization (`support:create`, every system role) asks the platform for help. */
export function supportRoutes(deps: AppDeps): RouteDefinition[] {
  const desk = createSupportDeskService(deps.config);
  const tags = ['Support desk'];
  const permission = 'support:create' as const;
  return [
    defineRoute({
      method: 'post',
      path: '/support/tickets',
      permission,
      usersOnly: true,
      auditResource: 'support_ticket',
      summary: "Asks the platform's support for help: a ticket numbered SUP-000123, due for a first answer by the plan's SLA",
      description: 'SLA to a first answer by plan (SUPPORT_SLA_HOURS, default enterprise 4 h, pro 24 h, free 72 h). The requester gets a confirmation e-mail.',
      response: { status: 201, description: 'The ticket', schema: supportTicketSchema },
      tags,
      schema: { body: createSupportTicketBody },
      handler: async (input) => created(await desk.create(principalOf(input, 'user'), input.body)),
    }),
    defineRoute({
      method: 'get',
      path: '/support/tickets',
      permission,
      usersOnly: true,
      summary: "The organization's support tickets, oldest first; filter `status`",
      response: { status: 200, description: 'A page of tickets', schema: supportTicketSchema },
      tags,
      schema: { query: listSupportTicketsQuery },
      handler: async (input) => {
        const { data, pagination } = await desk.list(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/support/tickets/:id',
      permission,
      usersOnly: true,
      summary: 'A support ticket with its messages (staff notes are never shown)',
      response: { status: 200, description: 'The ticket', schema: supportTicketDetailSchema },
      tags,
      schema: { params: supportTicketParams },
      handler: async (input) => ok(await desk.get(input.params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/support/tickets/:id/messages',
      permission,
      usersOnly: true,
      auditResource: 'support_ticket',
      summary: 'Adds a reply; a ticket waiting for the customer (or resolved) goes back to in_progress; 409 when closed',
      response: { status: 201, description: 'The message', schema: supportMessageSchema },
      tags,
      schema: { params: supportTicketParams, body: supportMessageBody },
      handler: async (input) => created(await desk.reply(principalOf(input, 'user'), input.params.id, input.body.body)),
    }),
  ];
}

const actorOf = (input: AnyRouteInput): PlatformActor => ({
  principal: principalOf(input, 'platform_admin'),
  ip: input.ip,
  userAgent: input.userAgent,
  requestId: input.requestId,
});

/** The staff side: the queue across tenants (`support:read`), and answering it (`support:manage`). */
export function supportAdminRoutes(deps: AppDeps): RouteDefinition[] {
  const staff = createSupportStaffService(deps);
  const tags = ['Platform admin'];
  return [
    defineRoute({
      method: 'get',
      path: '/admin/support/tickets',
      permission: 'platform:support:read',
      summary: 'Support tickets of every tenant, oldest first; filters status, priority, tenantId, assigneeId, breached',
      response: { status: 200, description: 'A page of tickets', schema: staffTicketSchema },
      tags,
      schema: { query: listStaffTicketsQuery },
      handler: async (input) => {
        const { data, pagination } = await staff.list(input.query);
        return page(data, pagination);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/admin/support/tickets/:id',
      permission: 'platform:support:read',
      summary: 'A support ticket with every message, internal notes included',
      response: { status: 200, description: 'The ticket', schema: staffTicketDetailSchema },
      tags,
      schema: { params: supportTicketParams },
      handler: async (input) => ok(await staff.get(input.params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/support/tickets/:id',
      permission: 'platform:support:manage',
      summary: 'Changes status, priority or assignee; resolving or closing stamps the time',
      response: { status: 200, description: 'The ticket as it now stands', schema: staffTicketSchema },
      tags,
      schema: { params: supportTicketParams, body: updateSupportTicketBody },
      handler: async (input) => ok(await staff.update(input.params.id, input.body, actorOf(input))),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/support/tickets/:id/messages',
      permission: 'platform:support:manage',
      summary: 'Answers the tenant (e-mailed to the requester; the first answer is the first response) or adds an internal note',
      response: { status: 201, description: 'The ticket with its messages', schema: staffTicketDetailSchema },
      tags,
      schema: { params: supportTicketParams, body: staffMessageBody },
      handler: async (input) => created(await staff.reply(input.params.id, input.body, actorOf(input))),
    }),
  ];
}
