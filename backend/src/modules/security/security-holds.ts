import { RedisClient } from '../../infra/redis';

/**
 * Short-lived counters and holds the automatic responses keep: a caller's refusals within the walk
 * window, an IP's sign-in delay, an API key's throttle. In Redis when the deployment has one, so every
 * instance applies a response raised on any of them; otherwise in this process's memory (one instance).
 */
export interface SecurityHolds {
  /** Counts one more within a window that starts at the first; answers the count so far. */
  count(key: string, windowSeconds: number): Promise<number>;
  /** Puts a hold on the key for this many seconds (a hold already there is renewed). */
  hold(key: string, seconds: number): Promise<void>;
  /** Seconds the hold on the key has left; 0 when there is none. */
  heldSeconds(key: string): Promise<number>;
}

function redisHolds(redis: RedisClient, prefix: string): SecurityHolds {
  return {
    async count(key, windowSeconds) {
      const name = `${prefix}security:${key}`;
      const [[, count]] = (await redis.multi().incr(name).expire(name, windowSeconds, 'NX').exec()) as [[unknown, number]];
      return count;
    },
    async hold(key, seconds) {
      await redis.set(`${prefix}security:${key}`, '1', 'EX', seconds);
    },
    async heldSeconds(key) {
      return Math.max(0, await redis.ttl(`${prefix}security:${key}`));
    },
  };
}

function memoryHolds(): SecurityHolds {
  const entries = new Map<string, { count: number; until: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.until <= Date.now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    async count(key, windowSeconds) {
      const entry = live(key) ?? { count: 0, until: Date.now() + windowSeconds * 1000 };
      entry.count += 1;
      entries.set(key, entry);
      return entry.count;
    },
    async hold(key, seconds) {
      entries.set(key, { count: 1, until: Date.now() + seconds * 1000 });
    },
    async heldSeconds(key) {
      const entry = live(key);
      return entry ? Math.ceil((entry.until - Date.now()) / 1000) : 0;
    },
  };
}

export function createSecurityHolds(redis: RedisClient | undefined, prefix: string): SecurityHolds {
  return redis ? redisHolds(redis, prefix) : memoryHolds();
}

export const walkKey = (caller: { kind: 'user' | 'api_key'; id: string }) => `walk:${caller.kind}:${caller.id}`;
export const keyThrottleKey = (apiKeyId: string) => `throttle:api_key:${apiKeyId}`;
export const signinDelayKey = (ip: string) => `signin-delay:${ip}`;
