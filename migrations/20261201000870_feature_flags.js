'use strict';
/**
 * Feature flags for gradual rollout (docs/SECURITY.md, "Feature flags"): one row per flag and deployment
 * scope (REDIS_KEY_PREFIX, as platform_settings), written by staff through /admin/feature-flags and read by
 * each instance's cache through the platform pool. A global table: the tenants and plans it targets are
 * listed in it, it holds no tenant's data. `updated_by` names the admin without a foreign key, so the
 * table stays a plain reference table on Citus (platform_audit_logs keeps who changed what for good).
 */
const { platformGroupRole } = require('./support/tenant-table');
const { replicateGlobalTable } = require('./support/distribution');

exports.up = async function up(knex) {
  const platform = await platformGroupRole(knex);
  await knex.schema.createTable('feature_flags', (t) => {
    t.text('scope').notNullable();
    t.text('key').notNullable();
    t.boolean('enabled').notNullable().defaultTo(false);
    t.specificType('tenant_ids', 'uuid[]').notNullable().defaultTo('{}');
    t.specificType('plans', 'text[]');
    t.integer('percentage');
    t.uuid('updated_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scope', 'key']);
  });
  await knex.raw('ALTER TABLE feature_flags ADD CONSTRAINT feature_flags_percentage_check CHECK (percentage BETWEEN 0 AND 100)');
  await replicateGlobalTable(knex, 'feature_flags');
  await knex.raw('GRANT SELECT, INSERT, UPDATE ON feature_flags TO ??', [platform]);
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('feature_flags');
};
