'use strict';
/**
 * Admin console storage.
 * - usage_daily: API calls per tenant per UTC day, written by the usage counters and the usage.rollup
 *   job through the platform role. It has a tenant_id, so it is a tenant table like any other (RLS,
 *   the tenant may read its own rows); the platform role gets INSERT/UPDATE policies on top of its read.
 * - platform_settings: runtime overrides of configuration (rate limits, retention, TTLs), one row per
 *   setting and deployment scope; only the platform role reads and writes them.
 */
const { isolateTenantTable, grantPlatformRead, platformGroupRole } = require('./support/tenant-table');

exports.up = async function up(knex) {
  const platform = await platformGroupRole(knex);

  await knex.schema.createTable('usage_daily', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.date('day').notNullable();
    t.bigInteger('api_calls').notNullable().defaultTo(0);
    t.bigInteger('client_errors').notNullable().defaultTo(0);
    t.bigInteger('server_errors').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant_id', 'day']);
    t.index(['day']);
  });
  await isolateTenantTable(knex, 'usage_daily', { privileges: 'SELECT' });
  await grantPlatformRead(knex, 'usage_daily');
  await knex.raw('GRANT INSERT, UPDATE ON usage_daily TO ??', [platform]);
  await knex.raw('CREATE POLICY platform_insert ON usage_daily FOR INSERT TO ?? WITH CHECK (true)', [platform]);
  await knex.raw('CREATE POLICY platform_update ON usage_daily FOR UPDATE TO ?? USING (true) WITH CHECK (true)', [platform]);

  await knex.schema.createTable('platform_settings', (t) => {
    // The deployment the setting belongs to (REDIS_KEY_PREFIX): deployments or test runs sharing a database stay apart.
    t.text('scope').notNullable();
    t.text('key').notNullable();
    t.jsonb('value').notNullable();
    t.uuid('updated_by').references('id').inTable('platform_admins').onDelete('SET NULL');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scope', 'key']);
  });
  await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON platform_settings TO ??', [platform]);
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('platform_settings');
  await knex.schema.dropTable('usage_daily');
};
