import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../config/app-config';
import { tenantScope } from '../../infra/tenant-scope';
import { encryptCredential, rowContext } from '../credentials/credential-crypto';
import { randomSecret } from '../../lib/crypto';
import { AppError, notFound } from '../../lib/errors';
import { Page, pageByCreation } from '../../lib/pagination';
import { recordEvent } from '../events/event-context';
import { assertAcceptableUrl } from './destination-guard';
import { EVENT_TYPES, matchesAny } from './event-catalog';
import { WebhookDelivery, WebhookSubscription } from './webhook.models';
import { enqueueDeliveries, RETRY_WINDOW_MS } from './webhook-outbox';
import { presentDelivery, presentSubscription } from './webhook.presenter';

export interface SubscriptionDraft {
  url: string;
  events: string[];
  description?: string | null;
  active: boolean;
}

/** Events a replay by time may resend at once. */
const REPLAY_MAX = 1000;

export function createWebhooksService(config: AppConfig) {
  const guard = { allowPrivateNetworks: config.webhooks.allowPrivateNetworks, requireHttps: config.env === 'production' };

  async function load(id: string): Promise<WebhookSubscription> {
    const subscription = await WebhookSubscription.query().findById(id);
    if (!subscription) throw notFound('Webhook');
    return subscription;
  }

  async function loadDelivery(id: string): Promise<WebhookDelivery> {
    const delivery = await WebhookDelivery.query()
      .findById(id)
      .select('webhookDeliveries.*', 'e.type as eventType')
      .join('webhookEvents as e', (on) => on.on('e.id', 'webhookDeliveries.eventId').andOn('e.tenantId', 'webhookDeliveries.tenantId'));
    if (!delivery) throw notFound('Webhook delivery');
    return delivery;
  }

  /** New deliveries of existing events to one subscription, sent by the job engine after commit. */
  async function deliverTo(subscriptionId: string, eventIds: string[]): Promise<string[]> {
    if (eventIds.length === 0) return [];
    const { tenantId } = tenantScope();
    const now = new Date();
    const rows = eventIds.map((eventId) => ({
      tenantId,
      id: randomUUID(),
      eventId,
      subscriptionId,
      nextAttemptAt: now,
      retryUntil: new Date(now.getTime() + RETRY_WINDOW_MS),
    }));
    await tenantScope().trx('webhookDeliveries').insert(rows);
    await enqueueDeliveries(rows.map((row) => row.id));
    return rows.map((row) => row.id);
  }

  return {
    list: async (page: Page) => {
      const { rows, pagination } = await pageByCreation(WebhookSubscription.query(), page);
      return { rows: rows.map(presentSubscription), pagination };
    },

    get: async (id: string) => presentSubscription(await load(id)),

    /** The signing secret is generated here and shown in this answer only; it is stored encrypted, as it must sign. */
    async create(draft: SubscriptionDraft, actor: string) {
      await assertAcceptableUrl(draft.url, 'url', guard);
      const { tenantId } = tenantScope();
      const id = randomUUID();
      const secret = randomSecret('whsec_');
      const subscription = await WebhookSubscription.query()
        .insert({
          id,
          url: draft.url,
          events: draft.events,
          description: draft.description ?? null,
          active: draft.active,
          secretEncrypted: encryptCredential(config.credentialKeys, secret, rowContext('webhook_subscriptions', tenantId, id)),
          createdBy: actor,
          updatedBy: actor,
        } as never)
        .returning('*');
      recordEvent({ type: 'webhook.created', id, url: draft.url, events: draft.events, active: draft.active });
      return { ...presentSubscription(subscription), secret };
    },

    /**
     * A new signing secret, shown in this answer only. The one it replaces keeps signing next to it for
     * `overlapSeconds` (0: at once no more), so receivers can deploy the new secret without a failed check.
     * Rotating again during an overlap ends the older overlap: only the two latest secrets ever sign.
     */
    async rotateSecret(id: string, overlapSeconds: number, actor: string) {
      const existing = await load(id);
      const { tenantId } = tenantScope();
      const secret = randomSecret('whsec_');
      const previousSecretExpiresAt = new Date(Date.now() + overlapSeconds * 1000);
      const updated = await WebhookSubscription.query().patchAndFetchById(id, {
        secretEncrypted: encryptCredential(config.credentialKeys, secret, rowContext('webhook_subscriptions', tenantId, id)),
        previousSecretEncrypted: overlapSeconds > 0 ? existing.secretEncrypted : null,
        previousSecretExpiresAt: overlapSeconds > 0 ? previousSecretExpiresAt : null,
        updatedBy: actor,
      } as never);
      recordEvent({ type: 'webhook.secret_rotated', id, overlapSeconds });
      return { ...presentSubscription(updated), secret };
    },

    /** Turning a subscription back on clears why it was turned off (a 410). */
    async update(id: string, patch: Partial<SubscriptionDraft>, actor: string) {
      const existing = await load(id);
      if (patch.url !== undefined) await assertAcceptableUrl(patch.url, 'url', guard);
      const changes = { ...patch, ...(patch.active ? { disabledReason: null } : {}), updatedBy: actor };
      const updated = await WebhookSubscription.query().patchAndFetchById(id, changes as never);
      recordEvent({
        type: 'webhook.updated',
        id,
        before: Object.fromEntries(Object.keys(patch).map((field) => [field, existing[field as keyof SubscriptionDraft]])),
        after: patch,
      });
      return presentSubscription(updated);
    },

    async remove(id: string) {
      const existing = await load(id);
      await WebhookSubscription.query().deleteById(id);
      recordEvent({ type: 'webhook.deleted', id, url: existing.url, events: existing.events });
    },

    /** A `ping` event to this subscription alone: a way to check a receiver. */
    async ping(id: string) {
      if (!(await load(id)).active) throw new AppError('CONFLICT', 'The webhook is inactive; turn it on before pinging');
      const { trx, tenantId } = tenantScope();
      const eventId = randomUUID();
      await trx('webhookEvents').insert({ tenantId, id: eventId, type: 'ping', data: JSON.stringify({ object: { subscriptionId: id } }) });
      const [deliveryId] = await deliverTo(id, [eventId]);
      return presentDelivery(await loadDelivery(deliveryId!));
    },

    /** Resends stored events this subscription wants: the ones named, or every one since a time (at most 1000). */
    async replay(id: string, input: { eventIds?: string[]; since?: Date }) {
      const subscription = await load(id);
      if (!subscription.active) throw new AppError('CONFLICT', 'The webhook is inactive; turn it on before replaying');
      // Stored events of the catalogue only: not pings, not Slack notices.
      const query = tenantScope().trx('webhookEvents').whereIn('type', EVENT_TYPES).orderBy([{ column: 'createdAt' }, { column: 'id' }]).limit(REPLAY_MAX);
      if (input.eventIds) query.whereIn('id', input.eventIds);
      else query.where('createdAt', '>=', input.since!);
      const events = (await query.select('id', 'type')) as Array<{ id: string; type: string }>;
      if (input.eventIds && events.length !== input.eventIds.length) {
        throw new AppError('VALIDATION_ERROR', 'Some events do not exist', [{ field: 'eventIds', message: 'names an event that does not exist (or was purged)' }]);
      }
      const deliveries = await deliverTo(id, events.filter((event) => matchesAny(subscription.events, event.type)).map((event) => event.id));
      recordEvent({ type: 'webhook.replayed', id, deliveries: deliveries.length });
      return { deliveries: deliveries.length };
    },

    listDeliveries: async (subscriptionId: string, page: Page & { status?: string }) => {
      await load(subscriptionId);
      const query = WebhookDelivery.query()
        .where('webhookDeliveries.subscriptionId', subscriptionId)
        .select('webhookDeliveries.*', 'e.type as eventType')
        .join('webhookEvents as e', (on) => on.on('e.id', 'webhookDeliveries.eventId').andOn('e.tenantId', 'webhookDeliveries.tenantId'));
      if (page.status) query.where('webhookDeliveries.status', page.status);
      const { rows, pagination } = await pageByCreation(query, page);
      return { rows: rows.map(presentDelivery), pagination };
    },

    async getDelivery(id: string) {
      const delivery = await loadDelivery(id);
      const attemptLog = await tenantScope()
        .trx('webhookDeliveryAttempts')
        .where({ deliveryId: id })
        .orderBy('attempt')
        .select('attempt', 'outcome', 'responseStatus', 'durationMs', 'error', 'responseExcerpt', 'createdAt');
      return { ...presentDelivery(delivery), attemptLog };
    },

    /** A finished delivery sent again now, with a fresh 24-hour retry window. */
    async retryDelivery(id: string) {
      const delivery = await loadDelivery(id);
      if (delivery.status === 'pending') throw new AppError('CONFLICT', 'This delivery is still pending');
      const { trx } = tenantScope();
      const target = delivery.subscriptionId
        ? await trx('webhookSubscriptions').where({ id: delivery.subscriptionId }).first('active')
        : await trx('integrations').where({ id: delivery.integrationId! }).first('active');
      if (!target?.active) throw new AppError('CONFLICT', 'The webhook or integration of this delivery is inactive');
      const now = new Date();
      await trx('webhookDeliveries')
        .where({ id })
        .update({ status: 'pending', nextAttemptAt: now, retryUntil: new Date(now.getTime() + RETRY_WINDOW_MS), lastError: null });
      await enqueueDeliveries([id]);
      recordEvent({ type: 'webhook_delivery.retried', id });
      return presentDelivery(await loadDelivery(id));
    },
  };
}
