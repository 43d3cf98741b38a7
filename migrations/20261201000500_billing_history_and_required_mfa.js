'use strict';
/**
 * Two pieces of the platform console (issue 16):
 *
 * - billing_status_changes: every move of a tenant's plan or billing status, written in the same
 *   transaction as the move. Revenue analytics count churn and trial conversion from it: the tenants row
 *   holds only the present, and "how many trials ended last month, and how many of them pay" needs the past.
 *   The runtime role inserts (billing runs in the tenant's transaction) and never changes a row.
 * - tenants.mfa_required: an organization's admins require every user to sign in with TOTP
 *   (PATCH /organization/settings {requireMfa}); the platform console reads it.
 */
const { tenantColumns, isolateTenantTable, grantPlatformRead, platformGroupRole } = require('./support/tenant-table');

exports.up = async function up(knex) {
  await knex.schema.createTable('billing_status_changes', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('plan_before').notNullable();
    t.text('plan_after').notNullable();
    t.text('status_before').notNullable();
    t.text('status_after').notNullable();
    t.text('cause').notNullable();
    t.index(['tenant_id', 'created_at']);
  });
  await isolateTenantTable(knex, 'billing_status_changes', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'billing_status_changes');
  // The analytics window scans by time across tenants (the platform role reads every tenant's rows).
  await knex.raw('CREATE INDEX billing_status_changes_created_at_idx ON billing_status_changes (created_at)');

  await knex.schema.alterTable('tenants', (t) => {
    t.boolean('mfa_required').notNullable().defaultTo(false);
  });
  await knex.raw('GRANT SELECT (mfa_required) ON tenants TO ??', [await platformGroupRole(knex)]);
};

exports.down = async function down(knex) {
  await knex.raw('REVOKE SELECT (mfa_required) ON tenants FROM ??', [await platformGroupRole(knex)]);
  await knex.schema.alterTable('tenants', (t) => t.dropColumn('mfa_required'));
  await knex.schema.dropTable('billing_status_changes');
};
