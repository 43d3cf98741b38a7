import { Knex } from 'knex';
import { ErrorDetail } from '../../lib/errors';
import { COLUMN_OF, customFilterSql, filterValue, RANGE_TYPES } from '../custom-fields/custom-field-query';
import { CustomField } from '../custom-fields/custom-field.model';
import { fieldsOf } from '../custom-fields/custom-fields.service';
import type { FilterValue, ReportDefinition } from './report-builder';
import { Interval } from './report-fields';

/** `customFields.<key>`: one of the tenant's custom fields of the report's resource. */
const CUSTOM_NAME = /^customFields\.([a-z][a-z0-9_]{0,39})$/;

export const customKeyOf = (name: string): string | undefined => CUSTOM_NAME.exec(name)?.[1];

/** Types whose values are a closed or free set of words: grouped by value. Dates are grouped by interval. */
const GROUPED_BY_VALUE: ReadonlySet<string> = new Set(['text', 'select', 'boolean', 'email', 'url', 'phone']);

/** A definition's filters: on built-in fields by name, and on custom fields (nested under `customFields`) by key. */
export function splitFilters(definition: ReportDefinition): { builtin: Record<string, FilterValue>; custom: Record<string, FilterValue> } {
  const { customFields, ...builtin } = definition.filters as Record<string, unknown>;
  return { builtin: builtin as Record<string, FilterValue>, custom: (customFields ?? {}) as Record<string, FilterValue> };
}

/** The tenant's custom fields of the report's resource, by key; none are read when the definition names none. */
export async function customFieldsNamed(definition: ReportDefinition): Promise<Map<string, CustomField>> {
  const grouped = definition.groupBy.some((group) => customKeyOf(typeof group === 'string' ? group : group.field));
  if (!grouped && Object.keys(splitFilters(definition).custom).length === 0) return new Map();
  return new Map((await fieldsOf(definition.resource)).map((field) => [field.key, field]));
}

function known(fields: Map<string, CustomField>, name: string, resource: string, path: string, problems: ErrorDetail[]): CustomField | undefined {
  const field = fields.get(customKeyOf(name)!);
  if (!field) problems.push({ field: path, message: `"${name}" is not a custom field of ${resource}` });
  return field;
}

/**
 * A custom field as a group: its value as stored in the record's `custom_fields` (the key, checked against
 * the tenant's fields, is a bound value), a date or datetime by interval in the report's time zone. Numbers
 * are not grouped and a multiselect has no single value: both are a 400.
 */
export function customGroupSql(
  fields: Map<string, CustomField>,
  table: string,
  group: string | { field: string; interval: Interval },
  definition: ReportDefinition,
  path: string,
  problems: ErrorDetail[],
): { sql: string; bindings: Knex.RawBinding[]; day?: boolean } | undefined {
  const name = typeof group === 'string' ? group : group.field;
  const field = known(fields, name, definition.resource, path, problems);
  if (!field) return undefined;
  const value = { sql: '(?? ->> ?)', bindings: [`${table}.custom_fields`, field.key] as Knex.RawBinding[] };
  if (field.type === 'date' || field.type === 'datetime') {
    if (typeof group === 'string') {
      problems.push({ field: path, message: `"${name}" is a date: group it by an interval ({field, interval})` });
      return undefined;
    }
    // The interval is one of INTERVALS, never the request's own text; a date has no time zone to convert.
    if (field.type === 'date') return { sql: `date_trunc('${group.interval}', ${value.sql}::timestamp)`, bindings: value.bindings, day: true };
    return { sql: `date_trunc('${group.interval}', ${value.sql}::timestamptz at time zone ?)`, bindings: [...value.bindings, definition.timeZone], day: true };
  }
  if (!GROUPED_BY_VALUE.has(field.type)) {
    problems.push({ field: path, message: `"${name}" is a ${field.type} field: it cannot group a report` });
    return undefined;
  }
  if (typeof group !== 'string') {
    problems.push({ field: path, message: `"${name}" is not a date: group it without an interval` });
    return undefined;
  }
  return value;
}

/**
 * A filter on a custom field (`filters.customFields.<key>`), through the typed copy of its values (custom_field_values and its index, as
 * list filters do): a value is equality, a list any of them, `{gte, lte}` a range of a number or a date.
 * Each value must be of the field's type.
 */
export function applyCustomFilter(
  query: Knex.QueryBuilder,
  fields: Map<string, CustomField>,
  table: string,
  resource: string,
  key: string,
  value: FilterValue,
  problems: ErrorDetail[],
): void {
  const path = `filters.customFields.${key}`;
  const field = known(fields, `customFields.${key}`, resource, path, problems);
  if (!field) return;
  const column = COLUMN_OF(field.type);
  const typed = (given: string | number, at: string) => {
    // A select's value is one of its options (a list's filter takes any text; a report names what it cannot match).
    const choice = field.type === 'select' || field.type === 'multiselect';
    const converted = choice && !field.options.includes(String(given)) ? undefined : filterValue(field, String(given));
    if (converted === undefined) problems.push({ field: at, message: `must be a valid ${field.type}` });
    return converted;
  };
  const where = (op: '=' | '>=' | '<=' | 'in', converted: unknown) => query.whereRaw(customFilterSql(table, { fieldId: field.id, column, op, value: converted }), [field.id, converted as Knex.RawBinding]);
  if (Array.isArray(value)) {
    const converted = value.map((item, index) => typed(item, `${path}.${index}`));
    if (!converted.includes(undefined)) where('in', converted);
    return;
  }
  if (typeof value !== 'object') {
    const converted = typed(value, path);
    if (converted !== undefined) where('=', converted);
    return;
  }
  if (!RANGE_TYPES.has(field.type)) {
    problems.push({ field: path, message: 'a range needs a number, currency, date or datetime field' });
    return;
  }
  for (const [operator, end] of Object.entries(value) as Array<['gte' | 'lte', string | number]>) {
    const converted = typed(end, `${path}.${operator}`);
    if (converted !== undefined) where(operator === 'gte' ? '>=' : '<=', converted);
  }
}
