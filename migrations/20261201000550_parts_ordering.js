'use strict';
/**
 * Parts ordering through a supplier connector (docs/API.md "Parts ordering"): a tenant's orders, with
 * every answer the supplier gave kept for audit, and its inventory cache synced from the supplier. Both
 * are tenant tables under forced row-level security. The permissions `parts:read` and `parts:order` and
 * the plan feature `parts_ordering` (pro and enterprise) come with them.
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, touchUpdatedAt, grantPlatformRead } = require('./support/tenant-table');
const { addPermissions, removePermissions } = require('./support/permissions');

const STATUSES = ['submitted', 'confirmed', 'backordered', 'shipped', 'delivered', 'cancelled'];
const NEW_PERMISSIONS = {
  'parts:read': 'Search the supplier catalogue, see stock, quotes, the inventory cache and parts orders',
  'parts:order': 'Place and cancel parts orders with the supplier',
};
const GRANTED = {
  tenant_admin: ['parts:read', 'parts:order'],
  manager: ['parts:read', 'parts:order'],
  sales_user: ['parts:read'],
  support_user: ['parts:read'],
};
const PLANS_WITH_PARTS = ['pro', 'enterprise'];

exports.up = async function up(knex) {
  await knex.schema.createTable('parts_orders', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('supplier').notNullable();
    // What the supplier knows the order by on our side: a retried order carries the same one, so it is placed once.
    t.text('client_reference').notNullable();
    t.text('supplier_order_id');
    t.text('status').notNullable().checkIn(STATUSES, 'parts_orders_status_check');
    t.jsonb('items').notNullable();
    t.integer('total_cents');
    t.text('currency');
    t.jsonb('tracking');
    t.uuid('deal_id');
    t.uuid('ticket_id');
    t.uuid('account_id');
    // Every answer of the supplier about this order, oldest first: {at, operation, answer}.
    t.jsonb('supplier_answers').notNullable().defaultTo('[]');
    t.timestamp('status_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('polled_at', { useTz: true });
    t.unique(['tenant_id', 'client_reference'], { indexName: 'parts_orders_client_reference_unique' });
    t.index(['tenant_id', 'created_at', 'id']);
  });
  await isolateTenantTable(knex, 'parts_orders', { privileges: 'SELECT, INSERT, UPDATE' });
  await touchUpdatedAt(knex, 'parts_orders');
  await grantPlatformRead(knex, 'parts_orders');
  await tenantForeignKey(knex, 'parts_orders', 'deal_id', 'deals', { onDelete: 'set null' });
  await tenantForeignKey(knex, 'parts_orders', 'ticket_id', 'tickets', { onDelete: 'set null' });
  await tenantForeignKey(knex, 'parts_orders', 'account_id', 'accounts', { onDelete: 'set null' });

  await knex.schema.createTable('parts_inventory', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.text('supplier').notNullable();
    t.text('part_number').notNullable();
    t.text('description').notNullable();
    t.text('brand');
    t.integer('quantity').notNullable();
    t.integer('price_cents');
    t.text('currency');
    t.timestamp('synced_at', { useTz: true }).notNullable();
    t.unique(['tenant_id', 'supplier', 'part_number'], { indexName: 'parts_inventory_part_unique' });
  });
  await isolateTenantTable(knex, 'parts_inventory');
  await touchUpdatedAt(knex, 'parts_inventory');
  await grantPlatformRead(knex, 'parts_inventory');

  await addPermissions(knex, NEW_PERMISSIONS, GRANTED);
  await knex.raw(`UPDATE plans SET features = features || '["parts_ordering"]'::jsonb WHERE code = ANY(?)`, [PLANS_WITH_PARTS]);
};

exports.down = async function down(knex) {
  await knex.raw(`UPDATE plans SET features = features - 'parts_ordering'`);
  await removePermissions(knex, Object.keys(NEW_PERMISSIONS));
  for (const [table, column] of [['deals', 'deal_id'], ['tickets', 'ticket_id'], ['accounts', 'account_id']]) {
    await knex.raw('DROP TRIGGER IF EXISTS ?? ON ??', [`parts_orders_${column}_set_null`, table]);
  }
  await knex.schema.dropTable('parts_inventory');
  await knex.schema.dropTable('parts_orders');
};
