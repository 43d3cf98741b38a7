'use strict';
/**
 * A list filtered by a custom field that many records match walks the records in the list's order and
 * probes each one's value: with (tenant_id, record_id, field_id) and the values included, that probe is one
 * index-only lookup instead of a heap visit per value of the record (measured at 1,000,000 leads:
 * docs/PERFORMANCE.md, "Custom field filters").
 */
exports.up = async function up(knex) {
  await knex.raw('DROP INDEX custom_field_values_record_idx');
  await knex.raw(
    'CREATE INDEX custom_field_values_record_idx ON custom_field_values (tenant_id, record_id, field_id) INCLUDE (value_number, value_text, value_time)',
  );
};

exports.down = async function down(knex) {
  await knex.raw('DROP INDEX custom_field_values_record_idx');
  await knex.raw('CREATE INDEX custom_field_values_record_idx ON custom_field_values (tenant_id, record_id)');
};
