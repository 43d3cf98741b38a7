import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { TenantPrincipal } from '../auth/principal';
import { DayBounds, wholeHoursIn } from './lead-rollup';
import { assertMayReport, scopeSql, withStatementTimeout } from './report-scope';

/** The parameters of a built-in report, shaped by its schema (reports.schema.ts). */
export interface BuiltinParameters {
  /** First and last day (`YYYY-MM-DD`, both included) in `timeZone`. */
  from?: string;
  to?: string;
  ownerId?: string;
  pipelineId?: string;
  timeZone: string;
}

/** Hours within which a ticket of each priority should have its first response; later (or none yet) is a breach. */
export const FIRST_RESPONSE_SLA_HOURS = { urgent: 1, high: 4, medium: 8, low: 24 } as const;

/** The range a dated report covers when none is given: the 90 days up to today (UTC). */
const DEFAULT_DAYS = 90;

type Row = Record<string, unknown>;

/** The first and last day a dated report covers, in its time zone. */
function days(parameters: BuiltinParameters): DayBounds & { from: string; to: string } {
  const to = parameters.to ?? new Date().toISOString().slice(0, 10);
  const from = parameters.from ?? new Date(Date.parse(to) - (DEFAULT_DAYS - 1) * 86_400_000).toISOString().slice(0, 10);
  return { from, to, timeZone: parameters.timeZone };
}

/** `[from, to]` as `?` bindings of the day bounds in the report's time zone: from's midnight, the midnight after to. */
function dayRange(parameters: BuiltinParameters): Knex.RawBinding[] {
  const { from, to, timeZone } = days(parameters);
  return [from, timeZone, to, timeZone];
}
const RANGE_SQL = (column: string) => ` and ${column} >= (?::date::timestamp at time zone ?) and ${column} < ((?::date + 1)::timestamp at time zone ?)`;

/** Optional equality filters (checked column names, bound values) as SQL. */
function equalities(filters: Array<[string, string | undefined]>): { sql: string; bindings: Knex.RawBinding[] } {
  const given = filters.filter((filter): filter is [string, string] => filter[1] !== undefined);
  return { sql: given.map(([column]) => ` and ${column} = ?`).join(''), bindings: given.map(([, value]) => value) };
}

/** Numeric text (sums, rates, medians) as numbers; the other values as they come. */
function numbers(rows: Row[], keys: string[]): Row[] {
  return rows.map((row) => ({ ...row, ...Object.fromEntries(keys.map((key) => [key, row[key] === null || row[key] === undefined ? null : Number(row[key])])) }));
}

async function query(timeoutMs: number, sql: string, bindings: Knex.RawBinding[]): Promise<Row[]> {
  return withStatementTimeout(timeoutMs, async (trx) => (await trx.raw<{ rows: Row[] }>(sql, bindings)).rows);
}

const STAGE_JOIN = 'join pipeline_stages s on s.tenant_id = d.tenant_id and s.pipeline_id = d.pipeline_id and s.key = d.stage';

/**
 * Open deals (in a stage of kind `open`) by pipeline, stage and currency: count, amount, and weighted
 * amount = sum(amount x probability / 100), a deal's own probability else its stage's. `from`/`to`, when
 * given, bound the expected close date.
 */
export async function pipelineReport(principal: TenantPrincipal, parameters: BuiltinParameters, timeoutMs: number): Promise<Row[]> {
  assertMayReport(principal, 'deals');
  const { tenantId } = tenantScope();
  const filters = equalities([['d.pipeline_id', parameters.pipelineId], ['d.owner_id', parameters.ownerId]]);
  const scope = scopeSql(principal, 'd.owner_id');
  const bounded = parameters.from !== undefined || parameters.to !== undefined;
  const range = bounded ? ` and d.expected_close_date >= coalesce(?::date, '-infinity') and d.expected_close_date <= coalesce(?::date, 'infinity')` : '';
  const rows = await query(
    timeoutMs,
    `select d.pipeline_id as "pipelineId", p.name as "pipelineName", d.stage, s.name as "stageName", d.currency,
       count(*)::int as count, sum(d.amount) as amount,
       round(sum(d.amount * coalesce(d.probability, s.probability, 0) / 100.0), 2) as "weightedAmount"
     from deals d ${STAGE_JOIN}
     join pipelines p on p.tenant_id = d.tenant_id and p.id = d.pipeline_id
     where d.tenant_id = ? and d.deleted_at is null and d.closed_at is null and s.kind = 'open'${filters.sql}${scope.sql}${range}
     group by d.pipeline_id, p.name, d.stage, s.name, s.position, d.currency
     order by p.name, d.pipeline_id, s.position, d.currency`,
    [tenantId, ...filters.bindings, ...scope.bindings, ...(bounded ? [parameters.from ?? null, parameters.to ?? null] : [])],
  );
  return numbers(rows, ['amount', 'weightedAmount']);
}

/**
 * Deals closed (won or lost, by their stage's kind) in the range, by owner, month of closing and currency:
 * won/lost count and amount, win rate = won / (won + lost) by count, average sales cycle = mean days from
 * creation to closing of the won deals.
 */
export async function salesPerformanceReport(principal: TenantPrincipal, parameters: BuiltinParameters, timeoutMs: number): Promise<Row[]> {
  assertMayReport(principal, 'deals');
  const { tenantId } = tenantScope();
  const filters = equalities([['d.pipeline_id', parameters.pipelineId], ['d.owner_id', parameters.ownerId]]);
  const scope = scopeSql(principal, 'd.owner_id');
  const won = `filter (where s.kind = 'won')`;
  const lost = `filter (where s.kind = 'lost')`;
  const rows = await query(
    timeoutMs,
    `select d.owner_id as "ownerId", to_char(date_trunc('month', d.closed_at at time zone ?), 'YYYY-MM') as month, d.currency,
       count(*) ${won}::int as "wonCount", coalesce(sum(d.amount) ${won}, 0) as "wonAmount",
       count(*) ${lost}::int as "lostCount", coalesce(sum(d.amount) ${lost}, 0) as "lostAmount",
       round(count(*) ${won}::numeric / count(*), 4) as "winRate",
       round((avg(extract(epoch from d.closed_at - d.created_at)) ${won} / 86400)::numeric, 1) as "avgSalesCycleDays"
     from deals d ${STAGE_JOIN}
     where d.tenant_id = ? and d.deleted_at is null and d.closed_at is not null and s.kind in ('won', 'lost')${RANGE_SQL('d.closed_at')}${filters.sql}${scope.sql}
     group by 1, 2, 3
     order by 2, 1, 3`,
    [parameters.timeZone, tenantId, ...dayRange(parameters), ...filters.bindings, ...scope.bindings],
  );
  return numbers(rows, ['wonAmount', 'lostAmount', 'winRate', 'avgSalesCycleDays']);
}

/**
 * Leads created in the range, by source: how many, how many converted to a contact and to a deal, how many
 * of those deals are won (a stage of kind `won`), each as a rate of the leads, and the median days from a
 * lead's creation to its conversion. Two passes: the counts by source, summed from lead_rollups when the
 * time zone's days are whole hours of it (lead-rollup.ts), else over every lead; then the won deals and the
 * median over the converted leads only, read through leads_report_converted_idx (docs/PERFORMANCE.md,
 * "Reports"): the join and the median's sort see a tenth of the rows instead of all of them. That pass is
 * materialized: joined in a nested loop on `is not distinct from` (null sources), it was run again per source.
 */
export async function leadFunnelReport(principal: TenantPrincipal, parameters: BuiltinParameters, timeoutMs: number): Promise<Row[]> {
  assertMayReport(principal, 'leads');
  const { trx, tenantId } = tenantScope();
  const filters = equalities([['l.owner_id', parameters.ownerId]]);
  const scope = scopeSql(principal, 'l.owner_id');
  const where = `l.tenant_id = ? and l.deleted_at is null${RANGE_SQL('l.created_at')}${filters.sql}${scope.sql}`;
  const bindings = [tenantId, ...dayRange(parameters), ...filters.bindings, ...scope.bindings];
  const rolledUp = await wholeHoursIn(trx, tenantId, days(parameters));
  const rollupFilters = equalities([['r.owner_id', parameters.ownerId]]);
  const rollupScope = scopeSql(principal, 'r.owner_id');
  const counted = rolledUp
    ? `select r.source, sum(r.leads)::int as leads, sum(r.contacts)::int as contacts, sum(r.deals)::int as deals
       from lead_rollups r
       where r.tenant_id = ?${RANGE_SQL('r.hour')}${rollupFilters.sql}${rollupScope.sql}
       group by r.source
       having sum(r.leads) > 0`
    : `select l.source, count(*)::int as leads, count(l.converted_contact_id)::int as contacts, count(l.converted_deal_id)::int as deals
       from leads l
       where ${where}
       group by l.source`;
  const countedBindings = rolledUp ? [tenantId, ...dayRange(parameters), ...rollupFilters.bindings, ...rollupScope.bindings] : bindings;
  const rows = await query(
    timeoutMs,
    `with counted as (${counted}), converted as materialized (
       select l.source, count(*) filter (where s.kind = 'won')::int as won,
         percentile_cont(0.5) within group (order by extract(epoch from l.converted_at - l.created_at) / 86400)
           filter (where l.converted_at is not null) as median
       from leads l
       left join deals d on d.tenant_id = l.tenant_id and d.id = l.converted_deal_id and d.deleted_at is null
       left join pipeline_stages s on s.tenant_id = d.tenant_id and s.pipeline_id = d.pipeline_id and s.key = d.stage
       where ${where} and (l.converted_at is not null or l.converted_deal_id is not null)
       group by l.source
     )
     select c.source, c.leads, c.contacts, c.deals, coalesce(v.won, 0)::int as won,
       round(c.contacts::numeric / c.leads, 4) as "contactRate",
       round(c.deals::numeric / c.leads, 4) as "dealRate",
       round(coalesce(v.won, 0)::numeric / c.leads, 4) as "wonRate",
       round(v.median::numeric, 1) as "medianDaysToConvert"
     from counted c
     left join converted v on v.source is not distinct from c.source
     order by c.leads desc, c.source nulls last`,
    [...countedBindings, ...bindings],
  );
  return numbers(rows, ['contactRate', 'dealRate', 'wonRate', 'medianDaysToConvert']);
}

/** Activities that occurred in the range, by owner and week (starting Monday): calls, emails, meetings, notes and their total. */
export async function activityReport(principal: TenantPrincipal, parameters: BuiltinParameters, timeoutMs: number): Promise<Row[]> {
  assertMayReport(principal, 'activities');
  const { tenantId } = tenantScope();
  const filters = equalities([['a.owner_id', parameters.ownerId]]);
  const scope = scopeSql(principal, 'a.owner_id');
  const of = (type: string) => `count(*) filter (where a.type = '${type}')::int`;
  return query(
    timeoutMs,
    `select a.owner_id as "ownerId", to_char(date_trunc('week', a.occurred_at at time zone ?), 'YYYY-MM-DD') as week,
       ${of('call')} as calls, ${of('email')} as emails, ${of('meeting')} as meetings, ${of('note')} as notes, count(*)::int as total
     from activities a
     where a.tenant_id = ? and a.deleted_at is null${RANGE_SQL('a.occurred_at')}${filters.sql}${scope.sql}
     group by 1, 2
     order by 2, 1 nulls last`,
    [parameters.timeZone, tenantId, ...dayRange(parameters), ...filters.bindings, ...scope.bindings],
  );
}

/**
 * Tickets by priority and week: opened (created that week) with their median first-response hours and SLA
 * breaches (first response later than FIRST_RESPONSE_SLA_HOURS, or none yet and the time is past), and
 * resolved (resolved that week) with their median resolution hours. `ownerId` is the assignee.
 */
export async function ticketsReport(principal: TenantPrincipal, parameters: BuiltinParameters, timeoutMs: number): Promise<Row[]> {
  assertMayReport(principal, 'tickets');
  const { tenantId } = tenantScope();
  const filters = equalities([['t.assignee_id', parameters.ownerId]]);
  const scope = scopeSql(principal, 't.assignee_id');
  const week = (column: string) => `date_trunc('week', ${column} at time zone ?)`;
  const hours = (end: string) => `extract(epoch from ${end} - t.created_at) / 3600`;
  const where = (column: string) => `where t.tenant_id = ? and t.deleted_at is null${RANGE_SQL(column)}${filters.sql}${scope.sql}`;
  const whereBindings = [tenantId, ...dayRange(parameters), ...filters.bindings, ...scope.bindings];
  const rows = await query(
    timeoutMs,
    `with opened as (
       select t.priority, ${week('t.created_at')} as week, count(*)::int as opened,
         percentile_cont(0.5) within group (order by ${hours('t.first_response_at')}) filter (where t.first_response_at is not null) as first_response,
         count(*) filter (where coalesce(t.first_response_at, now()) - t.created_at > make_interval(hours => (?::jsonb ->> t.priority::text)::int))::int as breaches
       from tickets t ${where('t.created_at')}
       group by 1, 2),
     resolved as (
       select t.priority, ${week('t.resolved_at')} as week, count(*)::int as resolved,
         percentile_cont(0.5) within group (order by ${hours('t.resolved_at')}) as resolution
       from tickets t ${where('t.resolved_at')}
       group by 1, 2)
     select coalesce(o.priority, r.priority) as priority, to_char(coalesce(o.week, r.week), 'YYYY-MM-DD') as week,
       coalesce(o.opened, 0) as opened, coalesce(r.resolved, 0) as resolved,
       round(o.first_response::numeric, 1) as "medianFirstResponseHours", round(r.resolution::numeric, 1) as "medianResolutionHours",
       coalesce(o.breaches, 0) as "slaBreaches"
     from opened o full join resolved r on r.priority = o.priority and r.week = o.week
     order by 2, array_position(array['urgent', 'high', 'medium', 'low'], coalesce(o.priority, r.priority)::text)`,
    [parameters.timeZone, JSON.stringify(FIRST_RESPONSE_SLA_HOURS), ...whereBindings, parameters.timeZone, ...whereBindings],
  );
  return numbers(rows, ['medianFirstResponseHours', 'medianResolutionHours']);
}

export const BUILTIN_REPORTS = {
  pipeline: pipelineReport,
  'sales-performance': salesPerformanceReport,
  'lead-funnel': leadFunnelReport,
  activity: activityReport,
  tickets: ticketsReport,
} as const;
export type BuiltinReportName = keyof typeof BUILTIN_REPORTS;
