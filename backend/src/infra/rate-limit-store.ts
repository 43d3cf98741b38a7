import { Cluster, Redis } from 'ioredis';
import { RedisReply, RedisStore } from 'rate-limit-redis';
import { AppError } from '../lib/errors';
import { isCluster, RedisClient } from './redis';

interface Connection {
  /** Settles once the client first connected or first failed to: calls wait for it, not for a timeout. */
  firstContact: Promise<void>;
  up(): boolean;
}

/**
 * rate-limit-redis, made to survive Redis outages: the package loads its Lua scripts once at start, so a
 * Redis that was down then would fail every later call. Here a failed call reloads the scripts; if the
 * connection is up, the call is tried once more (the scripts were lost with a restarted Redis, or their
 * first load timed out while the process was busy building the app), else it fails at once. Store
 * failures surface as SERVICE_UNAVAILABLE for limiters that fail closed.
 */
class RecoveringRedisStore extends RedisStore {
  constructor(
    options: ConstructorParameters<typeof RedisStore>[0],
    private readonly connection: Connection,
  ) {
    super(options);
  }

  override async increment(key: string) {
    return this.recovering(() => super.increment(key));
  }

  override async get(key: string) {
    return this.recovering(() => super.get(key));
  }

  private async recovering<T>(call: () => Promise<T>): Promise<T> {
    await this.connection.firstContact;
    try {
      return await call();
    } catch (error) {
      this.reloadScripts();
      if (!this.connection.up()) throw unavailable(error);
    }
    try {
      return await call();
    } catch (error) {
      this.reloadScripts();
      throw unavailable(error);
    }
  }

  private reloadScripts(): void {
    this.incrementScriptSha = this.loadIncrementScript();
    this.getScriptSha = this.loadGetScript();
    // Rejections are awaited by the next call; keep them from counting as unhandled meanwhile.
    this.incrementScriptSha.catch(() => undefined);
    this.getScriptSha.catch(() => undefined);
  }
}

function unavailable(cause: unknown): AppError {
  const error = new AppError('SERVICE_UNAVAILABLE', 'Rate limiting is temporarily unavailable, please retry', undefined, {
    'Retry-After': '5',
  });
  return Object.assign(error, { cause });
}

/** A store per limiter (express-rate-limit refuses to share one); same prefix means a shared counter. */
export function redisRateLimitStore(redis: RedisClient, keyPrefix: string, limiter: string): RedisStore {
  const prefix = `${keyPrefix}rl:${limiter}:`;
  const options = isCluster(redis)
    ? { prefix, sendCommandCluster: clusterSender(redis) }
    : { prefix, sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply> };
  return new RecoveringRedisStore(options, connectionOf(redis));
}

/** The scripts every store of a cluster client has loaded, to load again onto nodes that join it. */
const clusterScripts = new WeakMap<Cluster, Set<string>>();

/**
 * On a cluster, `SCRIPT LOAD` is keyless: sent like any command it would reach one node, and an
 * `EVALSHA` routed by its key to another primary would answer NOSCRIPT. So scripts are loaded on every
 * node the client knows (replicas too: one promoted by a failover has them already), again on each
 * node that joins (`+node`: a new primary after resharding, a replaced one), and again on every node
 * when rate-limit-redis meets NOSCRIPT anyway (a node restarted without them): it reloads and retries
 * once. `EVALSHA` carries its key, so ioredis sends it to the primary owning that key's slot.
 */
function clusterSender(cluster: Cluster) {
  let known = clusterScripts.get(cluster);
  if (!known) {
    const scripts = (known = new Set());
    clusterScripts.set(cluster, scripts);
    cluster.on('+node', (node: Redis) => {
      for (const script of scripts) node.call('SCRIPT', 'LOAD', script).catch(() => undefined);
    });
  }
  const scripts = known;
  return async ({ command }: { command: string[] }): Promise<RedisReply> => {
    const [name, ...args] = command as [string, ...string[]];
    const script = args[1];
    if (name.toUpperCase() !== 'SCRIPT' || args[0]?.toUpperCase() !== 'LOAD' || script === undefined) {
      return cluster.call(name, ...args) as Promise<RedisReply>;
    }
    scripts.add(script);
    // Before the first connection the client knows no node yet: one load, then `+node` does the rest.
    const nodes = cluster.nodes('all');
    if (nodes.length === 0) return cluster.call('SCRIPT', 'LOAD', script) as Promise<RedisReply>;
    // A node that cannot take it now answers NOSCRIPT later, which loads again; one success gives the SHA.
    const loads = await Promise.allSettled(nodes.map((node) => node.call('SCRIPT', 'LOAD', script) as Promise<string>));
    const loaded = loads.find((load) => load.status === 'fulfilled');
    if (loaded) return loaded.value;
    throw (loads[0] as PromiseRejectedResult).reason;
  };
}

function connectionOf(redis: RedisClient): Connection {
  const firstContact = new Promise<void>((resolve) => {
    if (redis.status === 'ready') return resolve();
    const settle = () => {
      for (const event of ['ready', 'error', 'end']) redis.off(event, settle);
      resolve();
    };
    for (const event of ['ready', 'error', 'end']) redis.on(event, settle);
  });
  return { firstContact, up: () => redis.status === 'ready' };
}
