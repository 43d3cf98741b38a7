import Joi from 'joi';
import { defineJob, schedulePayload, tenantPayload } from '../../jobs/job-definition';
import { AppError } from '../../lib/errors';
import { inSystemUnit } from '../billing/system-unit';
import { enqueueJob } from '../../jobs/enqueue';
import { POLL_ORDER_JOB, createPartsService, SYNC_INVENTORY_JOB } from './parts.service';

/** A supplier that is down is no failure of the job: it asks again at the next poll or sync. */
const supplierDown = (error: unknown) => error instanceof AppError && error.code === 'SUPPLIER_UNAVAILABLE';

/**
 * Asks the supplier where one open order stands; a new status is stored and becomes an event. It queues
 * itself again (PARTS_ORDER_POLL_SECONDS later) until the order is delivered or cancelled, also when the
 * supplier is down meanwhile.
 */
export const partsOrderPollJob = defineJob({
  name: POLL_ORDER_JOB,
  payload: tenantPayload({ orderId: Joi.string().uuid().required() }),
  async run(payload, deps, job) {
    const parts = createPartsService(deps.config);
    const outcome = await inSystemUnit(deps, payload.tenantId, null, async () => {
      try {
        return (await parts.refreshOrder(payload.orderId)) ? 'final' : 'open';
      } catch (error) {
        if (!supplierDown(error)) throw error;
        await enqueueJob(POLL_ORDER_JOB, { orderId: payload.orderId }, { runAt: new Date(Date.now() + deps.config.parts.orderPollSeconds * 1000), jobKey: `parts-order-poll:${payload.orderId}` });
        return 'supplier_down';
      }
    });
    job.logger.info('parts order polled', { orderId: payload.orderId, outcome });
  },
});

/** One tenant's inventory cache, replaced by the supplier's feed (queued on demand and by the schedule). */
export const partsInventorySyncJob = defineJob({
  name: SYNC_INVENTORY_JOB,
  payload: tenantPayload({}),
  async run(payload, deps, job) {
    const result = await inSystemUnit(deps, payload.tenantId, null, () => createPartsService(deps.config).syncInventory());
    job.logger.info('parts inventory synced', { parts: result.parts });
  },
});

/** Every 6 hours: a sync of every tenant with an active supplier integration, each its own job (and retries). */
export const partsInventoryScheduleJob = defineJob({
  name: 'parts.sync_all',
  payload: schedulePayload,
  schedule: '0 */6 * * *',
  async run(_payload, deps, job) {
    const tenants = await deps.platformKnex('integrations').where({ type: 'capricorn_edi', active: true }).distinct<Array<{ tenantId: string }>>('tenantId');
    for (const { tenantId } of tenants) {
      await inSystemUnit(deps, tenantId, null, () => enqueueJob(SYNC_INVENTORY_JOB, {}, { jobKey: 'parts-inventory-sync' }));
    }
    job.logger.info('parts inventory syncs queued', { tenants: tenants.length });
  },
});
