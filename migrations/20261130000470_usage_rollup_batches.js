'use strict';

/**
 * usage_rollup_batches: the batches of Redis usage counters the usage.rollup job has added to usage_daily.
 * The job moves a day's counters out of Redis as a batch with an id and adds them to usage_daily in the
 * same transaction that records the id, so a batch retried after a crash is added once, and a Redis
 * restart (which empties the counters) never lowers what usage_daily holds. Platform bookkeeping: only
 * the platform role reads and writes it; on Citus it stays on the coordinator.
 */
const { platformGroupRole } = require('./support/tenant-table');

exports.up = async function up(knex) {
  await knex.schema.createTable('usage_rollup_batches', (t) => {
    t.uuid('id').primary();
    t.date('day').notNullable();
    t.timestamp('added_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('GRANT SELECT, INSERT, DELETE ON usage_rollup_batches TO ??', [await platformGroupRole(knex)]);
};

exports.down = async function down(knex) {
  await knex.schema.dropTable('usage_rollup_batches');
};
