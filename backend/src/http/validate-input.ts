import Joi from 'joi';
import { AppError, ErrorDetail } from '../lib/errors';
import { RouteDefinition } from './route';
import { SpooledUpload } from './spooled-upload';

const EMPTY = Joi.object({});
const OPTIONS: Joi.ValidationOptions = { abortEarly: false, convert: true, allowUnknown: false, stripUnknown: false };

/**
 * Validates params, query and body against the route's schemas. Anything undeclared is refused,
 * so unknown query parameters and body fields are a 400, never silently ignored or stored.
 */
export function validateInput(
  route: RouteDefinition,
  raw: { params: unknown; query: unknown; body: unknown },
): { params: Record<string, string>; query: Record<string, unknown>; body: unknown } {
  const details: ErrorDetail[] = [];
  const check = (schema: Joi.Schema, value: unknown, prefix: string): unknown => {
    const { value: converted, error } = schema.validate(value, OPTIONS);
    if (error) {
      for (const item of error.details) {
        // Only the body's empty prefix is dropped: an array index 0 is part of the field's path.
        details.push({ field: [prefix, ...item.path].filter((part) => part !== '').join('.'), message: item.message });
      }
    }
    return converted;
  };
  const params = check(route.schema?.params ?? Joi.object().unknown(true), raw.params ?? {}, 'params');
  const query = check(route.schema?.query ?? EMPTY, raw.query ?? {}, 'query');
  const checkBody = (): unknown =>
    route.schema?.body === undefined
      ? check(EMPTY, isEmptyBody(raw.body) ? {} : raw.body, '')
      : // No body at all is an empty object to an object schema, so its required keys are reported (400), never skipped.
        check(route.schema.body, raw.body === undefined && route.schema.body.type === 'object' ? {} : raw.body, '');
  // A spooled CSV body is rows its handler reads as a stream and checks row by row.
  const body = raw.body instanceof SpooledUpload ? raw.body : checkBody();
  if (details.length) throw new AppError('VALIDATION_ERROR', 'The request is invalid', details);
  return {
    params: params as Record<string, string>,
    query: query as Record<string, unknown>,
    body: route.schema?.body === undefined ? undefined : body,
  };
}

const isEmptyBody = (body: unknown): boolean =>
  body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0);
