import Joi from 'joi';
import { Knex } from 'knex';
import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { connectRedis, RedisClient } from '../../infra/redis';
import { dayHashKey, parseDayHash, utcDay, writeDayCounts } from './usage-store';

/**
 * Copies one day's counters from Redis into usage_daily as that day's totals. Redis holds totals (every
 * instance HINCRBYs the same hash), so the copy is an upsert of absolute values: running it again for a
 * day, or after a partial run, stores the same numbers and never counts twice.
 */
export async function rollupUsageDay(redis: RedisClient, platformKnex: Knex, prefix: string, day: string): Promise<number> {
  const counts = parseDayHash(await redis.hgetall(dayHashKey(prefix, day)));
  return writeDayCounts(platformKnex, day, counts, 'set');
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
      job.logger.info('usage rolled up', { days, rows });
    } finally {
      redis.disconnect();
    }
  },
});
