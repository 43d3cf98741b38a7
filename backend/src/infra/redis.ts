import { Cluster, Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { Logger } from './logger';

/** One Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES): both speak the same commands. */
export type RedisClient = Redis | Cluster;

export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;

/**
 * Commands issued while (re)connecting wait in the offline queue, but never longer than commandTimeout,
 * and the queue is flushed after each failed reconnect: a Redis outage costs a request at most about a
 * second, never a hang. The client keeps reconnecting in the background, so recovery needs no restart.
 */
const COMMAND_OPTIONS = { connectTimeout: 2_000, commandTimeout: 1_000, maxRetriesPerRequest: 1 };
const retryStrategy = (attempt: number) => Math.min(attempt * 200, 2_000);

/** The deployment's Redis, if it has one: a cluster client when REDIS_CLUSTER_NODES is set. */
export function connectRedis(config: Pick<AppConfig, 'redisUrl' | 'redisCluster'>, logger: Logger): RedisClient | undefined {
  if (config.redisCluster) return createRedisCluster(config.redisCluster, logger);
  return config.redisUrl ? createRedis(config.redisUrl, logger) : undefined;
}

function createRedis(url: string, logger: Logger): Redis {
  return watched(new Redis(url, { ...COMMAND_OPTIONS, retryStrategy }), logger);
}

/**
 * ioredis Cluster: it reads the slot map from any seed node, sends each keyed command to the primary
 * owning the key's slot, follows MOVED/ASK redirections and refreshes the map on its own. Node
 * connections get the single client's timeouts; the cluster as a whole reconnects like it.
 */
function createRedisCluster(cluster: NonNullable<AppConfig['redisCluster']>, logger: Logger): Cluster {
  return watched(
    new Cluster(cluster.nodes, {
      clusterRetryStrategy: retryStrategy,
      // ioredis 6 otherwise reads the slot map only when a node redirects it: this also finds replicas
      // and joined primaries early (the rate-limit scripts are loaded on them) and moves the bus's
      // subscription after a failover even when no command was redirected.
      slotsRefreshInterval: 5_000,
      redisOptions: { ...COMMAND_OPTIONS, ...(cluster.password ? { password: cluster.password } : {}) },
    }),
    logger,
  );
}

/** One warning when Redis becomes unreachable and one line when it is back, not one per retry. */
function watched<T extends RedisClient>(redis: T, logger: Logger): T {
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
