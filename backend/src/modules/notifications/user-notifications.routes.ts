import Joi from 'joi';
import { defineRoute, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { cursorParam } from '../../lib/pagination';
import { listNotifications, markNotificationsRead, NOTIFICATIONS_KEYSET, unreadCount } from './user-notifications.service';

const tags = ['Notifications'];

const notificationSchema = Joi.object({
  id: Joi.string().uuid().required(),
  userId: Joi.string().uuid().required(),
  type: Joi.string().valid('task.assigned', 'deal.stage_changed', 'ticket.assigned').required(),
  resourceType: Joi.string().valid('task', 'deal', 'ticket').required(),
  resourceId: Joi.string().uuid().required(),
  data: Joi.object({
    title: Joi.string().allow('').required().description("The task's title, the ticket's subject or the deal's name"),
    by: Joi.string().uuid().allow(null).required().description('Who made the change (a user or an API key id)'),
    from: Joi.string().allow(null).description('deal.stage_changed: the stage before'),
    to: Joi.string().description('deal.stage_changed: the stage after'),
    kind: Joi.string().valid('open', 'won', 'lost').description("deal.stage_changed: the new stage's kind"),
  }).required(),
  readAt: Joi.date().iso().allow(null).required(),
  createdAt: Joi.date().iso().required(),
});

/** GET /me/notifications and POST /me/notifications/read: a signed-in user's own feed (API keys have none). */
export function userNotificationsRoutes(): RouteDefinition[] {
  return [
    defineRoute({
      method: 'get',
      path: '/me/notifications',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'What concerns me, newest first: a task or ticket assigned to me, a stage change of a deal I own',
      description: 'Made by someone else than me; each is also pushed on `GET /events/stream` as a `notification.created` event that only I receive.',
      response: { status: 200, description: 'A page of notifications, newest first', schema: notificationSchema },
      tags,
      schema: { query: Joi.object<{ cursor?: string[]; limit: number; unread?: boolean }>({ cursor: cursorParam(NOTIFICATIONS_KEYSET), limit: Joi.number().integer().min(1).max(100).default(50), unread: Joi.boolean() }) },
      handler: async (input) => {
        const caller = principalOf(input, 'user');
        const result = await listNotifications(caller.userId, {
          limit: input.query.limit,
          cursor: input.query.cursor,
          unread: input.query.unread === true,
        });
        return page(result.data, result.pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/me/notifications/read',
      auditResource: 'notification',
      permission: 'authenticated',
      usersOnly: true,
      summary: 'Mark my notifications read: those named by `ids`, or `all`',
      description: 'An id that is not one of your notifications (unknown, another user\'s, another organization\'s) is 404 `NOT_FOUND`, and nothing is marked.',
      response: {
        status: 200,
        description: 'How many were marked (unread ones among those named) and how many unread remain',
        schema: Joi.object({ read: Joi.number().integer().required(), unread: Joi.number().integer().required() }),
      },
      tags,
      schema: { body: Joi.object<{ ids?: string[]; all?: boolean }>({ ids: Joi.array().items(Joi.string().uuid()).min(1).max(500).unique(), all: Joi.boolean().valid(true) }).xor('ids', 'all') },
      handler: async (input) => {
        const caller = principalOf(input, 'user');
        const read = await markNotificationsRead(caller.userId, input.body);
        return ok({ read, unread: await unreadCount(caller.userId) });
      },
    }),
  ];
}
