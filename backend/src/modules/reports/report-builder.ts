import { Knex } from 'knex';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, ErrorDetail } from '../../lib/errors';
import { Interval, MeasureFunction, REPORT_RESOURCES, ReportField, ReportResource } from './report-fields';
import { CustomField } from '../custom-fields/custom-field.model';
import { applyCustomFilter, customFieldsNamed, customGroupSql, customKeyOf, splitFilters } from './report-custom-fields';
import { assertMayReport, ReportCaller, scopeToCaller, withStatementTimeout } from './report-scope';
import { leadRollupReport } from './lead-rollup-report';

export type FilterValue = string | number | Array<string | number> | { gte?: string | number; lte?: string | number };

/** A report the builder runs: what the request (or a saved report) says, already shaped by the schema. */
export interface ReportDefinition {
  resource: string;
  filters: Record<string, FilterValue>;
  groupBy: Array<string | { field: string; interval: Interval }>;
  measures: Array<{ fn: MeasureFunction; field?: string }>;
  sort?: string;
  limit: number;
  timeZone: string;
}

export type ReportRow = Record<string, string | number | null>;

export interface Column {
  /** The key of the answer's rows. */
  key: string;
  /** The select expression, with `?` for its bindings. */
  sql: string;
  bindings: Knex.RawBinding[];
  /** Sums and averages come from PostgreSQL as numeric text. */
  numeric: boolean;
  /** A date bucket: grouped as a timestamp, named `YYYY-MM-DD` once grouped (formatting a few groups, not every row). */
  day?: boolean;
}

export const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
export const capitalized = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
const qualified = (resource: ReportResource, field: ReportField) => `${resource.table}.${field.column}`;

function fieldOf(resource: ReportResource, name: string, path: string, problems: ErrorDetail[]): ReportField | undefined {
  const field = resource.fields[name];
  if (!field) problems.push({ field: path, message: `"${name}" is not a field reports can use here` });
  return field;
}

/** A bucket's first moment in the report's time zone (a date column has none to convert); named as a day once grouped. */
function bucketSql(field: ReportField, column: string, interval: Interval): { sql: string; bindings: Knex.RawBinding[] } {
  // The interval is one of INTERVALS, never the request's own text.
  if (field.column === 'expected_close_date') return { sql: `date_trunc('${interval}', ??::timestamp)`, bindings: [column] };
  return { sql: `date_trunc('${interval}', ?? at time zone ?)`, bindings: [column] };
}

function groupColumns(resource: ReportResource, definition: ReportDefinition, custom: Map<string, CustomField>, problems: ErrorDetail[]): Column[] {
  return definition.groupBy.flatMap((group, index): Column[] => {
    const name = typeof group === 'string' ? group : group.field;
    const path = typeof group === 'string' ? `groupBy.${index}` : `groupBy.${index}.field`;
    if (customKeyOf(name)) {
      const grouped = customGroupSql(custom, resource.table, group, definition, path, problems);
      return grouped ? [{ key: name, sql: grouped.sql, bindings: grouped.bindings, numeric: false, day: grouped.day }] : [];
    }
    const field = fieldOf(resource, name, path, problems);
    if (!field) return [];
    if (field.kind === 'number') {
      problems.push({ field: path, message: `"${name}" is a number: measure it, or filter by it` });
      return [];
    }
    const column = qualified(resource, field);
    if (field.kind !== 'date') return [{ key: name, sql: '??', bindings: [column], numeric: false }];
    if (typeof group === 'string') {
      problems.push({ field: path, message: `"${name}" is a date: group it by an interval ({field, interval})` });
      return [];
    }
    const bucket = bucketSql(field, column, group.interval);
    const bindings = field.column === 'expected_close_date' ? bucket.bindings : [...bucket.bindings, definition.timeZone];
    return [{ key: name, sql: bucket.sql, bindings, numeric: false, day: true }];
  });
}

function measureColumns(resource: ReportResource, definition: ReportDefinition, problems: ErrorDetail[]): Column[] {
  return definition.measures.flatMap(({ fn, field: name }, index): Column[] => {
    if (!name) {
      if (fn === 'count') return [{ key: 'count', sql: 'count(*)::int', bindings: [], numeric: false }];
      problems.push({ field: `measures.${index}.field`, message: `${fn} needs a field` });
      return [];
    }
    const field = fieldOf(resource, name, `measures.${index}.field`, problems);
    if (!field) return [];
    const key = `${fn}${capitalized(name)}`;
    const column = qualified(resource, field);
    if (fn === 'count') return [{ key, sql: 'count(??)::int', bindings: [column], numeric: false }];
    if ((fn === 'sum' || fn === 'avg') && field.kind !== 'number') {
      problems.push({ field: `measures.${index}.field`, message: `${fn} needs a number field` });
      return [];
    }
    if (field.kind === 'category' || field.kind === 'id') {
      problems.push({ field: `measures.${index}.field`, message: `${fn} needs a number or date field` });
      return [];
    }
    if (fn === 'avg') return [{ key, sql: 'round(avg(??)::numeric, 2)', bindings: [column], numeric: true }];
    if (field.kind === 'date') return [{ key, sql: `to_char(${fn}(??) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`, bindings: [column], numeric: false }];
    return [{ key, sql: `${fn}(??)`, bindings: [column], numeric: true }];
  });
}

/** One filter's value, checked against its field's kind: a wrong one is a 400, never a database error. */
function checkValue(field: ReportField, value: unknown, path: string, problems: ErrorDetail[]): boolean {
  const fits =
    field.kind === 'number'
      ? typeof value === 'number'
      : field.kind === 'date'
        ? typeof value === 'string' && (DATE_ONLY.test(value) || !Number.isNaN(Date.parse(value))) && /^\d{4}-\d{2}-\d{2}/.test(value)
        : field.kind === 'id'
          ? typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
          : typeof value === 'string';
  if (!fits) problems.push({ field: path, message: `is not a ${field.kind === 'id' ? 'UUID' : field.kind === 'category' ? 'text value' : field.kind}` });
  return fits;
}

/**
 * A filter as a WHERE condition, values bound: a value is equality, a list is `in`, `{gte, lte}` a range
 * (both ends included; a date-only end is a whole day of the report's time zone).
 */
function applyFilter(query: Knex.QueryBuilder, resource: ReportResource, name: string, value: FilterValue, timeZone: string, problems: ErrorDetail[]): void {
  const path = `filters.${name}`;
  const field = fieldOf(resource, name, path, problems);
  if (!field) return;
  const column = qualified(resource, field);
  if (Array.isArray(value)) {
    if (value.every((item, index) => checkValue(field, item, `${path}.${index}`, problems))) query.whereIn(column, value);
    return;
  }
  if (typeof value !== 'object') {
    if (checkValue(field, value, path, problems)) query.where(column, value);
    return;
  }
  if (field.kind !== 'date' && field.kind !== 'number') {
    problems.push({ field: path, message: 'a range needs a date or number field' });
    return;
  }
  for (const [operator, end] of Object.entries(value) as Array<['gte' | 'lte', string | number]>) {
    if (!checkValue(field, end, `${path}.${operator}`, problems)) continue;
    if (field.kind === 'number' || field.column === 'expected_close_date') query.where(column, operator === 'gte' ? '>=' : '<=', end);
    else if (typeof end === 'string' && DATE_ONLY.test(end)) {
      if (operator === 'gte') query.whereRaw('?? >= (?::date::timestamp at time zone ?)', [column, end, timeZone]);
      else query.whereRaw('?? < ((?::date + 1)::timestamp at time zone ?)', [column, end, timeZone]);
    } else query.where(column, operator === 'gte' ? '>=' : '<=', end);
  }
}

function orderBy(definition: ReportDefinition, columns: Column[], problems: ErrorDetail[]): string {
  const aliases = new Map(columns.map((column, index) => [column.key, `c${index}`]));
  if (!definition.sort) return columns.map((_, index) => `c${index} asc nulls last`).join(', ') || '1';
  const descending = definition.sort.startsWith('-');
  const key = descending ? definition.sort.slice(1) : definition.sort;
  const alias = aliases.get(key);
  if (!alias) {
    problems.push({ field: 'sort', message: `"${key}" is not a column of this report (${[...aliases.keys()].join(', ')})` });
    return '1';
  }
  return `${alias} ${descending ? 'desc' : 'asc'} nulls last`;
}

/** A checked report: its query, not yet run, and the columns its rows answer. */
interface CompiledReport {
  query: Knex.QueryBuilder;
  columns: Column[];
}

/**
 * A report as one aggregate query over the resource's live records the caller may list (a sales user:
 * their own and their team's), filtered, grouped and measured. Every name is checked against
 * REPORT_RESOURCES, or `customFields.<key>` against the tenant's custom fields of the resource, first (all
 * problems in one 400); every value is a bound parameter. A leads report the lead rollup can answer with
 * the same rows sums the rollup instead of reading every lead (lead-rollup-report.ts).
 */
export async function compileReport(principal: ReportCaller, definition: ReportDefinition): Promise<CompiledReport> {
  const resource = REPORT_RESOURCES[definition.resource]!;
  assertMayReport(principal, resource.table);
  const custom = await customFieldsNamed(definition);
  const problems: ErrorDetail[] = [];
  const groups = groupColumns(resource, definition, custom, problems);
  const measures = measureColumns(resource, definition, problems);
  const columns = [...groups, ...measures];
  const duplicate = columns.find((column, index) => columns.findIndex((other) => other.key === column.key) !== index);
  if (duplicate) problems.push({ field: 'groupBy', message: `"${duplicate.key}" is named twice` });

  const { trx, tenantId } = tenantScope();
  const query = trx(resource.table).where(`${resource.table}.tenant_id`, tenantId).whereNull(`${resource.table}.deleted_at`);
  const filters = splitFilters(definition);
  for (const [name, value] of Object.entries(filters.builtin)) applyFilter(query, resource, name, value, definition.timeZone, problems);
  for (const [key, value] of Object.entries(filters.custom)) applyCustomFilter(query, custom, resource.table, definition.resource, key, value, problems);
  const order = orderBy(definition, columns, problems);
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'The report names what it cannot use', problems);

  const rollup = await leadRollupReport(principal, definition);
  if (rollup) return grouped(rollup.query, rollup.groups, rollup.measures, order, definition.limit);
  scopeToCaller(query, principal, `${resource.table}.${resource.ownerColumn}`);
  return grouped(query, groups, measures, order, definition.limit);
}

/** The query's groups and measures selected, grouped, ordered and limited. */
function grouped(query: Knex.QueryBuilder, groups: Column[], measures: Column[], order: string, limit: number): CompiledReport {
  const { trx } = tenantScope();
  const columns = [...groups, ...measures];
  query.select(columns.map((column, index) => trx.raw(`${column.sql} as c${index}`, column.bindings)));
  if (groups.length) query.groupByRaw(groups.map((_, index) => String(index + 1)).join(', '));
  if (!columns.some((column) => column.day)) return { query: query.orderByRaw(order).limit(limit), columns };
  // Date buckets are grouped as timestamps and named as days afterwards: to_char on each group, not each row.
  const named = trx
    .from(query.as('r'))
    .select(columns.map((column, index) => (column.day ? trx.raw(`to_char(??, 'YYYY-MM-DD') as ??`, [`r.c${index}`, `c${index}`]) : `r.c${index}`)))
    .orderByRaw(order)
    .limit(limit);
  return { query: named, columns };
}

/** A report's rows, each keyed by its group keys and measures. */
export async function runReport(principal: ReportCaller, definition: ReportDefinition, timeoutMs: number): Promise<ReportRow[]> {
  const { query, columns } = await compileReport(principal, definition);
  const rows = await withStatementTimeout(timeoutMs, async () => (await query) as Array<Record<string, unknown>>);
  return rows.map((row) =>
    Object.fromEntries(
      columns.map((column, index) => {
        const value = row[`c${index}`] as string | number | null;
        return [column.key, column.numeric && value !== null ? Number(value) : value];
      }),
    ),
  );
}
