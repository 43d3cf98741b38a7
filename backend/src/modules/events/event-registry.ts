import { AppConfig } from '../../config/app-config';
import { auditTrail } from '../audit/audit-subscriber';
import { billingNotices } from '../billing/billing-notices';
import { slackNotices } from '../integrations/slack-notices';
import { ticketConfirmations } from '../notifications/notification-rules';
import { userNotificationFeed } from '../notifications/user-notifications.subscriber';
import { securityDetectors } from '../security/security-subscriber';
import { deliveryTargetsCache } from '../webhooks/delivery-targets';
import { webhookOutbox } from '../webhooks/webhook-outbox';
import { DomainEvent } from './domain-events';
import { currentEventContext } from './event-context';
import { EventSubscriber, PublishContext } from './event-subscriber';

/**
 * Who reacts to domain events, all in this one place. These run in the unit of work's transaction, just
 * before it commits, in this order, so what they write commits (or rolls back) with the change: the
 * audit entries last, since the chain is extended at the very end; the notification feed after the outbox, so
 * that a notification follows the change it is about in the change feed.
 */
const IN_TRANSACTION: readonly EventSubscriber[] = [webhookOutbox, userNotificationFeed, slackNotices, ticketConfirmations, billingNotices, securityDetectors, auditTrail];

/** These run once the transaction has committed (what is cached in process must not outlive a change). */
const AFTER_COMMIT: readonly EventSubscriber[] = [deliveryTargetsCache];

async function deliver(subscribers: readonly EventSubscriber[], events: readonly DomainEvent[], context: PublishContext): Promise<void> {
  for (const subscriber of subscribers) {
    const types: readonly string[] = subscriber.types;
    const taken = events.filter((event) => types.includes(event.type));
    if (taken.length > 0) await subscriber.handle(taken, context);
  }
}

/** Stage 16: the events the unit of work recorded go to their subscribers, inside its transaction. */
export async function publishRecordedEvents(config: AppConfig): Promise<void> {
  const context = currentEventContext();
  const events = context.recorded.splice(0);
  await deliver(IN_TRANSACTION, events, { tenantId: context.tenantId, actor: context.actor, config });
  context.published.push(...events);
}

/** After the commit: the published events reach the after-commit subscribers. */
export async function settleCommittedEvents(config: AppConfig): Promise<void> {
  const context = currentEventContext();
  await deliver(AFTER_COMMIT, context.published.splice(0), { tenantId: context.tenantId, actor: context.actor, config });
}
