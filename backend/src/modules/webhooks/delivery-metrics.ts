import { Knex } from 'knex';
import client from 'prom-client';
import { readOncePerScrape } from '../../infra/metrics';

interface RetryingDeliveries {
  retrying: number;
  tenants: number;
}

/**
 * Deliveries whose receiver failed at least once and that are waiting for their next try, across tenants
 * (the platform role reads every tenant's rows; only pending ones, a partial index). A receiver that
 * keeps failing shows here for up to 24 hours before its deliveries turn `failed`.
 */
async function retryingDeliveries(platformKnex: Knex): Promise<RetryingDeliveries> {
  const row = await platformKnex('webhookDeliveries')
    .where({ status: 'pending' })
    .where('attempts', '>', 0)
    .first<RetryingDeliveries>(platformKnex.raw('count(*)::int as retrying'), platformKnex.raw('count(distinct tenant_id)::int as tenants'));
  return { retrying: row?.retrying ?? 0, tenants: row?.tenants ?? 0 };
}

/** `webhook_deliveries_retrying` and `webhook_deliveries_retrying_tenants`: receivers that fail. */
export function registerWebhookDeliveryMetrics(registry: client.Registry, platformKnex: Knex): void {
  const read = readOncePerScrape(() => retryingDeliveries(platformKnex));
  new client.Gauge({
    name: 'webhook_deliveries_retrying',
    help: 'Webhook deliveries whose receiver failed at least once, waiting for a retry',
    registers: [registry],
    async collect() {
      this.set((await read())?.retrying ?? Number.NaN);
    },
  });
  new client.Gauge({
    name: 'webhook_deliveries_retrying_tenants',
    help: 'Tenants with at least one webhook delivery waiting for a retry',
    registers: [registry],
    async collect() {
      this.set((await read())?.tenants ?? Number.NaN);
    },
  });
}
