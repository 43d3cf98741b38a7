import { tenantScope } from '../../infra/tenant-scope';
import { TenantPrincipal } from '../auth/principal';

const TIMELINE_LIMIT = 100;

/** Records that can be merged (POST /{resource}/:id/merge): a survivor's timeline shows the history of those merged into it. */
const MERGEABLE_TABLES: Record<string, string> = { lead: 'leads', contact: 'contacts', account: 'accounts' };

/** Parts orders placed for a record: their audit events (placed, status changes) are on its timeline too. */
const PARTS_ORDER_LINKS: Record<string, string> = { deal: 'dealId', ticket: 'ticketId', account: 'accountId' };

/**
 * A record's activities and audit events (its own, those of records merged into it, and those of parts
 * orders placed for it), newest first,
 * as one stream of events. Each part only for a caller who may read it elsewhere (`activities:read`,
 * `audit:read`): the record's read permission opens the record, not what other modules hold about it.
 * (Reads are not own/team scoped: a sales user reads every record and changes only their own and their
 * team's, record-access.ts.)
 */
export async function recordTimeline(principal: TenantPrincipal, resourceType: string, id: string) {
  const { trx } = tenantScope();
  const mergedTable = MERGEABLE_TABLES[resourceType];
  const merged = mergedTable && principal.permissions.has('audit:read') ? ((await trx(mergedTable).where({ mergedInto: id }).pluck('id')) as string[]) : [];
  const [activities, audits] = await Promise.all([
    !principal.permissions.has('activities:read') ? [] : trx('activities')
      .where({ relatedType: resourceType, relatedId: id })
      .whereNull('deletedAt')
      .orderBy('occurredAt', 'desc')
      .limit(TIMELINE_LIMIT)
      .select('id', 'type', 'subject', 'occurredAt', 'ownerId', 'durationMinutes'),
    !principal.permissions.has('audit:read') ? [] : trx('auditLogs')
      .where((own) => {
        own.where({ resourceType }).whereIn('resourceId', [id, ...merged]);
        const link = PARTS_ORDER_LINKS[resourceType];
        if (link) own.orWhere((orders) => orders.where({ resourceType: 'parts_order' }).whereIn('resourceId', trx('partsOrders').where(link, id).select('id')));
      })
      .orderBy('appendId', 'desc')
      .limit(TIMELINE_LIMIT)
      .select('id', 'action', 'occurredAt', 'actorType', 'actorId', 'result'),
  ]);
  return [
    ...activities.map((activity) => ({ kind: 'activity' as const, at: activity.occurredAt as Date, activity })),
    ...audits.map((entry) => ({ kind: 'audit' as const, at: entry.occurredAt as Date, audit: entry })),
  ]
    .sort((a, b) => b.at.getTime() - a.at.getTime())
    .slice(0, TIMELINE_LIMIT);
}
