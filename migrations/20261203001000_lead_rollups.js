'use strict';
/**
 * lead_rollups: lead counts per tenant, UTC hour of creation, owner, source and status (with converted-to-
 * contact and converted-to-deal counts, and the score's sum and count), which the lead funnel and the
 * builder's lead reports read instead of every lead (docs/PERFORMANCE.md, "Reports").
 *
 * Kept exact in the writing transaction by statement-level triggers on leads that only ever INSERT delta
 * rows (+1 for a lead that appears, -1 for one that goes, both for one that moves group): no writer updates
 * a shared counter row, so concurrent writers of one tenant never wait on each other's row locks. Readers
 * sum the deltas; the reports.lead-rollup-compaction job folds each touched hour's rows into one row per
 * group (rows marked `compacted`), deleting exactly the rows it summed.
 */
const { isolateTenantTable, grantPlatformRead } = require('./support/tenant-table');
const { prepareTrigger } = require('./support/distribution');

/** The delta a set of lead rows brings (sign +1) or takes away (sign -1), live rows only, by group. */
const deltas = (rows, sign) => `
  SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, owner_id, source, status::text AS status,
         ${sign} AS leads, ${sign} * (converted_contact_id IS NOT NULL)::int AS contacts,
         ${sign} * (converted_deal_id IS NOT NULL)::int AS deals,
         ${sign} * coalesce(score, 0)::bigint AS score_sum, ${sign} * (score IS NOT NULL)::int AS score_count
    FROM ${rows}
   WHERE deleted_at IS NULL`;

/** Appends the summed deltas of `source` (a query), one row per group that changed. */
const appendDeltas = (source, compacted = false) => `
  INSERT INTO lead_rollups (tenant_id, hour, owner_id, source, status, leads, contacts, deals, score_sum, score_count, compacted)
  SELECT tenant_id, hour, owner_id, source, status, sum(leads), sum(contacts), sum(deals), sum(score_sum), sum(score_count), ${compacted}
    FROM (${source}) d
   GROUP BY tenant_id, hour, owner_id, source, status
  HAVING sum(leads) <> 0 OR sum(contacts) <> 0 OR sum(deals) <> 0 OR sum(score_sum) <> 0 OR sum(score_count) <> 0`;

/**
 * One function per event (a trigger with transition tables serves one event). A delete whose tenant is gone
 * is the purge of an organization (its tenants row deleted, the cascade under way): nothing to count.
 */
const FUNCTIONS = {
  app_lead_rollup_insert: appendDeltas(deltas('new_leads', 1)),
  app_lead_rollup_update: appendDeltas(`${deltas('new_leads', 1)} UNION ALL ${deltas('old_leads', -1)}`),
  app_lead_rollup_delete: appendDeltas(`${deltas('old_leads', -1)} AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = old_leads.tenant_id)`),
};

const TRIGGERS = [
  ['leads_rollup_insert', 'INSERT', 'NEW TABLE AS new_leads', 'app_lead_rollup_insert'],
  // A trigger with transition tables takes no column list: every update fires it, and one that moves no
  // count (a rename, a note) appends nothing, its +1 and -1 summing to zero.
  ['leads_rollup_update', 'UPDATE', 'OLD TABLE AS old_leads NEW TABLE AS new_leads', 'app_lead_rollup_update'],
  ['leads_rollup_delete', 'DELETE', 'OLD TABLE AS old_leads', 'app_lead_rollup_delete'],
];

exports.up = async function up(knex) {
  await knex.schema.createTable('lead_rollups', (t) => {
    t.uuid('tenant_id').notNullable().references('id').inTable('tenants').onDelete('CASCADE');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.primary(['tenant_id', 'id']);
    t.timestamp('hour', { useTz: true }).notNullable();
    t.uuid('owner_id');
    t.text('source');
    t.text('status').notNullable();
    t.integer('leads').notNullable();
    t.integer('contacts').notNullable();
    t.integer('deals').notNullable();
    t.bigInteger('score_sum').notNullable();
    t.integer('score_count').notNullable();
    // Written by the compaction job: one row per group of its hour. Trigger rows (deltas) are not.
    t.boolean('compacted').notNullable().defaultTo(false);
    t.index(['tenant_id', 'hour']);
  });
  // The compaction job finds the hours it has to fold here.
  await knex.raw('CREATE INDEX lead_rollups_deltas_idx ON lead_rollups (tenant_id, hour) WHERE NOT compacted');
  // The runtime role appends (its triggers), reads (reports) and deletes (compaction); it never updates a row.
  await isolateTenantTable(knex, 'lead_rollups', { privileges: 'SELECT, INSERT, DELETE' });
  await grantPlatformRead(knex, 'lead_rollups');

  for (const [name, body] of Object.entries(FUNCTIONS)) {
    await knex.raw(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body}; RETURN NULL; END $$`);
  }
  await prepareTrigger(knex);
  for (const [name, event, referencing, fn] of TRIGGERS) {
    await knex.raw(`CREATE TRIGGER ${name} AFTER ${event} ON leads REFERENCING ${referencing} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
  }

  // Backfill: the leads there are, compacted, as the job would leave them. Forced row-level security is
  // lifted inside this transaction only, so the owner reads and writes every tenant's rows.
  await knex.raw('ALTER TABLE leads NO FORCE ROW LEVEL SECURITY');
  await knex.raw('ALTER TABLE lead_rollups NO FORCE ROW LEVEL SECURITY');
  await knex.raw(appendDeltas(deltas('leads', 1), true));
  await knex.raw('ALTER TABLE lead_rollups FORCE ROW LEVEL SECURITY');
  await knex.raw('ALTER TABLE leads FORCE ROW LEVEL SECURITY');
};

exports.down = async function down(knex) {
  for (const [name] of TRIGGERS) await knex.raw(`DROP TRIGGER IF EXISTS ${name} ON leads`);
  for (const name of Object.keys(FUNCTIONS)) await knex.raw(`DROP FUNCTION IF EXISTS ${name}()`);
  await knex.schema.dropTable('lead_rollups');
};
