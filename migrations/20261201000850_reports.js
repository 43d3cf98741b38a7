'use strict';
/**
 * Reports (docs/API.md, "Reports"): the `reports:manage` permission (saving reports), `reports:read` for
 * sales users (they read reports of their own and their team's records), the saved reports, and the
 * indexes the built-in reports read through (docs/PERFORMANCE.md, "Reports").
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt, grantPlatformRead } = require('./support/tenant-table');
const { addPermissions } = require('./support/permissions');

const NEW_PERMISSIONS = { 'reports:manage': 'Save, change and delete reports of the organization' };
const GRANTED = { tenant_admin: ['reports:manage'], manager: ['reports:manage'], sales_user: ['reports:read'] };

/** Each built-in report filters by one date and groups by owner: (tenant_id, date, owner) serves both. */
const REPORT_INDEXES = [
  ['deals', 'deals_report_closed_idx', '(tenant_id, closed_at, owner_id) WHERE closed_at IS NOT NULL AND deleted_at IS NULL'],
  ['deals', 'deals_report_open_idx', '(tenant_id, pipeline_id, stage) INCLUDE (amount, probability, owner_id, currency) WHERE closed_at IS NULL AND deleted_at IS NULL'],
  ['leads', 'leads_report_created_idx', '(tenant_id, created_at) INCLUDE (source, owner_id, converted_at, converted_contact_id, converted_deal_id) WHERE deleted_at IS NULL'],
  ['activities', 'activities_report_occurred_idx', '(tenant_id, occurred_at) INCLUDE (type, owner_id) WHERE deleted_at IS NULL'],
  ['tickets', 'tickets_report_resolved_idx', '(tenant_id, resolved_at) WHERE resolved_at IS NOT NULL AND deleted_at IS NULL'],
];

exports.up = async function up(knex) {
  await knex.schema.createTable('saved_reports', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('name').notNullable();
    t.jsonb('definition').notNullable();
    t.uuid('owner_id').notNullable();
    t.index(['tenant_id', 'name', 'id']);
  });
  await isolateTenantTable(knex, 'saved_reports');
  await touchUpdatedAt(knex, 'saved_reports');
  await grantPlatformRead(knex, 'saved_reports');
  await tenantForeignKey(knex, 'saved_reports', 'owner_id', 'users', { onDelete: 'cascade' });

  for (const [table, name, definition] of REPORT_INDEXES) await knex.raw(`CREATE INDEX ?? ON ?? ${definition}`, [name, table]);

  await addPermissions(knex, NEW_PERMISSIONS, GRANTED);
};

exports.down = async function down(knex) {
  await knex.raw('ALTER TABLE roles NO FORCE ROW LEVEL SECURITY');
  for (const [role, permissions] of Object.entries(GRANTED)) {
    for (const permission of permissions) {
      await knex.raw('UPDATE role_templates SET permissions = array_remove(permissions, ?) WHERE key = ?', [permission, role]);
      await knex.raw('UPDATE roles SET permissions = array_remove(permissions, ?) WHERE key = ? AND is_system', [permission, role]);
    }
  }
  await knex.raw('ALTER TABLE roles FORCE ROW LEVEL SECURITY');
  await knex('permissions').whereIn('key', Object.keys(NEW_PERMISSIONS)).delete();
  for (const [, name] of REPORT_INDEXES) await knex.raw('DROP INDEX IF EXISTS ??', [name]);
  await knex.raw('DROP TRIGGER IF EXISTS saved_reports_owner_id_set_null ON users');
  await knex.schema.dropTable('saved_reports');
};
