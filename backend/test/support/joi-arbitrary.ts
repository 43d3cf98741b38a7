import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import Joi from 'joi';

/** The part of joi's `describe()` output the generators read. */
interface Description {
  type: string;
  flags?: { presence?: string; only?: boolean; default?: unknown };
  rules?: Array<{ name: string; args?: Record<string, unknown> }>;
  keys?: Record<string, Description>;
  items?: Description[];
  allow?: unknown[];
  /** The schemas of an alternatives (`Joi.alternatives(a, b)`). */
  matches?: Array<{ schema?: Description }>;
}

export interface InputSources {
  /** Ids a guid field may take (someone else's ids, the caller's own ids); a fresh UUID is always possible too. */
  ids: readonly string[];
  /** Words text fields may take besides random text (distinctive values, search terms). */
  words: readonly string[];
  /** Cursors list queries may take besides random ones (cursors other callers were given). */
  cursors: readonly string[];
}

/**
 * What a hostile client sends where a value is expected: wrong types, huge and odd strings, deep nesting,
 * operator and prototype keys, numbers past every range.
 */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    0,
    -1,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    ' ',
    '\u0000',
    'null',
    'undefined',
    'NaN',
    '-0',
    '1e999',
    '9'.repeat(400),
    "' or 1=1 --",
    '"; drop table leads; --',
    '%00',
    '\\',
    '..%2f..%2fetc%2fpasswd',
    '<script>alert(1)</script>',
    '\ud800',
    '💥'.repeat(300),
    '2026-02-30T25:61:61Z',
    '0000-00-00',
    'x'.repeat(70_000),
    { $gt: '' },
    JSON.parse('{"__proto__":{"polluted":true}}'),
    { constructor: { prototype: { polluted: true } } },
    { 'a.b': 1 },
    [],
    JSON.parse(`${'['.repeat(30)}1${']'.repeat(30)}`),
    {},
  ),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 3 }),
);

const ruleArg = (description: Description, name: string, arg = 'limit'): number | undefined => {
  const rule = description.rules?.find((candidate) => candidate.name === name);
  const value = rule?.args?.[arg];
  return typeof value === 'number' ? value : undefined;
};
const hasRule = (description: Description, name: string) => description.rules?.some((rule) => rule.name === name) ?? false;

/** Plain text a form would hold (no markup, which the sanitize link refuses anyway). */
const plainText = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -.'.split('')), minLength, maxLength });

function stringArbitrary(description: Description, sources: InputSources, hostile: boolean): fc.Arbitrary<unknown> {
  const max = ruleArg(description, 'max') ?? ruleArg(description, 'length') ?? 60;
  const min = ruleArg(description, 'min') ?? ruleArg(description, 'length') ?? 0;
  const fit = (value: string) => value.slice(0, max).padEnd(min, 'x');
  if (hasRule(description, 'guid')) return fc.oneof(fc.constantFrom(...sources.ids, randomUUID()), fc.uuid());
  if (hasRule(description, 'email')) {
    const fromWords = fc.constantFrom(...sources.words).map((word) => `${word.toLowerCase().replace(/[^a-z0-9]/g, '') || 'someone'}@example.com`);
    const unique = fc.uuid().map((id) => `u-${id.slice(0, 8)}@example.com`);
    return hostile ? fc.oneof(fromWords, unique, fc.emailAddress().filter((email) => email.length <= max)) : fc.oneof(fromWords, unique);
  }
  if (hasRule(description, 'isoDate')) return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString());
  if (hasRule(description, 'uri')) return fc.webUrl().filter((url) => url.length <= max);
  if (hasRule(description, 'domain')) return fc.domain().filter((domain) => domain.length <= max);
  const pattern = description.rules?.find((rule) => rule.name === 'pattern' && !(rule.args?.options as { name?: string } | undefined)?.name);
  if (pattern) {
    const source = String(pattern.args?.regex ?? '').replace(/^\/(.*)\/[a-z]*$/, '$1');
    return fc.stringMatching(new RegExp(source)).map(fit);
  }
  if (description.rules?.some((rule) => rule.name === 'pattern')) {
    // A password-like field: one of each class the named patterns ask for.
    return fc.string({ minLength: 1, maxLength: 12 }).map((text) => fit(`Aa1-${text.replace(/[^\x20-\x7e]/g, '')}-Passw0rd`));
  }
  return fc.oneof(
    fc.constantFrom(...sources.words).map(fit),
    (hostile ? fc.string({ minLength: min, maxLength: Math.min(max, 40) }) : plainText(min, Math.min(max, 40))).map(fit),
  );
}

/** Cursors others were given, and opaque strings of the cursor alphabet. */
const cursorArbitrary = (sources: InputSources): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...sources.cursors) }, { weight: 1, arbitrary: fc.base64String({ maxLength: 80 }).map((text) => text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')) });

function numberArbitrary(description: Description): fc.Arbitrary<unknown> {
  const min = ruleArg(description, 'min') ?? ruleArg(description, 'greater') ?? -1_000_000;
  const max = ruleArg(description, 'max') ?? ruleArg(description, 'less') ?? 1_000_000;
  if (hasRule(description, 'integer')) return fc.integer({ min: Math.ceil(min), max: Math.floor(Math.min(max, Number.MAX_SAFE_INTEGER)) });
  const digits = ruleArg(description, 'precision') ?? 4;
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((value) => Math.min(max, Math.max(min, Number(value.toFixed(digits)))));
}

/**
 * A fast-check arbitrary for values a joi schema describes: the shapes a client that read the schema
 * would send (types, enumerations, ranges, required keys), with ids, words and cursors drawn from
 * `sources` so that generated requests name real records. With `hostile`, any value may instead be
 * one of `hostileValue` and objects may carry keys the schema does not know.
 */
export function arbitraryFromDescription(description: Description, sources: InputSources, hostile = false): fc.Arbitrary<unknown> {
  const base = baseArbitrary(description, sources, hostile);
  const allowed = (description.allow ?? []).filter((value) => typeof value !== 'object' || value === null);
  const withAllowed = description.flags?.only || allowed.length === 0 ? base : fc.oneof({ arbitrary: base, weight: 4 }, { arbitrary: fc.constantFrom(...allowed), weight: 1 });
  return hostile ? fc.oneof({ arbitrary: withAllowed, weight: 3 }, { arbitrary: hostileValue, weight: 1 }) : withAllowed;
}

function baseArbitrary(description: Description, sources: InputSources, hostile: boolean): fc.Arbitrary<unknown> {
  if (description.flags?.only && description.allow?.length) return fc.constantFrom(...description.allow);
  switch (description.type) {
    case 'string':
      return stringArbitrary(description, sources, hostile);
    case 'number':
      return numberArbitrary(description);
    case 'boolean':
      return fc.boolean();
    case 'date':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((date) => date.toISOString());
    case 'array': {
      const item = description.items?.[0];
      const itemArbitrary = item ? arbitraryFromDescription(item, sources, hostile) : fc.constant({});
      const minLength = ruleArg(description, 'min') ?? 0;
      const maxLength = Math.max(minLength, Math.min(ruleArg(description, 'max') ?? 3, 3));
      return hasRule(description, 'unique')
        ? fc.uniqueArray(itemArbitrary, { minLength, maxLength, selector: (value) => JSON.stringify(value) })
        : fc.array(itemArbitrary, { minLength, maxLength });
    }
    case 'object':
      return objectArbitrary(description, sources, hostile);
    case 'alternatives': {
      const choices = (description.matches ?? []).flatMap((match) => (match.schema ? [arbitraryFromDescription(match.schema, sources, hostile)] : []));
      if (choices.length) return fc.oneof(...choices);
      return fc.oneof(fc.constantFrom(...sources.ids), fc.string({ maxLength: 20 }), fc.integer());
    }
    default:
      return fc.oneof(fc.constantFrom(...sources.ids), fc.string({ maxLength: 20 }), fc.integer());
  }
}

function objectArbitrary(description: Description, sources: InputSources, hostile: boolean): fc.Arbitrary<unknown> {
  const keys = description.keys;
  if (!keys) return fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 });
  const model = Object.fromEntries(
    Object.entries(keys).map(([key, inner]) => [key, key === 'cursor' ? cursorArbitrary(sources) : arbitraryFromDescription(inner, sources, hostile)]),
  );
  const requiredKeys = Object.entries(keys)
    .filter(([, inner]) => inner.flags?.presence === 'required')
    .map(([key]) => key);
  const record = fc.record(model, { requiredKeys });
  if (!hostile) return record;
  const extras = fc.dictionary(fc.constantFrom('tenantId', 'id', 'createdBy', 'deletedAt', '__proto__', '$where', 'a.b', 'isAdmin', 'role'), hostileValue, { maxKeys: 2 });
  return fc.tuple(record, fc.boolean(), extras).map(([value, addExtras, extra]) => (addExtras ? { ...(value as object), ...extra } : value));
}

/** The arbitrary of a route's joi schema (object, array or other). */
export const arbitraryFromSchema = (schema: Joi.Schema, sources: InputSources, hostile = false): fc.Arbitrary<unknown> =>
  arbitraryFromDescription(schema.describe() as Description, sources, hostile);
