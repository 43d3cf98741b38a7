import { randomUUID } from 'node:crypto';
import Joi from 'joi';
import { Knex } from 'knex';
import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { connectRedis, RedisClient } from '../../infra/redis';
import { batchHashKey, batchSetKey, DAY_HASH_TTL_SECONDS, dayHashKey, parseDayHash, utcDay, writeDayCounts } from './usage-store';

/**
 * Takes the day's hash out of Redis under a fresh batch id, atomically (RENAME, in one script), and notes
 * the id in the day's batch set. Counting goes on in a new hash meanwhile.
 */
const TAKE_BATCH = `
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('rename', KEYS[1], KEYS[2])
redis.call('expire', KEYS[2], ARGV[2])
redis.call('sadd', KEYS[3], ARGV[1])
redis.call('expire', KEYS[3], ARGV[2])
return 1`;

/**
 * Moves one day's counters from Redis into usage_daily, adding them. Redis holds only what no rollup has
 * moved yet, so a Redis restart (which empties it) loses at most the counts since the last rollup and never
 * lowers usage_daily. Each batch is added in the transaction that records its id in usage_rollup_batches,
 * and leaves Redis only after that commits: a batch whose rollup failed half-way is finished by the next
 * run, and added once.
 */
export async function rollupUsageDay(redis: RedisClient, platformKnex: Knex, prefix: string, day: string): Promise<number> {
  const taken = randomUUID();
  await redis.eval(TAKE_BATCH, 3, dayHashKey(prefix, day), batchHashKey(prefix, day, taken), batchSetKey(prefix, day), taken, DAY_HASH_TTL_SECONDS);
  let rows = 0;
  for (const batchId of await redis.smembers(batchSetKey(prefix, day))) {
    const counts = parseDayHash(await redis.hgetall(batchHashKey(prefix, day, batchId)));
    rows += await platformKnex.transaction(async (trx) => {
      const claimed = await trx('usage_rollup_batches').insert({ id: batchId, day }).onConflict('id').ignore().returning('id');
      return claimed.length ? writeDayCounts(trx, day, counts) : 0;
    });
    await redis.del(batchHashKey(prefix, day, batchId));
    await redis.srem(batchSetKey(prefix, day), batchId);
  }
  return rows;
}

/**
 * Every 10 minutes: yesterday (its last minutes) and today. Without REDIS_URL there is nothing to copy:
 * instances then add their counters to usage_daily themselves.
 */
export const usageRollupJob = defineJob({
  name: 'usage.rollup',
  payload: schedulePayload.keys({ day: Joi.string().isoDate().max(10) }),
  schedule: '*/10 * * * *',
  async run(payload, deps, job) {
    const redis = connectRedis(deps.config, job.logger);
    if (!redis) {
      job.logger.info('usage rollup skipped: without Redis, instances write usage_daily directly');
      return;
    }
    try {
      const today = new Date();
      const days = payload.day ? [payload.day] : [utcDay(new Date(today.getTime() - 86_400_000)), utcDay(today)];
      let rows = 0;
      for (const day of days) rows += await rollupUsageDay(redis, deps.platformKnex, deps.config.redisKeyPrefix, day);
      // A batch id only guards retries while the batch can still be in Redis (its keys expire).
      await deps.platformKnex('usageRollupBatches').where('addedAt', '<', new Date(Date.now() - (DAY_HASH_TTL_SECONDS + 86_400) * 1000)).delete();
      job.logger.info('usage rolled up', { days, rows });
    } finally {
      redis.disconnect();
    }
  },
});
