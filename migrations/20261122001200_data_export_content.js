'use strict';
/**
 * The content of an organization export, in PostgreSQL rather than on a disk: API instances and the
 * job worker may run on different machines with no shared volume, and the content then has the same
 * backups, isolation (row-level security) and lifetime as the data_exports row it belongs to. The job
 * writes it in chunks of about 1 MiB, so neither writing nor downloading holds a whole export in memory.
 */
const { isolateTenantTable, grantPlatformRead, tenantForeignKey } = require('./support/tenant-table');

exports.up = async function up(knex) {
  await knex.schema.createTable('data_export_chunks', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('export_id').notNullable();
    t.integer('seq').notNullable();
    t.binary('content').notNullable();
    t.primary(['tenant_id', 'export_id', 'seq']);
  });
  await tenantForeignKey(knex, 'data_export_chunks', 'export_id', 'data_exports', { onDelete: 'cascade' });
  await isolateTenantTable(knex, 'data_export_chunks');
  await grantPlatformRead(knex, 'data_export_chunks');
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('data_export_chunks');
};
