import { tenantScope } from '../../infra/tenant-scope';
import { notFound } from '../../lib/errors';
import { keysetPage, timeKeyset } from '../../lib/pagination';

export interface NotificationRow {
  id: string;
  userId: string;
  type: 'task.assigned' | 'deal.stage_changed' | 'ticket.assigned';
  resourceType: string;
  resourceId: string;
  data: Record<string, unknown>;
  readAt: Date | null;
  createdAt: Date;
}

/** A notification as GET /me/notifications and the live stream show it. */
export const presentNotification = (row: NotificationRow) => ({
  id: row.id,
  userId: row.userId,
  type: row.type,
  resourceType: row.resourceType,
  resourceId: row.resourceId,
  data: row.data,
  readAt: row.readAt,
  createdAt: row.createdAt,
});

/** Newest first. */
export const NOTIFICATIONS_KEYSET = timeKeyset({ order: 'desc' });

/** The caller's notifications; `unread` leaves out those read. */
export async function listNotifications(userId: string, query: { limit: number; cursor?: string[]; unread?: boolean }) {
  const { trx } = tenantScope();
  const rows = trx('userNotifications').where({ userId }).select('*');
  if (query.unread) rows.whereNull('readAt');
  const page = await keysetPage<NotificationRow>(rows, NOTIFICATIONS_KEYSET, query);
  return { data: page.rows.map(presentNotification), pagination: page.pagination };
}

/**
 * Marks the caller's notifications read (the ids given, or all); answers how many were unread. An id that is
 * not one of the caller's notifications is 404 and nothing is marked: someone else's answers like an unknown one.
 */
export async function markNotificationsRead(userId: string, which: { ids?: string[]; all?: boolean }): Promise<number> {
  const { trx } = tenantScope();
  if (which.ids) {
    const found = (await trx('userNotifications').where({ userId }).whereIn('id', which.ids).count({ count: '*' })) as Array<{ count: string }>;
    if (Number(found[0]?.count) !== which.ids.length) throw notFound('Notification');
  }
  const query = trx('userNotifications').where({ userId }).whereNull('readAt');
  if (!which.all) query.whereIn('id', which.ids ?? []);
  return Number(await query.update({ readAt: trx.fn.now() }));
}

/** How many of the caller's notifications are unread (the badge). */
export async function unreadCount(userId: string): Promise<number> {
  const row = (await tenantScope().trx('userNotifications').where({ userId }).whereNull('readAt').count('* as count').first()) as { count: string } | undefined;
  return Number(row?.count ?? 0);
}
