import { AppError, ErrorDetail } from '../../lib/errors';
import type { ResourceDefinition, SortColumn } from '../crm/resource-definition';
import { CustomField, CustomFieldType } from './custom-field.model';
import { valueSchema } from './custom-field-values';
import { fieldsOf } from './custom-fields.service';

/** `customFields.budget`, `customFields.budget[gte]`: a filter on a custom field (eq when no operator). */
export const CUSTOM_FILTER = /^customFields\.[a-z][a-z0-9_]{0,39}(\[(eq|gte|lte|in)\])?$/;
export const CUSTOM_SORT = /^-?customFields\.[a-z][a-z0-9_]{0,39}$/;
const FILTER_PARTS = /^customFields\.([a-z][a-z0-9_]{0,39})(?:\[(eq|gte|lte|in)\])?$/;

type ValueColumn = 'value_text' | 'value_number' | 'value_time';

/** One condition on the typed copy of a custom field's values (custom_field_values). */
export interface CustomFilter {
  fieldId: string;
  column: ValueColumn;
  op: '=' | '>=' | '<=' | 'in';
  value: unknown;
}

export interface CustomQuery {
  filters: CustomFilter[];
  sort?: SortColumn[];
}

export const COLUMN_OF = (type: CustomFieldType): ValueColumn =>
  type === 'number' || type === 'currency' ? 'value_number' : type === 'datetime' ? 'value_time' : 'value_text';
const CAST: Record<ValueColumn, string> = { value_text: 'text', value_number: 'float8', value_time: 'timestamptz' };
export const RANGE_TYPES: ReadonlySet<CustomFieldType> = new Set(['number', 'currency', 'date', 'datetime']);
const OPERATORS = { eq: '=', gte: '>=', lte: '<=', in: 'in' } as const;

/**
 * The condition as SQL: the record has a value of the field that passes. It reads the index on
 * (tenant_id, field_id, value, record_id), whose comparisons are all LEAKPROOF, so row-level security
 * leaves the index usable. Bindings: the field id, then the value (an array for `in`).
 */
export function customFilterSql(table: string, filter: CustomFilter): string {
  const cast = CAST[filter.column];
  const test = filter.op === 'in' ? `= any(?::${cast}[])` : `${filter.op} ?::${cast}`;
  return `exists (select 1 from custom_field_values v where v.tenant_id = "${table}".tenant_id and v.record_id = "${table}".id and v.field_id = ? and v.${filter.column} ${test})`;
}

/**
 * A custom field as a sort column: its value in the record's jsonb, never null (a record without one sorts
 * before every value ascending, after every value descending), numbers as numeric so that the cursor holds
 * them exactly. The key is one of the tenant's fields, checked against its pattern: safe to write as SQL.
 */
function sortColumnOf(table: string, field: CustomField): SortColumn {
  const value = `"${table}"."custom_fields" ->> '${field.key}'`;
  return field.type === 'number' || field.type === 'currency'
    ? { column: `customFields.${field.key}`, type: 'number', expression: `coalesce((${value})::numeric, -99999999999999)` }
    : { column: `customFields.${field.key}`, type: 'text', expression: `coalesce(${value}, '')` };
}

/** A query parameter's text as the field's values are stored: a number, `true`, an ISO instant, lower-case email. */
export function filterValue(field: CustomField, text: string): unknown {
  if (field.type === 'select' || field.type === 'multiselect') return text;
  const { value, error } = valueSchema(field).validate(text, { convert: true });
  if (error) return undefined;
  return field.type === 'boolean' ? String(value) : value;
}

/**
 * Resolves a list query's custom field parameters against the resource's fields: each must name a field,
 * ranges apply to numbers and dates, values must be of the field's type. A query naming none costs nothing.
 */
export async function resolveCustomQuery<Q extends { sort: string; custom?: CustomQuery; [key: string]: unknown }>(def: ResourceDefinition, query: Q): Promise<Q> {
  const params = Object.keys(query).filter((key) => FILTER_PARTS.test(key));
  const sortKey = query.sort.replace(/^-/, '');
  if (!params.length && !sortKey.startsWith('customFields.')) return query;
  const fields = new Map((await fieldsOf(def.name)).map((field) => [field.key, field]));
  const problems: ErrorDetail[] = [];
  const filters: CustomFilter[] = [];
  for (const param of params) {
    const [, key, operator = 'eq'] = FILTER_PARTS.exec(param)!;
    const field = fields.get(key!);
    const name = `query.${param}`;
    if (!field) {
      problems.push({ field: name, message: `is not a custom field of ${def.name}` });
      continue;
    }
    if ((operator === 'gte' || operator === 'lte') && !RANGE_TYPES.has(field.type)) {
      problems.push({ field: name, message: 'ranges apply to number, currency, date and datetime fields' });
      continue;
    }
    const texts = operator === 'in' ? String(query[param]).split(',') : [String(query[param])];
    const values = texts.map((text) => filterValue(field, text.trim()));
    if (values.some((value) => value === undefined)) {
      problems.push({ field: name, message: `must be a valid ${field.type}` });
      continue;
    }
    filters.push({ fieldId: field.id, column: COLUMN_OF(field.type), op: OPERATORS[operator as keyof typeof OPERATORS], value: operator === 'in' ? values : values[0] });
  }
  let sort: SortColumn[] | undefined;
  if (sortKey.startsWith('customFields.')) {
    const field = fields.get(sortKey.slice('customFields.'.length));
    if (!field) problems.push({ field: 'query.sort', message: `does not name a custom field of ${def.name}` });
    else if (field.type === 'multiselect') problems.push({ field: 'query.sort', message: 'a multiselect field cannot sort a list' });
    else sort = [sortColumnOf(def.model.tableName, field)];
  }
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'A custom field filter or sort is invalid', problems);
  return { ...query, custom: { filters, sort } };
}
