import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { ChangeBus, postgresChangeBus, redisChangeBus } from '../../infra/change-bus';
import { Logger } from '../../infra/logger';
import { RedisClient } from '../../infra/redis';

/** Channel on the bus: per deployment (REDIS_KEY_PREFIX) on Redis; per database on PostgreSQL. */
const REDIS_CHANNEL = 'change-feed';
const POSTGRES_CHANNEL = 'crm_change_feed';

/** One instance's live streams waiting for news of their tenant, and the bus the news travels on. */
interface LiveEvents {
  bus: ChangeBus;
  logger: Logger;
  waiting: Map<string, Set<() => void>>;
  /** Shutting down: streams end, so the HTTP server can close (clients resume elsewhere by Last-Event-ID). */
  ended: boolean;
}

export interface LiveEventsDeps {
  config: AppConfig;
  knex: Knex;
  redis?: RedisClient;
  logger: Logger;
}

// Keyed by pool, like principal revocation: a change committed through a pool is announced by its instance.
const byPool = new WeakMap<Knex, LiveEvents>();

/**
 * Starts what tells live streams that their tenant's feed has grown: only a wake-up travels on the bus
 * (`{"tenantId"}`), the events themselves are read from the feed, so a lost message delays a stream by
 * at most one heartbeat (it reads the feed then anyway) and loses nothing. Redis carries the news when
 * REDIS_URL is set, PostgreSQL LISTEN/NOTIFY otherwise; a worker only announces.
 */
export function startLiveEvents(deps: LiveEventsDeps, role: 'serves' | 'announces'): void {
  if (byPool.has(deps.knex)) return;
  const waiting = new Map<string, Set<() => void>>();
  const listener =
    role === 'serves'
      ? {
          message: (text: string) => {
            const tenantId = tenantOfMessage(text);
            if (tenantId) wake(waiting, tenantId);
            else deps.logger.warn('change bus: ignored a malformed change-feed message');
          },
          heartbeat: () => undefined,
          lost: () => undefined,
        }
      : undefined;
  const bus = deps.redis
    ? redisChangeBus(deps.redis, `${deps.config.redisKeyPrefix}${REDIS_CHANNEL}`, deps.logger, listener)
    : postgresChangeBus(deps.knex, POSTGRES_CHANNEL, deps.logger, listener);
  byPool.set(deps.knex, { bus, logger: deps.logger, waiting, ended: false });
}

/** Ends this instance's live streams (they close their responses) and stops listening. */
export async function stopLiveEvents(knex: Knex): Promise<void> {
  const live = byPool.get(knex);
  if (!live) return;
  live.ended = true;
  for (const tenantId of [...live.waiting.keys()]) wake(live.waiting, tenantId);
  await live.bus.close();
}

/** Whether this instance is ending its live streams (shutting down). */
export const liveEventsEnded = (knex: Knex): boolean => byPool.get(knex)?.ended ?? true;

/**
 * After a commit that added to the tenant's feed: this instance's streams wake at once, the other
 * instances' when the bus delivers. A failed publication is logged, not thrown: the change has committed,
 * and the other instances' streams read the feed at their next heartbeat.
 */
export async function announceChanges(knex: Knex, tenantId: string): Promise<void> {
  const live = byPool.get(knex);
  if (!live) return;
  wake(live.waiting, tenantId);
  await live.bus.publish(JSON.stringify({ tenantId })).catch((error: Error) => live.logger.warn('change bus: change-feed news not published', { error: error.message }));
}

/** Resolves when the tenant's feed may have grown, after `timeoutMs`, or when the stream's client has gone. */
export function waitForChanges(knex: Knex, tenantId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const live = byPool.get(knex);
  if (!live || live.ended || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const waiters = live.waiting.get(tenantId) ?? new Set<() => void>();
    live.waiting.set(tenantId, waiters);
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      waiters.delete(done);
      if (waiters.size === 0 && live.waiting.get(tenantId) === waiters) live.waiting.delete(tenantId);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, timeoutMs));
    signal.addEventListener('abort', done);
    waiters.add(done);
  });
}

function wake(waiting: Map<string, Set<() => void>>, tenantId: string): void {
  for (const done of [...(waiting.get(tenantId) ?? [])]) done();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tenantOfMessage(text: string): string | undefined {
  try {
    const { tenantId } = JSON.parse(text) as { tenantId?: unknown };
    return typeof tenantId === 'string' && UUID.test(tenantId) ? tenantId : undefined;
  } catch {
    return undefined;
  }
}
