'use strict';
/**
 * The change feed without a per-tenant writer lock (change-feed.store.ts). Writers of a tenant's feed hold a
 * SHARED transaction advisory lock on the tenant's key from before they take their sequence numbers until
 * they commit, so they never wait on each other. A reader asks change_feed_horizon(key) where it may read
 * up to: it takes the same key EXCLUSIVE for a moment (which waits for the writers in flight to end, and
 * holds new ones back for one nextval), takes a number of the sequence, and lets go. Every sequence
 * number below the horizon belongs to a transaction that has ended, so a reader reading only below it never
 * passes a change that commits later. The lock is session-level for just those two calls; the exception
 * block lets it go whatever happens (a cancel included), so a pooled connection never keeps it.
 */
const { runtimeGroupRole } = require('./support/tenant-table');

exports.up = async function up(knex) {
  await knex.raw(`
    CREATE FUNCTION change_feed_horizon(lock_key bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      horizon bigint;
    BEGIN
      BEGIN
        PERFORM pg_advisory_lock(lock_key);
        horizon := nextval('change_events_seq_seq');
        PERFORM pg_advisory_unlock(lock_key);
      EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(lock_key);
        RAISE;
      END;
      RETURN horizon;
    END $$`);
  await knex.raw('GRANT EXECUTE ON FUNCTION change_feed_horizon(bigint) TO ??', [await runtimeGroupRole(knex)]);
};

exports.down = async function down(knex) {
  await knex.raw('DROP FUNCTION change_feed_horizon(bigint)');
};
