import { Knex } from 'knex';
import { Logger } from '../../infra/logger';
import { addCounts, CountsByTenant, DAY_HASH_TTL_SECONDS, dayHashKey, emptyCounts, fieldOf, utcDay, writeDayCounts } from './usage-store';
import { RedisClient } from '../../infra/redis';

export interface UsageCountersDeps {
  platformKnex: Knex;
  redis?: RedisClient;
  redisKeyPrefix: string;
  flushSeconds: number;
  logger: Logger;
}

/**
 * API calls per tenant per UTC day, counted on every tenant request at the cost of a Map update.
 * Every USAGE_FLUSH_SECONDS (and on demand) the deltas move out: with Redis, HINCRBY into the day's
 * hash every instance shares (the usage.rollup job moves it into usage_daily); without Redis, an
 * additive upsert straight into usage_daily. A failed flush keeps its deltas for the next one.
 */
export class UsageCounters {
  private pending = new Map<string, CountsByTenant>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly deps: UsageCountersDeps) {}

  /** A tenant request finished with `status`. */
  record(tenantId: string, status: number, at: Date = new Date()): void {
    const day = utcDay(at);
    let days = this.pending.get(day);
    if (!days) this.pending.set(day, (days = new Map()));
    let counts = days.get(tenantId);
    if (!counts) days.set(tenantId, (counts = emptyCounts()));
    counts.apiCalls += 1;
    if (status >= 500) counts.serverErrors += 1;
    else if (status >= 400) counts.clientErrors += 1;
    this.startTimer();
  }

  /** Moves the deltas out; concurrent callers share one flush, then a caller that came late flushes again. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch)
      .catch((error: unknown) => {
        this.merge(batch);
        this.deps.logger.warn('usage counters could not be flushed; kept for the next flush', { error });
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
  }

  /** Flushes what is left and stops the timer (shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.deps.flushSeconds * 1000);
    // Counting must never keep a process (or a test run) alive.
    this.timer.unref();
  }

  private async write(batch: Map<string, CountsByTenant>): Promise<void> {
    const { redis, platformKnex, redisKeyPrefix } = this.deps;
    if (!redis) {
      for (const [day, counts] of batch) await writeDayCounts(platformKnex, day, counts);
      return;
    }
    // One MULTI per day's hash (on a Redis Cluster a transaction may only touch keys of one slot); a day
    // written leaves the batch, so a failure later puts back only the days not counted yet.
    for (const [day, counts] of batch) {
      const key = dayHashKey(redisKeyPrefix, day);
      const pipeline = redis.multi();
      for (const [tenantId, entry] of counts) {
        pipeline.hincrby(key, fieldOf(tenantId, 'calls'), entry.apiCalls);
        if (entry.clientErrors) pipeline.hincrby(key, fieldOf(tenantId, '4xx'), entry.clientErrors);
        if (entry.serverErrors) pipeline.hincrby(key, fieldOf(tenantId, '5xx'), entry.serverErrors);
      }
      pipeline.expire(key, DAY_HASH_TTL_SECONDS);
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('usage flush was not executed');
      batch.delete(day);
    }
  }

  private merge(batch: Map<string, CountsByTenant>): void {
    for (const [day, counts] of batch) {
      for (const [tenantId, entry] of counts) {
        let days = this.pending.get(day);
        if (!days) this.pending.set(day, (days = new Map()));
        days.set(tenantId, addCounts(days.get(tenantId) ?? emptyCounts(), entry));
      }
    }
  }
}
