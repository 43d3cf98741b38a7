'use strict';
/**
 * The change feed without a per-tenant writer lock. Each change carries the id of the transaction that wrote
 * it (`xid`, xid8: 64-bit, never wraps); a reader orders by (xid, seq) and reads only changes of transactions
 * older than every transaction still running (xid < pg_snapshot_xmin(pg_current_snapshot())). Below that
 * horizon nothing more can ever appear, so a cursor of (xid, seq) never skips a change that commits late,
 * and writers of one tenant no longer wait on each other. Rows written before this migration all take its
 * transaction's xid, which sorts them by seq ahead of every later one.
 */
exports.up = async function up(knex) {
  await knex.raw('ALTER TABLE change_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()');
  await knex.raw('CREATE INDEX change_events_tenant_xid_seq_idx ON change_events (tenant_id, xid, seq)');
};

exports.down = async function down(knex) {
  await knex.raw('ALTER TABLE change_events DROP COLUMN xid');
};
