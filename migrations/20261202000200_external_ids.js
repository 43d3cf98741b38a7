'use strict';
/**
 * External ids: the id a system that syncs into us gives a record, optional on every CRM resource. Unique per
 * tenant and resource among live records when set (a partial unique index, which includes tenant_id as Citus
 * needs): it is the arbiter of batch upserts' INSERT ... ON CONFLICT, so two racing upserts of one key never
 * make two records. A soft-deleted record frees its external id for a new one.
 */
const TABLES = ['leads', 'contacts', 'accounts', 'deals', 'tasks', 'activities', 'tickets'];

exports.up = async function up(knex) {
  for (const table of TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.text('external_id');
    });
    await knex.raw(`ALTER TABLE ?? ADD CONSTRAINT ?? CHECK (char_length(external_id) BETWEEN 1 AND 255)`, [table, `${table}_external_id_length`]);
    await knex.raw(`CREATE UNIQUE INDEX IF NOT EXISTS ?? ON ?? (tenant_id, external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL`, [
      `${table}_external_id_unique`,
      table,
    ]);
  }
};

exports.down = async function down(knex) {
  for (const table of TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('external_id');
    });
  }
};
