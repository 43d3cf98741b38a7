/** A JSON schema as joi-to-swagger writes it (OpenAPI 3.0 dialect). */
export type JsonSchema = Record<string, unknown>;

const EXAMPLE_UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const BY_FORMAT: Record<string, unknown> = {
  uuid: EXAMPLE_UUID,
  'date-time': '2024-01-31T09:30:00.000Z',
  date: '2024-01-31',
  email: 'ada@example.com',
  uri: 'https://example.com',
};

/**
 * An example value derived from a schema: its own `example` or `default` first (joi's `.example()` and
 * `.default()`), then its first allowed value, its format or its type. Objects show their required
 * properties, or their first few when none is required, so that an example stays short and valid.
 */
export function openApiExample(schema: JsonSchema, refs: Record<string, JsonSchema> = {}, depth = 0): unknown {
  if (typeof schema.$ref === 'string') return refs[schema.$ref] ? openApiExample(refs[schema.$ref]!, refs, depth) : undefined;
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const variants = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (variants?.length) return openApiExample(variants[0]!, refs, depth);
  if (typeof schema.format === 'string' && schema.format in BY_FORMAT) return BY_FORMAT[schema.format];
  switch (schema.type) {
    case 'string':
      return schema.pattern ? undefined : 'string'.padEnd(Number(schema.minLength ?? 0), 'x');
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'array': {
      if (depth > 4) return [];
      const item = schema.items ? openApiExample(schema.items as JsonSchema, refs, depth + 1) : undefined;
      return item === undefined ? [] : [item];
    }
    case 'object':
      return depth > 4 ? {} : objectExample(schema, refs, depth);
    default:
      return undefined;
  }
}

function objectExample(schema: JsonSchema, refs: Record<string, JsonSchema>, depth: number): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required as string[] | undefined) ?? [];
  const names = required.length ? required : Object.keys(properties).filter((name) => properties[name]!.type !== 'object').slice(0, 3);
  const example: Record<string, unknown> = {};
  for (const name of names) {
    const value = properties[name] ? openApiExample(properties[name], refs, depth + 1) : undefined;
    if (value !== undefined) example[name] = value;
  }
  return example;
}
