import { Knex } from 'knex';
import { defineJob, schedulePayload } from '../../jobs/job-definition';
import { forEachTenant } from '../../jobs/tenant-sweep';

/**
 * Folds a tenant's lead_rollups deltas: every hour holding a delta (a row not `compacted`) becomes one row
 * per group, summed, and groups summing to nothing go. One statement, so it deletes exactly the rows its
 * snapshot sums: a delta a writer appends meanwhile is neither summed nor deleted, and stays for the next
 * run. Writers only append, so neither side waits on the other's row locks. Answers the rows removed and kept.
 */
export async function compactLeadRollups(trx: Knex.Transaction, tenantId: string): Promise<{ folded: number; kept: number }> {
  const { rows } = await trx.raw<{ rows: Array<{ folded: number; kept: number }> }>(
    `with gone as (
       delete from lead_rollups r
        where r.tenant_id = ? and r.hour in (select d.hour from lead_rollups d where d.tenant_id = ? and not d.compacted)
       returning r.*
     ), kept as (
       insert into lead_rollups (tenant_id, hour, owner_id, source, status, leads, contacts, deals, score_sum, score_count, compacted)
       select tenant_id, hour, owner_id, source, status, sum(leads), sum(contacts), sum(deals), sum(score_sum), sum(score_count), true
         from gone
        group by tenant_id, hour, owner_id, source, status
       having sum(leads) <> 0 or sum(contacts) <> 0 or sum(deals) <> 0 or sum(score_sum) <> 0 or sum(score_count) <> 0
       returning 1
     )
     select (select count(*) from gone)::int as folded, (select count(*) from kept)::int as kept`,
    [tenantId, tenantId],
  );
  return rows[0]!;
}

/** Every 5 minutes, per tenant: readers of the rollup then sum about one row per group and hour, plus the last minutes' deltas. */
export const leadRollupCompactionJob = defineJob({
  name: 'reports.lead-rollup-compaction',
  payload: schedulePayload,
  schedule: '*/5 * * * *',
  async run(_payload, deps, job) {
    let folded = 0;
    let kept = 0;
    await forEachTenant(deps, async (trx, tenantId) => {
      const compacted = await compactLeadRollups(trx, tenantId);
      folded += compacted.folded;
      kept += compacted.kept;
    });
    job.logger.info('lead rollups compacted', { folded, kept });
  },
});
