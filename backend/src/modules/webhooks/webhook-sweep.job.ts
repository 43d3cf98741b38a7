import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';
import { enqueueDeliveries } from './webhook-outbox';

/** Delivered or failed events are kept this long for the delivery log and replays. */
export const EVENT_RETENTION_DAYS = 30;
/** A pending delivery this late past its time has lost its job (or its job is stuck): it gets a new one. */
const STALE_MINUTES = 5;

/**
 * Safety net for the outbox: deliveries still pending well after they were due are enqueued again
 * (a run's claim keeps them from being sent twice at once), and old events go with their deliveries.
 */
export const webhookSweepJob = defineJob({
  name: 'webhooks.sweep',
  payload: schedulePayload,
  schedule: '*/5 * * * *',
  async run(_payload, deps, job) {
    let requeued = 0;
    let purged = 0;
    await forEachTenant(deps, async (trx) => {
      const stale = (await trx('webhookDeliveries')
        .where({ status: 'pending' })
        .where('nextAttemptAt', '<', trx.raw(`now() - interval '${STALE_MINUTES} minutes'`))
        .where((free) => free.whereNull('lockedUntil').orWhere('lockedUntil', '<', trx.fn.now()))
        .limit(10_000)
        .select('id')) as Array<{ id: string }>;
      await enqueueDeliveries(stale.map((row) => row.id));
      requeued += stale.length;
      purged += await trx('webhookEvents')
        .where('createdAt', '<', trx.raw(`now() - interval '${EVENT_RETENTION_DAYS} days'`))
        // Joined on tenant_id too, so that on Citus the subquery runs beside each shard (colocated), not across them.
        .whereNotExists(
          trx('webhookDeliveries')
            .whereRaw('webhook_deliveries.tenant_id = webhook_events.tenant_id and webhook_deliveries.event_id = webhook_events.id')
            .where({ status: 'pending' }),
        )
        .delete();
    });
    job.logger.info('webhook outbox swept', { requeued, purged });
  },
});
