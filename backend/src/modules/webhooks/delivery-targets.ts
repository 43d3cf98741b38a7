import { tenantScope } from '../../infra/tenant-scope';
import { defineSubscriber } from '../events/event-subscriber';

/** A subscription or custom-webhook integration, and the event patterns it takes (`lead.*`). */
export interface WebhookTarget {
  subscriptionId?: string;
  integrationId?: string;
  patterns: readonly string[];
}

/** A Slack integration and the notices it takes (`deal.won`). */
export interface SlackTarget {
  integrationId: string;
  notices: readonly string[];
}

export interface DeliveryTargets {
  webhooks: readonly WebhookTarget[];
  slack: readonly SlackTarget[];
}

/**
 * How long an instance trusts the targets it read. A change made through this instance applies at once
 * (the cache is dropped when the change commits); another instance sees it within this bound.
 */
export const TARGETS_CACHE_MS = 5_000;
/** Tenants kept at most; the least recently read go first. */
const MAX_TENANTS = 10_000;

const cache = new Map<string, { readAt: number; targets: DeliveryTargets }>();
/** Counts drops: a read that overlapped one may hold what was just changed, so it is not kept. */
let drops = 0;

/**
 * The current tenant's active webhook subscriptions and Slack / custom-webhook integrations, read
 * once per tenant per TARGETS_CACHE_MS rather than on every write.
 */
export async function activeTargets(): Promise<DeliveryTargets> {
  const { tenantId, trx } = tenantScope();
  const hit = cache.get(tenantId);
  if (hit && Date.now() - hit.readAt < TARGETS_CACHE_MS) return hit.targets;
  const dropsBefore = drops;
  const [subscriptions, integrations] = await Promise.all([
    trx('webhookSubscriptions').where({ active: true }).select<Array<{ id: string; events: string[] }>>('id', 'events'),
    trx('integrations')
      .where({ active: true })
      .whereIn('type', ['slack_notification', 'custom_webhook'])
      .select<Array<{ id: string; type: string; config: { events?: string[] } }>>('id', 'type', 'config'),
  ]);
  const targets: DeliveryTargets = {
    webhooks: [
      ...subscriptions.map((s) => ({ subscriptionId: s.id, patterns: s.events })),
      ...integrations.filter((i) => i.type === 'custom_webhook').map((i) => ({ integrationId: i.id, patterns: i.config.events ?? ['*'] })),
    ],
    slack: integrations.filter((i) => i.type === 'slack_notification').map((i) => ({ integrationId: i.id, notices: i.config.events ?? [] })),
  };
  if (drops === dropsBefore) {
    cache.delete(tenantId);
    cache.set(tenantId, { readAt: Date.now(), targets });
    if (cache.size > MAX_TENANTS) cache.delete(cache.keys().next().value!);
  }
  return targets;
}

/** Drops a tenant's targets, once a change to them has committed (or a delivery turned one off). */
export function forgetTargets(tenantId: string): void {
  drops += 1;
  cache.delete(tenantId);
}

/** Changes to subscriptions and integrations drop the cache once they commit (an after-commit subscriber). */
export const deliveryTargetsCache = defineSubscriber({
  name: 'delivery targets cache',
  types: ['webhook.created', 'webhook.updated', 'webhook.deleted', 'integration.created', 'integration.updated', 'integration.deleted'],
  async handle(_events, { tenantId }) {
    forgetTargets(tenantId);
  },
});
