import { Redis } from 'ioredis';
import { Logger } from './logger';

/**
 * Commands issued while (re)connecting wait in the offline queue, but never longer than commandTimeout,
 * and the queue is flushed after each failed reconnect: a Redis outage costs a request at most about a
 * second, never a hang. The client keeps reconnecting in the background, so recovery needs no restart.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  let healthy = true;
  redis.on('ready', () => {
    if (!healthy) logger.info('redis connection restored');
    healthy = true;
  });
  redis.on('error', (error: Error) => {
    if (healthy) logger.warn('redis unavailable', { error: error.message });
    healthy = false;
  });
  return redis;
}
