import { randomUUID } from 'node:crypto';
import { tenantScope } from '../../infra/tenant-scope';
import { storeChangeEvents } from '../change-feed/change-feed.store';
import type { EventOf } from '../events/domain-events';
import { defineSubscriber } from '../events/event-subscriber';
import { NotificationRow, presentNotification } from './user-notifications.service';

type Taken = EventOf<'record.created' | 'record.updated' | 'deal.stage_changed'>;
type NotificationType = NotificationRow['type'];

interface Pending {
  userId: string;
  type: NotificationType;
  resourceType: 'task' | 'ticket' | 'deal';
  resourceId: string;
  data: Record<string, unknown>;
}

/** The record each kind of notification is about, and its title column. */
const SOURCES = { task: { table: 'tasks', title: 'title' }, ticket: { table: 'tickets', title: 'subject' }, deal: { table: 'deals', title: 'name' } } as const;

/** Who a change concerns: the new assignee of a task or ticket, the owner of a deal that changed stage. */
function concerned(event: Taken): Array<Omit<Pending, 'data'> & { data: Record<string, unknown>; recipientField?: 'ownerId' }> {
  if (event.type === 'deal.stage_changed') {
    return [{ userId: '', recipientField: 'ownerId', type: 'deal.stage_changed', resourceType: 'deal', resourceId: event.id, data: { from: event.from, to: event.to, kind: event.kind } }];
  }
  if (event.resource !== 'task' && event.resource !== 'ticket') return [];
  const fields = event.type === 'record.created' ? event.record : event.after;
  const assignee = fields.assigneeId;
  if (typeof assignee !== 'string') return [];
  return [{ userId: assignee, type: `${event.resource}.assigned`, resourceType: event.resource, resourceId: event.id, data: {} }];
}

/**
 * The notification feed (GET /me/notifications): what a unit of work changed that concerns a user other
 * than the one who changed it, written in the same transaction, and pushed on that user's live stream
 * (GET /events/stream) as a `notification.created` event only they see.
 */
export const userNotificationFeed = defineSubscriber({
  name: 'notification feed',
  types: ['record.created', 'record.updated', 'deal.stage_changed'],
  async handle(events, { actor }) {
    const wanted = events.flatMap(concerned);
    if (wanted.length === 0) return;
    const { trx, tenantId } = tenantScope();
    const pending: Pending[] = [];
    for (const [resourceType, source] of Object.entries(SOURCES) as Array<[Pending['resourceType'], (typeof SOURCES)[keyof typeof SOURCES]]>) {
      const ids = wanted.filter((entry) => entry.resourceType === resourceType).map((entry) => entry.resourceId);
      if (ids.length === 0) continue;
      const rows = (await trx(source.table).whereIn('id', ids).select('id', `${source.title} as title`, ...(resourceType === 'deal' ? ['ownerId'] : []))) as Array<{ id: string; title: string; ownerId?: string | null }>;
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const entry of wanted.filter((candidate) => candidate.resourceType === resourceType)) {
        const row = byId.get(entry.resourceId);
        const userId = entry.recipientField ? row?.ownerId : entry.userId;
        // Nobody is told of what they did themselves.
        if (!row || !userId || (actor.actorType === 'user' && actor.actorId === userId)) continue;
        pending.push({ userId, type: entry.type, resourceType, resourceId: entry.resourceId, data: { ...entry.data, title: row.title, by: actor.actorId } });
      }
    }
    if (pending.length === 0) return;
    const stored = (await trx('userNotifications')
      .insert(pending.map((entry) => ({ tenantId, ...entry, data: JSON.stringify(entry.data) })))
      .returning('*')) as NotificationRow[];
    await storeChangeEvents(
      stored.map((row) => ({ id: randomUUID(), type: 'notification.created', resourceType: 'notification', resourceId: row.id, data: { object: presentNotification(row) } })),
    );
  },
});
