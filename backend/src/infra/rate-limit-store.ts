import { Redis } from 'ioredis';
import { RedisReply, RedisStore } from 'rate-limit-redis';
import { AppError } from '../lib/errors';

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
export function redisRateLimitStore(redis: Redis, keyPrefix: string, limiter: string): RedisStore {
  return new RecoveringRedisStore(
    {
      prefix: `${keyPrefix}rl:${limiter}:`,
      sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
    },
    connectionOf(redis),
  );
}

function connectionOf(redis: Redis): Connection {
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
