'use strict';
/**
 * The support desk: tenants asking the platform for help (not the CRM's own tickets).
 * - support_tickets, support_ticket_messages and support_ticket_notes (staff only) are tenant tables (tenant_id, forced RLS, keys and foreign
 *   keys with tenant_id): a tenant's users see their own; staff read them through the platform role's
 *   read policy and write them in the tenant's scope on the runtime role, as impersonation does.
 * - Numbers (SUP-000123) come from one sequence, so they are unique across tenants and never guessable
 *   per tenant; the unique key still holds tenant_id (Citus).
 * - `support:create` is a new tenant permission, held by every system role (templates and existing roles).
 */
const { tenantColumns, tenantForeignKey, isolateTenantTable, grantPlatformRead, touchUpdatedAt, runtimeGroupRole } = require('./support/tenant-table');

const TZ = { useTz: true };
const PERMISSION = 'support:create';

exports.up = async function up(knex) {
  await knex.raw('CREATE SEQUENCE support_ticket_number_seq');
  await knex.raw('GRANT USAGE ON SEQUENCE support_ticket_number_seq TO ??', [await runtimeGroupRole(knex)]);

  await knex.schema.createTable('support_tickets', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.bigInteger('number').notNullable().defaultTo(knex.raw("nextval('support_ticket_number_seq')"));
    t.text('subject').notNullable();
    t.text('description').notNullable();
    t.enu('priority', ['low', 'normal', 'high', 'urgent']).notNullable().defaultTo('normal');
    t.enu('status', ['open', 'in_progress', 'waiting_for_customer', 'resolved', 'closed']).notNullable().defaultTo('open');
    t.uuid('requester_id').notNullable();
    // A staff member (global table): no key, so that removing staff never touches tenant rows.
    t.uuid('assignee_id');
    t.timestamp('sla_due_at', TZ).notNullable();
    t.timestamp('first_response_at', TZ);
    t.timestamp('resolved_at', TZ);
    t.timestamp('closed_at', TZ);
    t.unique(['tenant_id', 'number']);
    t.index(['tenant_id', 'created_at', 'id']);
    t.index(['status', 'sla_due_at']);
  });
  await isolateTenantTable(knex, 'support_tickets', { privileges: 'SELECT, INSERT, UPDATE' });
  await grantPlatformRead(knex, 'support_tickets');
  await touchUpdatedAt(knex, 'support_tickets');
  // Users are soft-deleted; a user removed for good (a purge) takes their tickets along.
  await tenantForeignKey(knex, 'support_tickets', 'requester_id', 'users', { onDelete: 'cascade' });

  await knex.schema.createTable('support_ticket_messages', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('ticket_id').notNullable();
    t.enu('author_type', ['user', 'staff']).notNullable();
    t.uuid('author_id').notNullable();
    t.text('body').notNullable();
    t.index(['tenant_id', 'ticket_id', 'created_at']);
  });
  await isolateTenantTable(knex, 'support_ticket_messages', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'support_ticket_messages');
  await tenantForeignKey(knex, 'support_ticket_messages', 'ticket_id', 'support_tickets', { onDelete: 'cascade' });

  // Staff's notes to each other: a table of their own, so that no read of the tenant's messages (the
  // ticket view, the organization export) can ever include them.
  await knex.schema.createTable('support_ticket_notes', (t) => {
    tenantColumns(knex, t, { softDelete: false });
    t.uuid('ticket_id').notNullable();
    t.uuid('author_id').notNullable();
    t.text('body').notNullable();
    t.index(['tenant_id', 'ticket_id', 'created_at']);
  });
  await isolateTenantTable(knex, 'support_ticket_notes', { privileges: 'SELECT, INSERT' });
  await grantPlatformRead(knex, 'support_ticket_notes');
  await tenantForeignKey(knex, 'support_ticket_notes', 'ticket_id', 'support_tickets', { onDelete: 'cascade' });

  await knex('permissions').insert({ key: PERMISSION, description: 'Ask the platform for help (support desk)' });
  await knex.raw('UPDATE role_templates SET permissions = array_append(permissions, ?) WHERE NOT ? = ANY(permissions)', [PERMISSION, PERMISSION]);
  await everyTenantsRoles(knex, () =>
    knex.raw('UPDATE roles SET permissions = array_append(permissions, ?) WHERE is_system AND NOT ? = ANY(permissions)', [PERMISSION, PERMISSION]),
  );
};

/** Existing tenants' roles, across tenants: for this statement the owner is not held by its own forced policy. */
async function everyTenantsRoles(knex, change) {
  await knex.raw('ALTER TABLE roles NO FORCE ROW LEVEL SECURITY');
  await change();
  await knex.raw('ALTER TABLE roles FORCE ROW LEVEL SECURITY');
}

exports.down = async function down(knex) {
  await everyTenantsRoles(knex, () => knex.raw('UPDATE roles SET permissions = array_remove(permissions, ?)', [PERMISSION]));
  await knex.raw('UPDATE role_templates SET permissions = array_remove(permissions, ?)', [PERMISSION]);
  await knex('permissions').where({ key: PERMISSION }).del();
  await knex.schema.dropTable('support_ticket_notes');
  await knex.schema.dropTable('support_ticket_messages');
  await knex.schema.dropTable('support_tickets');
  await knex.raw('DROP SEQUENCE support_ticket_number_seq');
};
