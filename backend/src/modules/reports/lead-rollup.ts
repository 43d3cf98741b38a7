import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';

/**
 * lead_rollups (migration 20261203001000): lead counts per UTC hour of creation, owner, source and status,
 * kept exact by triggers on leads as appended delta rows, which a reader sums (docs/PERFORMANCE.md,
 * "Reports"). A report reads it only where it gives the same rows as the leads would.
 */

/** `[from, to)` of a report: the bounds of its first and last day in its time zone, either open (null). */
export interface DayBounds {
  from: string | null;
  to: string | null;
  timeZone: string;
}

/**
 * Whether every rollup hour of the range falls inside one day of the time zone: the zone's offset is a
 * whole number of hours at each hour of the range (not so in Asia/Kolkata, or Europe/Amsterdam before
 * 1940). The range is bounded by the tenant's first and last hour, so an open or wide one stays cheap.
 */
export async function wholeHoursIn(trx: Knex.Transaction, tenantId: string, bounds: DayBounds): Promise<boolean> {
  const { from, to, timeZone } = bounds;
  const { rows } = await trx.raw<{ rows: Array<{ fits: boolean }> }>(
    `with kept as (select min(hour) as first, max(hour) as last from lead_rollups where tenant_id = ?)
     select coalesce(bool_and(date_part('minute', h at time zone ?) = 0 and date_part('second', h at time zone ?) = 0), true) as fits
       from kept, generate_series(
         date_trunc('hour', greatest(kept.first, ?::date::timestamp at time zone ?), 'UTC'),
         least(kept.last, (?::date + 1)::timestamp at time zone ?),
         interval '1 hour') as h`,
    [tenantId, timeZone, timeZone, from, timeZone, to, timeZone],
  );
  return rows[0]!.fits;
}

/** A lead group's measures as the rollup sums them: the leads table's count(*), count(score), sum(score), avg(score). */
export const ROLLUP_MEASURES = {
  count: 'coalesce(sum(lead_rollups.leads), 0)::int',
  countScore: 'coalesce(sum(lead_rollups.score_count), 0)::int',
  sumScore: 'case when sum(lead_rollups.score_count) > 0 then sum(lead_rollups.score_sum) end',
  avgScore: 'round(sum(lead_rollups.score_sum)::numeric / nullif(sum(lead_rollups.score_count), 0), 2)',
} as const;

/** A group of leads is a row of a report when at least one live lead is in it: deltas may sum to none. */
export const ROLLUP_HAVING = 'sum(lead_rollups.leads) > 0';

/** The report builder's lead fields the rollup holds, by their column there. */
export const ROLLUP_COLUMNS: Readonly<Record<string, string>> = { status: 'status', source: 'source', ownerId: 'owner_id' };

/** Rollup rows of the tenant whose hour is within the bounds (either end open). */
export function rollupRows(bounds: DayBounds): Knex.QueryBuilder {
  const { trx, tenantId } = tenantScope();
  const query = trx('lead_rollups').where('lead_rollups.tenant_id', tenantId);
  if (bounds.from !== null) query.whereRaw('lead_rollups.hour >= (?::date::timestamp at time zone ?)', [bounds.from, bounds.timeZone]);
  if (bounds.to !== null) query.whereRaw('lead_rollups.hour < ((?::date + 1)::timestamp at time zone ?)', [bounds.to, bounds.timeZone]);
  return query;
}
