'use strict';
/**
 * The change feed: every committed change of a tenant (the same events as webhooks), kept 30 days, read in
 * commit order by GET /events and pushed by GET /events/stream. `seq` orders them: writers take a
 * per-tenant transaction lock before inserting (change-feed.store.ts), so within a tenant a higher seq
 * always commits later and a reader past a cursor never misses one committed behind it.
 * `owner_id` is the record's responsible user, for sales users' own-and-team scope on the stream.
 *
 * Plans cap the live streams a tenant may hold open at once (`liveStreams` in plans.quotas).
 */
const { isolateTenantTable, grantPlatformRead, runtimeGroupRole } = require('./support/tenant-table');

const LIVE_STREAMS = { free: 2, pro: 20, enterprise: 200 };

exports.up = async function up(knex) {
  await knex.schema.createTable('change_events', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.bigIncrements('seq', { primaryKey: false });
    t.uuid('id').notNullable();
    t.text('type').notNullable();
    t.text('resource_type');
    t.uuid('resource_id');
    t.uuid('owner_id');
    t.jsonb('data').notNullable();
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant_id', 'seq']);
    t.index(['tenant_id', 'occurred_at']);
  });
  // Written by the unit of work, read by the feed, pruned by the retention job: never changed.
  await isolateTenantTable(knex, 'change_events', { privileges: 'SELECT, INSERT, DELETE' });
  await knex.raw('GRANT USAGE ON SEQUENCE change_events_seq_seq TO ??', [await runtimeGroupRole(knex)]);
  await grantPlatformRead(knex, 'change_events');
  for (const [plan, limit] of Object.entries(LIVE_STREAMS)) {
    await knex.raw(`UPDATE plans SET quotas = quotas || jsonb_build_object('liveStreams', ?::int) WHERE code = ?`, [limit, plan]);
  }
};

exports.down = async function down(knex) {
  await knex.raw(`UPDATE plans SET quotas = quotas - 'liveStreams'`);
  await knex.schema.dropTable('change_events');
};
