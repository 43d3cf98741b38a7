import Joi from 'joi';
import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';

/** The settings an operator may change at run time; each defaults to its environment variable. */
export interface RuntimeSettings {
  rateLimitAnonymousMax: number;
  rateLimitAnonymousWindowSeconds: number;
  rateLimitLoginMax: number;
  rateLimitLoginWindowSeconds: number;
  auditRetentionDays: number;
  idempotencyTtlSeconds: number;
  /** A Slack incoming webhook (or any endpoint taking its JSON) told about staff security alerts; '' for none. */
  securityAlertWebhookUrl: string;
}

export type SettingKey = keyof RuntimeSettings;

/** Within the bounds of the variables in config/variables.ts, so an override can never be a value the environment would refuse. */
export const SETTING_SCHEMAS: Record<SettingKey, Joi.Schema> = {
  rateLimitAnonymousMax: Joi.number().integer().min(1).max(1_000_000),
  rateLimitAnonymousWindowSeconds: Joi.number().integer().min(1).max(86_400),
  rateLimitLoginMax: Joi.number().integer().min(1).max(1_000_000),
  rateLimitLoginWindowSeconds: Joi.number().integer().min(1).max(86_400),
  auditRetentionDays: Joi.number().integer().min(1).max(36_500),
  idempotencyTtlSeconds: Joi.number().integer().min(60).max(2_592_000),
  securityAlertWebhookUrl: Joi.string().uri({ scheme: ['https', 'http'] }).max(2000).allow(''),
};

export const SETTING_KEYS = Object.keys(SETTING_SCHEMAS) as SettingKey[];

/** The environment's values: what applies where no override is stored. */
export function environmentSettings(config: AppConfig): RuntimeSettings {
  return {
    rateLimitAnonymousMax: config.rateLimits.anonymous.max,
    rateLimitAnonymousWindowSeconds: config.rateLimits.anonymous.windowSeconds,
    rateLimitLoginMax: config.rateLimits.login.max,
    rateLimitLoginWindowSeconds: config.rateLimits.login.windowSeconds,
    auditRetentionDays: config.audit.retentionDays,
    idempotencyTtlSeconds: config.idempotency.ttlSeconds,
    securityAlertWebhookUrl: config.security.alertWebhookUrl,
  };
}

/** Overrides stored for this deployment (scope = REDIS_KEY_PREFIX); rows no longer valid are ignored. */
export async function storedOverrides(knex: Knex, config: AppConfig): Promise<Partial<RuntimeSettings>> {
  const rows = await knex('platformSettings').where('scope', config.redisKeyPrefix).select<Array<{ key: string; value: unknown }>>('key', 'value');
  const overrides: Partial<RuntimeSettings> = {};
  for (const row of rows) {
    const schema = SETTING_SCHEMAS[row.key as SettingKey];
    if (schema && !schema.validate(row.value).error) Object.assign(overrides, { [row.key]: row.value });
  }
  return overrides;
}

/** Effective value = stored override, else the environment. One query: for jobs, which run rarely. */
export async function effectiveSettings(knex: Knex, config: AppConfig): Promise<RuntimeSettings> {
  return { ...environmentSettings(config), ...(await storedOverrides(knex, config)) };
}

export interface RuntimeSettingsCache {
  /** The settings as last read: synchronous, never a query on the request path. */
  current(): RuntimeSettings;
  /** Re-reads now (after a change on this instance, so it applies at once here). */
  refresh(): Promise<RuntimeSettings>;
}

/**
 * Per-instance cache of the effective settings. `current()` answers from memory; once the copy is
 * older than RUNTIME_SETTINGS_CACHE_SECONDS, the call that notices starts one background re-read.
 * A change made on another instance is therefore seen here within that TTL plus one query.
 * Until the first read completes, the environment's values apply. A failed read keeps the last copy.
 */
export function createRuntimeSettingsCache(deps: { platformKnex: Knex; config: AppConfig; logger: Logger }): RuntimeSettingsCache {
  const ttlMs = deps.config.console.settingsCacheSeconds * 1000;
  let settings = environmentSettings(deps.config);
  let loadedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<RuntimeSettings> | undefined;

  const refresh = (): Promise<RuntimeSettings> => {
    inFlight ??= effectiveSettings(deps.platformKnex, deps.config)
      .then((fresh) => {
        settings = fresh;
        return fresh;
      })
      .catch((error: unknown) => {
        deps.logger.warn('runtime settings could not be read; keeping the last values', { error });
        return settings;
      })
      .finally(() => {
        loadedAt = Date.now();
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    current() {
      if (Date.now() - loadedAt > ttlMs && !inFlight) void refresh();
      return settings;
    },
    refresh,
  };
}
