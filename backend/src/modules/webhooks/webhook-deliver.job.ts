import Joi from 'joi';
import { defineJob, tenantPayload } from '../../jobs/job-definition';
import { attemptDelivery } from './webhook-delivery';
import { DELIVERIES_PER_JOB, DELIVERY_JOB } from './webhook-outbox';

/** Requests at once within one job: a batch of an import reaches its receiver in parallel, not all at once. */
const PARALLEL = 8;

/**
 * Sends a batch of deliveries. A receiver's failure is not the job's: retries follow the delivery's own
 * schedule (next_attempt_at, a new job), so only a database error makes the engine retry this job.
 */
export const webhookDeliverJob = defineJob({
  name: DELIVERY_JOB,
  payload: tenantPayload({ deliveryIds: Joi.array().items(Joi.string().uuid()).min(1).max(DELIVERIES_PER_JOB).required() }),
  maxAttempts: 10,
  async run({ tenantId, deliveryIds }, deps) {
    const queue = [...deliveryIds];
    const worker = async () => {
      for (let id = queue.shift(); id; id = queue.shift()) await attemptDelivery(deps, tenantId, id);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
  },
});
