import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { DayBounds, ROLLUP_COLUMNS, ROLLUP_HAVING, ROLLUP_MEASURES, rollupRows, wholeHoursIn } from './lead-rollup';
import { capitalized, Column, DATE_ONLY, FilterValue, ReportDefinition } from './report-builder';
import { splitFilters } from './report-custom-fields';
import { ReportCaller, scopeToCaller } from './report-scope';

type MeasureKey = keyof typeof ROLLUP_MEASURES;

const measureKey = (measure: ReportDefinition['measures'][number]): string => (measure.field ? `${measure.fn}${capitalized(measure.field)}` : measure.fn);
const isRollupMeasure = (key: string): key is MeasureKey => Object.hasOwn(ROLLUP_MEASURES, key);

/** A `createdAt` filter the rollup answers: a range of whole days (date-only ends), either end open. */
function createdDays(value: FilterValue | undefined, timeZone: string): DayBounds | undefined {
  if (value === undefined) return { from: null, to: null, timeZone };
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  const ends = [value.gte, value.lte].filter((end) => end !== undefined);
  if (!ends.every((end) => typeof end === 'string' && DATE_ONLY.test(end))) return undefined;
  return { from: (value.gte as string | undefined) ?? null, to: (value.lte as string | undefined) ?? null, timeZone };
}

/**
 * The day bounds of a (checked) definition of leads the rollup holds everything for: groups by status,
 * source, owner or creation date, filters on those (creation by whole days), and count, or count, sum or
 * avg of the score. Anything else (custom fields, other dates, min and max, timestamps) reads the leads.
 */
function rollupBounds(definition: ReportDefinition): DayBounds | undefined {
  if (definition.resource !== 'leads') return undefined;
  const groupsFit = definition.groupBy.every((group) => (typeof group === 'string' ? Object.hasOwn(ROLLUP_COLUMNS, group) : group.field === 'createdAt'));
  if (!groupsFit || !definition.measures.every((measure) => isRollupMeasure(measureKey(measure)))) return undefined;
  const { builtin, custom } = splitFilters(definition);
  if (Object.keys(custom).length) return undefined;
  const { createdAt, ...others } = builtin;
  if (!Object.keys(others).every((name) => Object.hasOwn(ROLLUP_COLUMNS, name))) return undefined;
  return createdDays(createdAt, definition.timeZone);
}

/**
 * A leads report read from lead_rollups, with the groups and measures (same keys, same values) the leads
 * would give; undefined when the rollup cannot answer it (rollupBounds, or a time zone whose days are not
 * whole hours of the range). The definition is one compileReport has checked.
 */
export async function leadRollupReport(
  principal: ReportCaller,
  definition: ReportDefinition,
): Promise<{ query: Knex.QueryBuilder; groups: Column[]; measures: Column[] } | undefined> {
  const bounds = rollupBounds(definition);
  const { trx, tenantId } = tenantScope();
  if (!bounds || !(await wholeHoursIn(trx, tenantId, bounds))) return undefined;
  const query = rollupRows(bounds);
  for (const [name, value] of Object.entries(splitFilters(definition).builtin).filter(([name]) => name !== 'createdAt')) {
    const column = `lead_rollups.${ROLLUP_COLUMNS[name]!}`;
    if (Array.isArray(value)) query.whereIn(column, value);
    else query.where(column, value as string);
  }
  scopeToCaller(query, principal, 'lead_rollups.owner_id');
  const groups = definition.groupBy.map((group): Column => {
    if (typeof group === 'string') return { key: group, sql: '??', bindings: [`lead_rollups.${ROLLUP_COLUMNS[group]!}`], numeric: false };
    // The interval is one of INTERVALS, never the request's own text.
    return { key: group.field, sql: `date_trunc('${group.interval}', lead_rollups.hour at time zone ?)`, bindings: [definition.timeZone], numeric: false, day: true };
  });
  const measures = definition.measures.map((measure): Column => {
    const key = measureKey(measure) as MeasureKey;
    return { key, sql: ROLLUP_MEASURES[key], bindings: [], numeric: key === 'sumScore' || key === 'avgScore' };
  });
  // Without groups, one row of totals, as count(*) gives over no lead; with groups, only groups holding a lead.
  if (groups.length) query.havingRaw(ROLLUP_HAVING);
  return { query, groups, measures };
}
