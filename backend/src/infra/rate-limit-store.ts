import { Redis } from 'ioredis';
import { RedisReply, RedisStore } from 'rate-limit-redis';
import { AppError } from '../lib/errors';

/**
 * rate-limit-redis, made to survive Redis outages: the package loads its Lua scripts once at start, so a
 * Redis that was down then would fail every later call. Here a failed call reloads the scripts for the
 * next one, and store failures surface as SERVICE_UNAVAILABLE for limiters that fail closed.
 */
class RecoveringRedisStore extends RedisStore {
  override async increment(key: string) {
    try {
      return await super.increment(key);
    } catch (error) {
      this.reloadScripts();
      throw unavailable(error);
    }
  }

  override async get(key: string) {
    try {
      return await super.get(key);
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
  return new RecoveringRedisStore({
    prefix: `${keyPrefix}rl:${limiter}:`,
    sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
  });
}
