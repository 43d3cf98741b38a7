import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';
import { FeatureFlag } from './feature-flags';
import { readFlags } from './feature-flags.repository';

export interface FeatureFlagsCache {
  /** The flags as last read; the first call waits for the first read, later ones answer from memory. */
  current(): Promise<ReadonlyMap<string, FeatureFlag>>;
  /** Re-reads now (after a change on this instance, so it applies at once here). */
  refresh(): Promise<ReadonlyMap<string, FeatureFlag>>;
}

/**
 * Per-instance cache of the deployment's flags, kept like the runtime settings: once the copy is older than
 * RUNTIME_SETTINGS_CACHE_SECONDS the call that notices starts one background re-read, so a change made on
 * another instance applies here within that TTL plus one query, and the request path never waits on it.
 * Unlike the settings, there is no environment value to fall back on, so only the very first read is
 * waited for. A failed read keeps the last copy (at first: no flag, every flagged route absent), never a 500.
 */
export function createFeatureFlagsCache(deps: { platformKnex: Knex; config: AppConfig; logger: Logger }): FeatureFlagsCache {
  const ttlMs = deps.config.console.settingsCacheSeconds * 1000;
  let flags: ReadonlyMap<string, FeatureFlag> = new Map();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<ReadonlyMap<string, FeatureFlag>> | undefined;

  const refresh = (): Promise<ReadonlyMap<string, FeatureFlag>> => {
    inFlight ??= readFlags(deps.platformKnex, deps.config.redisKeyPrefix)
      .then((rows) => {
        flags = new Map(rows.map((flag) => [flag.key, flag]));
        return flags;
      })
      .catch((error: unknown) => {
        deps.logger.warn('feature flags could not be read; keeping the last values', { error });
        return flags;
      })
      .finally(() => {
        loadedAt = Date.now();
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    async current() {
      if (loadedAt === Number.NEGATIVE_INFINITY) return refresh();
      if (Date.now() - loadedAt > ttlMs && !inFlight) void refresh();
      return flags;
    },
    refresh,
  };
}
