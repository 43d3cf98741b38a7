import { Redis } from 'ioredis';
import { Logger } from './logger';

/**
 * Fails fast instead of queueing: while Redis is away, commands reject at once so requests never hang,
 * and the client keeps reconnecting in the background so recovery needs no restart.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
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
