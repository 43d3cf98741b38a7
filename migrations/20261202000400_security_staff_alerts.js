'use strict';
/**
 * Staff alerts of security events (docs/SECURITY.md, "Where alerts go"): one row per pattern (event type and
 * subject, across tenants) and deployment scope (REDIS_KEY_PREFIX), holding when staff were last told. The
 * staff-alert job claims a pattern by moving `alerted_at` forward only when the last alert is older than
 * SECURITY_ALERT_DEDUP_SECONDS, so one alert per pattern per window goes out whatever the number of workers.
 * A global table on the platform role: it names tenants and events by id and holds no tenant's data.
 */
const { platformGroupRole } = require('./support/tenant-table');
const { replicateGlobalTable } = require('./support/distribution');

exports.up = async function up(knex) {
  const platform = await platformGroupRole(knex);
  await knex.schema.createTable('security_staff_alerts', (t) => {
    t.text('scope').notNullable();
    t.text('dedup_key').notNullable();
    t.uuid('source_tenant_id').notNullable().comment('The tenant of the event last alerted (not a tenant table: no row-level security)');
    t.uuid('security_event_id').notNullable();
    t.integer('staff_mailed').notNullable().defaultTo(0);
    t.text('webhook_status');
    t.timestamp('alerted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scope', 'dedup_key']);
  });
  await replicateGlobalTable(knex, 'security_staff_alerts');
  await knex.raw('GRANT SELECT, INSERT, UPDATE ON security_staff_alerts TO ??', [platform]);
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('security_staff_alerts');
};
