'use strict';
/**
 * Saved views: a list query (filters, sort, columns) a user keeps for a CRM resource, for themselves, their
 * team or the whole tenant. The team is the owner's when the view was saved.
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt, grantPlatformRead } = require('./support/tenant-table');

const CRM_TABLES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];

exports.up = async function up(knex) {
  await knex.schema.createTable('saved_views', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('resource').notNullable().checkIn(CRM_TABLES, 'saved_views_resource_check');
    t.text('name').notNullable();
    t.jsonb('filters').notNullable().defaultTo('{}');
    t.text('sort');
    t.jsonb('columns').notNullable().defaultTo('[]');
    t.text('visibility').notNullable().checkIn(['private', 'team', 'tenant'], 'saved_views_visibility_check');
    t.uuid('owner_id').notNullable();
    t.uuid('team_id');
    t.index(['tenant_id', 'resource', 'owner_id']);
    t.index(['tenant_id', 'resource', 'visibility', 'team_id']);
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await isolateTenantTable(knex, 'saved_views');
  await touchUpdatedAt(knex, 'saved_views');
  await grantPlatformRead(knex, 'saved_views');
  await tenantForeignKey(knex, 'saved_views', 'owner_id', 'users', { onDelete: 'cascade' });
  await tenantForeignKey(knex, 'saved_views', 'team_id', 'teams', { onDelete: 'set null' });
};

exports.down = async function down(knex) {
  await knex.raw('DROP TRIGGER IF EXISTS saved_views_team_id_set_null ON teams');
  await knex.schema.dropTable('saved_views');
};
