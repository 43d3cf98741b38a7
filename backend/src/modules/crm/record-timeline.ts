import { tenantScope } from '../../infra/tenant-scope';

const TIMELINE_LIMIT = 100;

/** A record's activities and audit events, newest first, as one stream of events. */
export async function recordTimeline(resourceType: string, id: string) {
  const { trx } = tenantScope();
  const [activities, audits] = await Promise.all([
    trx('activities')
      .where({ relatedType: resourceType, relatedId: id })
      .whereNull('deletedAt')
      .orderBy('occurredAt', 'desc')
      .limit(TIMELINE_LIMIT)
      .select('id', 'type', 'subject', 'occurredAt', 'ownerId', 'durationMinutes'),
    trx('auditLogs')
      .where({ resourceType, resourceId: id })
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
