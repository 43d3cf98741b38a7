import { CsvError, parse } from 'csv-parse';
import Joi from 'joi';
import { AppError, ErrorDetail } from '../../lib/errors';
import { SpooledUpload } from '../../http/spooled-upload';
import { forbiddenContent } from '../../middleware/sanitize';
import { RecordData, ResourceDefinition } from './resource-definition';

export type ImportFormat = 'csv' | 'json';

export interface RowError extends ErrorDetail {
  row: number;
}

/**
 * One input row once read: its 1-based position among the data rows (a CSV header is not counted), its
 * validated values, and what is wrong with it. Blank CSV rows (every cell empty) are skipped, not failed.
 */
export interface ImportRow {
  row: number;
  data: RecordData;
  errors: RowError[];
  blank: boolean;
}

const VALIDATION: Joi.ValidationOptions = { abortEarly: false, convert: true };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A CSV column of one custom field (`customFields.budget`), as exports write them; the field is checked with the row. */
const CUSTOM_COLUMN = /^customFields\.([a-z][a-z0-9_]{0,39})$/;

/** Columns must be fields of the resource: a misspelt header is a 400 naming it, never a column silently dropped. */
export function assertKnownColumns(def: ResourceDefinition, rows: unknown[]): void {
  const unknown = new Set<string>();
  for (const row of rows) {
    if (!isObject(row)) continue;
    for (const column of Object.keys(row)) if (!Object.hasOwn(def.fields, column) && !CUSTOM_COLUMN.test(column)) unknown.add(column);
  }
  if (unknown.size === 0) return;
  const names = [...unknown];
  throw new AppError(
    'VALIDATION_ERROR',
    `Unknown columns: ${names.slice(0, 20).join(', ')}`,
    names.slice(0, 100).map((column) => ({ field: column, message: `is not a field of ${def.name}` })),
  );
}

/**
 * Validates one row as a create or update body would be (markup refused, values converted), without
 * requiring the required fields yet: whether a row creates or updates is known only after matching.
 * CSV cells are text: an empty cell leaves the field out (so an update keeps its value), and the cells of
 * object fields (an address, custom attributes) hold JSON.
 */
export function rowReader(def: ResourceDefinition, format: ImportFormat): (input: unknown, row: number) => ImportRow {
  const schema = Joi.object(def.fields);
  const objectFields = new Set(Object.keys(def.fields).filter((field) => def.fields[field]!.type === 'object'));
  return (input, row) => {
    if (!isObject(input)) return { row, data: {}, errors: [{ row, message: 'must be an object of field values' }], blank: false };
    const errors: RowError[] = [];
    const values = format === 'csv' ? fromCells(input as Record<string, string>, objectFields, row, errors) : input;
    if (format === 'csv' && errors.length === 0 && Object.keys(values).length === 0) return { row, data: {}, errors, blank: true };
    for (const problem of forbiddenContent(values)) errors.push({ row, field: problem.field, message: problem.message });
    const { value, error } = schema.validate(values, VALIDATION);
    for (const detail of error?.details ?? []) errors.push({ row, field: detail.path.join('.'), message: detail.message });
    return { row, data: value as RecordData, errors, blank: false };
  };
}

/**
 * The data rows of a spooled CSV as objects keyed by the header's names (values as text), parsed as the
 * file streams by, so the body never exists as objects all at once. The header is checked first: names
 * present, distinct, and each a field of the resource.
 */
export async function* csvRecords(def: ResourceDefinition, upload: SpooledUpload): AsyncGenerator<Record<string, string>> {
  const file = upload.open();
  const parser = parse({ bom: true, skip_empty_lines: true });
  file.on('error', (error) => parser.destroy(error));
  file.pipe(parser);
  let header: string[] | undefined;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header) {
        // fromEntries defines own properties, so a "__proto__" column stays a column (refused as unknown).
        yield Object.fromEntries(header.map((name, index) => [name, record[index] ?? '']));
        continue;
      }
      header = record.map((name) => name.trim());
      assertValidHeader(header);
      assertKnownColumns(def, [Object.fromEntries(header.map((name) => [name, '']))]);
    }
  } catch (error) {
    throw asCsvError(error);
  } finally {
    file.destroy();
    parser.destroy();
  }
}

function assertValidHeader(names: string[]): void {
  const problems = names.flatMap((name, index) =>
    !name
      ? [{ field: `column ${index + 1}`, message: 'has no name in the CSV header' }]
      : names.indexOf(name) !== index
        ? [{ field: name, message: 'appears more than once in the CSV header' }]
        : [],
  );
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'The CSV header is invalid', problems);
}

function asCsvError(error: unknown): unknown {
  // csv-parse names most of its codes CSV_*, but not all (INVALID_OPENING_QUOTE): its class says it.
  if (error instanceof CsvError || ((error as NodeJS.ErrnoException).code ?? '').startsWith('CSV_')) {
    return new AppError('VALIDATION_ERROR', 'The CSV body is malformed', [{ field: 'body', message: (error as Error).message }]);
  }
  return error;
}

function fromCells(cells: Record<string, string>, objectFields: Set<string>, row: number, errors: RowError[]): RecordData {
  const values: RecordData = {};
  for (const [field, cell] of Object.entries(cells)) {
    if (cell === '') continue;
    const custom = CUSTOM_COLUMN.exec(field);
    if (custom) {
      values.customFields = { ...(values.customFields as RecordData | undefined), [custom[1]!]: cell };
      continue;
    }
    if (!objectFields.has(field)) {
      values[field] = cell;
      continue;
    }
    try {
      values[field] = JSON.parse(cell);
    } catch {
      errors.push({ row, field, message: `"${field}" must be a JSON object` });
    }
  }
  return values;
}
