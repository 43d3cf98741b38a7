import { ErrorDetail } from '../lib/errors';
import { isSecretName } from '../lib/secret-names';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** A tag, comment or doctype opener: `<b`, `</`, `<!`; plain text like "a < b" or "<3" passes. */
const MARKUP = /<[a-zA-Z/!?]/;
const MAX_DEPTH = 20;

/**
 * Stage 11 (pipeline/sanitize-input.ts) refuses what this finds in a request's body and query:
 * operator-style keys (`$where`, `a.b`), prototype keys anywhere, markup in text (so nothing stored can
 * execute in a browser that shows it), and absurd nesting. A bulk import checks its rows with it too.
 */
export function forbiddenContent(value: unknown, path = ''): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  inspect(value, path, 0, problems);
  return problems;
}

/** A list's custom field filter (`customFields.budget[gte]`): the one dotted name a query may use, checked by the list. */
const CUSTOM_FIELD_PARAMETER = /^customFields\.[a-z][a-z0-9_]{0,39}(\[(eq|gte|lte|in)\])?$/;

/** The query string's names and values, as forbiddenContent judges a body, its custom field filters let through. */
export function forbiddenQueryContent(query: Record<string, unknown>): ErrorDetail[] {
  const plain = Object.fromEntries(Object.entries(query).filter(([name]) => !CUSTOM_FIELD_PARAMETER.test(name)));
  const custom = Object.entries(query).filter(([name]) => CUSTOM_FIELD_PARAMETER.test(name));
  return [...forbiddenContent(plain, 'query'), ...custom.flatMap(([name, value]) => forbiddenContent(value, `query.${name}`))];
}

function inspect(value: unknown, path: string, depth: number, problems: ErrorDetail[]): void {
  if (typeof value === 'string') {
    const field = path.split('.').pop() ?? '';
    // Secrets are compared, never displayed, so any character is allowed in them.
    if (!isSecretName(field) && MARKUP.test(value)) problems.push({ field: path, message: 'must not contain HTML or script markup' });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth > MAX_DEPTH) {
    problems.push({ field: path, message: `nests deeper than ${MAX_DEPTH} levels` });
    return;
  }
  const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
  for (const [key, inner] of entries) {
    const childPath = path ? `${path}.${key}` : key;
    if (!Array.isArray(value) && (FORBIDDEN_KEYS.has(key) || key.startsWith('$') || key.includes('.'))) {
      problems.push({ field: childPath, message: 'is not an allowed key' });
      continue;
    }
    inspect(inner, childPath, depth + 1, problems);
  }
}
