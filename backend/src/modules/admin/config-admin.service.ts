import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import {
  environmentSettings,
  RuntimeSettings,
  RuntimeSettingsCache,
  SETTING_KEYS,
  SettingKey,
  storedOverrides,
} from '../runtime-settings/runtime-settings';
import { PlatformActor, recordPlatformAudit } from './platform-audit';

/** A PUT: each named setting gets a new override, or null to fall back to the environment. */
export type ConfigUpdate = Partial<Record<SettingKey, number | string | null>>;

export function createConfigAdminService(deps: { platformKnex: Knex; config: AppConfig; settings: RuntimeSettingsCache }) {
  const { platformKnex: knex, config } = deps;
  const scope = config.redisKeyPrefix;

  async function describe(trx: Knex = knex) {
    const environment = environmentSettings(config);
    const overrides = await storedOverrides(trx, config);
    return {
      settings: Object.fromEntries(
        SETTING_KEYS.map((key) => [
          key,
          {
            value: overrides[key] ?? environment[key],
            source: overrides[key] === undefined ? 'environment' : 'override',
            environmentValue: environment[key],
          },
        ]),
      ) as Record<SettingKey, { value: number | string; source: 'environment' | 'override'; environmentValue: number | string }>,
      propagation: { cacheSeconds: config.console.settingsCacheSeconds },
    };
  }

  return {
    get: () => describe(),

    /**
     * Stores the overrides and records the change (before/after effective values) in the platform audit
     * log, in one transaction. This instance applies it at once; others within their cache TTL.
     */
    async update(input: ConfigUpdate, actor: PlatformActor) {
      await knex.transaction(async (trx) => {
        // One writer at a time per scope, so two admins' changes each audit the state they replaced.
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`platform_settings:${scope}`]);
        const before: Partial<RuntimeSettings> = { ...environmentSettings(config), ...(await storedOverrides(trx, config)) };
        for (const [key, value] of Object.entries(input) as Array<[SettingKey, number | string | null]>) {
          if (value === null) {
            await trx('platformSettings').where({ scope, key }).delete();
          } else {
            await trx('platformSettings')
              .insert({ scope, key, value: JSON.stringify(value), updatedBy: actor.principal.adminId })
              .onConflict(['scope', 'key'])
              .merge({ value: JSON.stringify(value), updatedBy: actor.principal.adminId, updatedAt: trx.fn.now() });
          }
        }
        const after: Partial<RuntimeSettings> = { ...environmentSettings(config), ...(await storedOverrides(trx, config)) };
        const changed = Object.keys(input) as SettingKey[];
        await recordPlatformAudit(trx, actor, [
          {
            action: 'config.update',
            targetType: 'platform_settings',
            details: {
              scope,
              requested: input,
              before: Object.fromEntries(changed.map((key) => [key, before[key]])),
              after: Object.fromEntries(changed.map((key) => [key, after[key]])),
            },
          },
        ]);
      });
      await deps.settings.refresh();
      return describe();
    },
  };
}
