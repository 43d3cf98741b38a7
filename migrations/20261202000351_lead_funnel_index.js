'use strict';
/**
 * The lead funnel's second pass (won deals and the median days to convert) reads converted leads only:
 * a partial index of them (about a tenth of the leads) spares it a scan of every lead and the join of
 * every deal (docs/PERFORMANCE.md, "Reports").
 */
exports.up = async function up(knex) {
  await knex.raw(
    `CREATE INDEX leads_report_converted_idx ON leads (tenant_id, created_at) INCLUDE (source, owner_id, converted_at, converted_deal_id)
     WHERE deleted_at IS NULL AND (converted_at IS NOT NULL OR converted_deal_id IS NOT NULL)`,
  );
};

exports.down = async function down(knex) {
  await knex.raw('DROP INDEX IF EXISTS leads_report_converted_idx');
};
