import { EventOf } from '../events/domain-events';
import { defineSubscriber } from '../events/event-subscriber';
import { activeTargets } from '../webhooks/delivery-targets';
import { outboxEvent, OutboxEvent, OutboxTarget, RecordRef, recordSnapshots, storeOutboxEvents } from '../webhooks/webhook-outbox';
import { SlackEvent } from './slack-message';

type Notice = RecordRef & { notice: SlackEvent };

/** A deal entering a won or lost stage of its pipeline, a ticket created urgent or raised to urgent; nothing else. */
function noticesOf(event: EventOf<'deal.stage_changed' | 'record.created' | 'record.updated'>): Notice[] {
  switch (event.type) {
    case 'deal.stage_changed':
      if (event.kind === 'won') return [{ notice: 'deal.won', resource: 'deal', id: event.id }];
      if (event.kind === 'lost') return [{ notice: 'deal.lost', resource: 'deal', id: event.id }];
      return [];
    case 'record.created':
      return event.resource === 'ticket' && event.record.priority === 'urgent' ? [{ notice: 'ticket.urgent', resource: 'ticket', id: event.id }] : [];
    case 'record.updated':
      return event.resource === 'ticket' && event.after.priority === 'urgent' ? [{ notice: 'ticket.urgent', resource: 'ticket', id: event.id }] : [];
  }
}

/**
 * Slack notification integrations get their notices (`deal.won`, ...) as stored events of that type,
 * sent by the webhook delivery machinery (retries, the 410 rule, the delivery log) as a Slack message.
 */
export const slackNotices = defineSubscriber({
  name: 'Slack messages',
  types: ['deal.stage_changed', 'record.created', 'record.updated'],
  async handle(events) {
    const notices = events.flatMap(noticesOf);
    if (notices.length === 0) return;
    const targets = (await activeTargets()).slack
      .filter((target) => notices.some((notice) => target.notices.includes(notice.notice)))
      .map((target): OutboxTarget => ({ integrationId: target.integrationId, accepts: (event: OutboxEvent) => target.notices.includes(event.type) }));
    if (targets.length === 0) return;
    const objectOf = await recordSnapshots(notices);
    await storeOutboxEvents(
      notices.map((notice) => outboxEvent(notice.resource, notice.notice, objectOf(notice))),
      targets,
    );
  },
});
