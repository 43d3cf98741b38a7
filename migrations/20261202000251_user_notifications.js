'use strict';
/**
 * The notification feed (GET /me/notifications): what concerns one user (a task or ticket assigned to
 * them, a stage change of a deal they own), written by a domain-event subscriber in the change's
 * transaction and read newest first. (`notifications` is the e-mail outbox, a different thing.)
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, grantPlatformRead, touchUpdatedAt } = require('./support/tenant-table');

exports.up = async function up(knex) {
  await knex.schema.createTable('user_notifications', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('user_id').notNullable();
    t.enu('type', ['task.assigned', 'deal.stage_changed', 'ticket.assigned']).notNullable();
    t.text('resource_type').notNullable();
    t.uuid('resource_id').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    t.timestamp('read_at', { useTz: true });
    // A user's feed newest first, and their unread ones.
    t.index(['tenant_id', 'user_id', 'created_at', 'id']);
    t.index(['tenant_id', 'user_id'], 'user_notifications_unread_idx', { predicate: knex.whereNull('read_at') });
  });
  await isolateTenantTable(knex, 'user_notifications', { privileges: 'SELECT, INSERT, UPDATE' });
  await tenantForeignKey(knex, 'user_notifications', 'user_id', 'users', { onDelete: 'cascade' });
  await touchUpdatedAt(knex, 'user_notifications');
  await grantPlatformRead(knex, 'user_notifications');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('user_notifications');
};
