import Joi from 'joi';
import { AppError, ErrorDetail } from '../../lib/errors';
import { dateOnly } from '../crm/field-schemas';
import { CustomField, CustomFieldType } from './custom-field.model';

/** Keys a tenant may give a field: what a query parameter (`customFields.<key>`) and a CSV header can carry. */
export const CUSTOM_FIELD_KEY = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * Numbers stay within ±10^13, rounded to 6 decimals (2 for currencies): a float8 holds them exactly enough
 * to compare, sort and page by (the typed copy the indexes read is a float8).
 */
const NUMBER_LIMIT = 10_000_000_000_000;

/** What a value of each type must be, once converted; `null` removes a value. */
const VALUE_SCHEMAS: Record<CustomFieldType, (options: string[]) => Joi.Schema> = {
  text: () => Joi.string().trim().min(1).max(1000),
  number: () => Joi.number().min(-NUMBER_LIMIT).max(NUMBER_LIMIT).precision(6),
  currency: () => Joi.number().min(-NUMBER_LIMIT).max(NUMBER_LIMIT).precision(2),
  date: () => dateOnly.disallow(null),
  datetime: () => Joi.date().iso().custom((value: Date) => value.toISOString()),
  boolean: () => Joi.boolean(),
  select: (options) => Joi.string().valid(...options),
  multiselect: (options) => Joi.array().items(Joi.string().valid(...options)).unique().min(1).max(Math.max(options.length, 1)),
  email: () => Joi.string().trim().lowercase().email().max(254),
  url: () => Joi.string().trim().uri({ scheme: ['http', 'https'] }).max(500),
  phone: () => Joi.string().trim().min(1).max(40).pattern(/^[0-9+()\-.\s/x]*$/),
};

/** The shape a record's `customFields` may take before the tenant's fields are known (the route's schema). */
export const customFieldsShape = Joi.object()
  .pattern(CUSTOM_FIELD_KEY, Joi.alternatives(Joi.string().max(1000), Joi.number(), Joi.boolean(), Joi.array().items(Joi.string().max(200)).max(200), null))
  .max(500);

/** The schema of one field's value, for validation and for the tenant's OpenAPI document. */
export const valueSchema = (field: Pick<CustomField, 'type' | 'options'>): Joi.Schema => VALUE_SCHEMAS[field.type](field.options);

/**
 * Checks given values against the resource's fields: each key must be a field, each value of its type
 * (converted: dates as YYYY-MM-DD, datetimes as ISO UTC). Answers the converted values (nulls kept: they
 * remove) and the problems, each naming `customFields.<key>`.
 */
export function checkCustomValues(fields: readonly CustomField[], resource: string, given: Record<string, unknown>): { values: Record<string, unknown>; problems: ErrorDetail[] } {
  const byKey = new Map(fields.map((field) => [field.key, field]));
  const values: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [key, value] of Object.entries(given)) {
    const field = byKey.get(key);
    const name = `customFields.${key}`;
    if (!field) {
      problems.push({ field: name, message: `is not a custom field of ${resource}` });
      continue;
    }
    if (value === null) {
      values[key] = null;
      continue;
    }
    const { value: converted, error } = valueSchema(field).validate(value, { convert: true });
    if (error) problems.push({ field: name, message: `must be a valid ${field.type}${field.options.length ? ` (${field.options.join(', ')})` : ''}` });
    else values[key] = converted;
  }
  return { values, problems };
}

/**
 * The record's values after a write: the stored ones, with the given ones laid over them (a null removes
 * one). A create starts from none. Unknown keys and wrong types are a 400 naming each field.
 */
export function mergeCustomValues(fields: readonly CustomField[], resource: string, given: Record<string, unknown>, stored: Record<string, unknown> = {}): Record<string, unknown> {
  const { values, problems } = checkCustomValues(fields, resource, given);
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'A custom field value is invalid', problems);
  const merged: Record<string, unknown> = { ...stored, ...values };
  for (const [key, value] of Object.entries(merged)) if (value === null) delete merged[key];
  return merged;
}
