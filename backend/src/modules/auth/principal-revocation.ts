import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { ChangeBus, HEARTBEAT_VOUCHES_MS, postgresChangeBus, redisChangeBus } from '../../infra/change-bus';
import { Logger } from '../../infra/logger';
import { afterCommit, tenantScope } from '../../infra/tenant-scope';
import { PrincipalCache, PrincipalChange } from './principal-cache';
import { RedisClient } from '../../infra/redis';

/** One instance's principal cache (when it serves requests) and the bus its changes travel on. */
interface Revocation {
  cache?: PrincipalCache;
  bus: ChangeBus;
  logger: Logger;
}

export interface RevocationDeps {
  config: AppConfig;
  knex: Knex;
  platformKnex: Knex;
  redis?: RedisClient;
  logger: Logger;
}

/** Channel on the bus: per deployment (REDIS_KEY_PREFIX) on Redis; per database on PostgreSQL. */
const REDIS_CHANNEL = 'principal-changes';
const POSTGRES_CHANNEL = 'crm_principal_changes';

// Keyed by pool: a change made in a transaction of a pool is announced by the instance that owns it.
const byPool = new WeakMap<Knex, Revocation>();

/**
 * Starts what keeps confirmed callers in memory correct across instances. An API instance (`serves`)
 * keeps a cache and listens; a worker only announces. With PRINCIPAL_CACHE_SECONDS=0 nothing is cached
 * anywhere, so there is nothing to announce either. Redis carries the changes when REDIS_URL is set,
 * PostgreSQL LISTEN/NOTIFY otherwise (so several instances without Redis stay correct).
 */
export function startPrincipalRevocation(deps: RevocationDeps, role: 'serves' | 'announces'): void {
  const ttlSeconds = deps.config.auth.principalCacheSeconds;
  if (ttlSeconds === 0 || byPool.has(deps.knex)) return;
  const cache = role === 'serves' ? new PrincipalCache(ttlSeconds * 1000) : undefined;
  const listener = cache && {
    message: (text: string) => {
      const change = parseChange(text);
      if (change) cache.invalidate(change);
      else deps.logger.warn('change bus: ignored a malformed principal change');
    },
    heartbeat: () => cache.vouch(Date.now() + HEARTBEAT_VOUCHES_MS),
    lost: () => cache.distrust(),
  };
  const bus = deps.redis
    ? redisChangeBus(deps.redis, `${deps.config.redisKeyPrefix}${REDIS_CHANNEL}`, deps.logger, listener)
    : postgresChangeBus(deps.knex, POSTGRES_CHANNEL, deps.logger, listener);
  const revocation: Revocation = { cache, bus, logger: deps.logger };
  byPool.set(deps.knex, revocation);
  byPool.set(deps.platformKnex, revocation);
}

export async function stopPrincipalRevocation(knex: Knex): Promise<void> {
  await byPool.get(knex)?.bus.close();
}

/** The cache of the instance this pool serves, if it keeps one. */
export const principalCacheOf = (knex: Knex): PrincipalCache | undefined => byPool.get(knex)?.cache;

/**
 * Inside a tenant transaction: once it commits, every instance forgets what it knew of the callers this
 * change concerns (the whole tenant unless narrowed). Nothing is announced for a change rolled back.
 */
export function announcePrincipalChange(change: Omit<PrincipalChange, 'tenantId'> = {}): void {
  const { knex, tenantId } = tenantScope();
  afterCommit(() => publishPrincipalChange(knex, { ...change, tenantId }));
}

/**
 * After a committed change made outside a tenant scope (the platform console, a job): this instance
 * forgets at once, the others when the bus delivers (well within a second). A failed publication is
 * logged, not thrown: the change is made, and the other instances' entries still expire.
 */
export async function publishPrincipalChange(knex: Knex, change: PrincipalChange): Promise<void> {
  const revocation = byPool.get(knex);
  if (!revocation) return;
  revocation.cache?.invalidate(change);
  try {
    await revocation.bus.publish(JSON.stringify(change));
  } catch (error) {
    revocation.logger.error('could not announce a principal change to the other instances', { error, tenantId: change.tenantId });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FIELDS = ['tenantId', 'userId', 'sessionId', 'apiKeyId'] as const;

function parseChange(text: string): PrincipalChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const fields = value as Record<string, unknown>;
  if (typeof fields.tenantId !== 'string' || !UUID.test(fields.tenantId)) return undefined;
  if (FIELDS.some((field) => fields[field] !== undefined && typeof fields[field] !== 'string')) return undefined;
  return Object.fromEntries(FIELDS.filter((field) => fields[field] !== undefined).map((field) => [field, fields[field]])) as unknown as PrincipalChange;
}
