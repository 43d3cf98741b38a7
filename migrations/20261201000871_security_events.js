'use strict';
/**
 * Security events: what the detectors (backend/src/modules/security) found in a tenant's domain events, with
 * a severity. Append-only for the runtime role (SELECT, INSERT); staff read every tenant's through the
 * platform role's read policy. `dedup_key` names the pattern (type and subject): one alert per key per
 * window, and `alerted` says whether this row is the one that sent it.
 */
const { tenantColumns, isolateTenantTable, grantPlatformRead } = require('./support/tenant-table');

const SEVERITIES = ['low', 'medium', 'high', 'critical'];

exports.up = async function up(knex) {
  await knex.schema.createTable('security_events', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('type').notNullable();
    t.text('severity').notNullable().checkIn(SEVERITIES, 'security_events_severity_check');
    t.text('summary').notNullable();
    t.uuid('user_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.text('dedup_key').notNullable();
    t.boolean('alerted').notNullable().defaultTo(false);
    t.text('request_id');
    t.index(['tenant_id', 'created_at', 'id']);
    t.index(['tenant_id', 'dedup_key', 'created_at']);
    t.index(['created_at', 'id']);
  });
  await isolateTenantTable(knex, 'security_events', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'security_events');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('security_events');
};
