'use strict';
/**
 * Scheduled reports (docs/API.md, "Reports"): a saved report's `schedule` (a cron expression read in the
 * report's time zone, and the users it is mailed to) and when it is next due; and `report_runs`, one row
 * per scheduled run (what was mailed to whom, or why not). The per-minute sweep finds due reports across
 * tenants through the platform role, hence its read grant on the new columns and the partial index.
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, grantPlatformRead, platformGroupRole } = require('./support/tenant-table');

const STATUSES = ['sent', 'failed'];

exports.up = async function up(knex) {
  await knex.schema.alterTable('saved_reports', (t) => {
    t.jsonb('schedule');
    t.timestamp('next_run_at', { useTz: true });
  });
  await knex.raw('CREATE INDEX saved_reports_next_run_idx ON saved_reports (next_run_at) WHERE next_run_at IS NOT NULL');
  await knex.raw('GRANT SELECT (schedule, next_run_at) ON saved_reports TO ??', [await platformGroupRole(knex)]);

  await knex.schema.createTable('report_runs', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('report_id').notNullable();
    // The tick the run answers: one run per report and tick, so a retried sweep never mails twice.
    t.timestamp('scheduled_for', { useTz: true }).notNullable();
    t.text('status').notNullable().checkIn(STATUSES, 'report_runs_status_check');
    t.jsonb('recipients').notNullable().defaultTo('[]');
    t.text('error');
    t.unique(['tenant_id', 'report_id', 'scheduled_for']);
  });
  await isolateTenantTable(knex, 'report_runs', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'report_runs');
  await tenantForeignKey(knex, 'report_runs', 'report_id', 'saved_reports', { onDelete: 'cascade' });
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('report_runs');
  await knex.raw('REVOKE SELECT (schedule, next_run_at) ON saved_reports FROM ??', [await platformGroupRole(knex)]);
  await knex.raw('DROP INDEX IF EXISTS saved_reports_next_run_idx');
  await knex.schema.alterTable('saved_reports', (t) => {
    t.dropColumn('next_run_at');
    t.dropColumn('schedule');
  });
};
