import { pipeline, Readable, Transform } from 'node:stream';
import { stringify } from 'csv-stringify';
import { knexSnakeCaseMappers } from 'objection';
import { tenantScope } from '../../infra/tenant-scope';
import { recordAudit } from '../audit/audit-context';
import { filteredRecords, ListFilters, orderBySql } from './record-list';
import { RecordData, ResourceDefinition } from './resource-definition';

/** Rows per FETCH from the cursor: few round trips, and memory bounded by one batch whatever the total. */
const CURSOR_BATCH = 1000;
/** A spreadsheet runs a cell that starts like a formula (OWASP: CSV injection); a leading ' makes it text. */
const FORMULA_START = /^[=+\-@\t\r]/;
const HIDDEN = new Set(['tenantId', 'search']);

const { postProcessResponse } = knexSnakeCaseMappers();

/** A value as a CSV cell: ISO timestamps, JSON for objects, formula-like text defused. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  const text = String(value);
  return typeof value === 'string' && FORMULA_START.test(text) ? `'${text}` : text;
}

/**
 * The columns of an export: the id, the writable fields (the header names an import takes), then what the
 * server keeps (owners of the row, timestamps, derived columns), as the table has them now.
 */
async function exportColumns(def: ResourceDefinition, includeDeleted: boolean): Promise<string[]> {
  const { rows } = await tenantScope().trx.raw<{ rows: Array<{ column_name: string }> }>(
    'select column_name from information_schema.columns where table_schema = current_schema() and table_name = ? order by ordinal_position',
    [def.model.tableName],
  );
  const columns = Object.keys(postProcessResponse(Object.fromEntries(rows.map((row) => [row.column_name, true]))) as RecordData).filter(
    (column) => !HIDDEN.has(column) && (includeDeleted || column !== 'deletedAt'),
  );
  const fields = Object.keys(def.fields).filter((field) => columns.includes(field));
  return ['id', ...fields, ...columns.filter((column) => column !== 'id' && !fields.includes(column))];
}

/**
 * The list's rows (same filters, q and sort, no paging) as a CSV stream read through a server-side cursor
 * in the request's transaction: memory stays at one batch whatever the row count. The caller must keep
 * the transaction open until the stream ends (the router sends a stream before the transaction commits).
 */
export async function exportRecords(def: ResourceDefinition, query: ListFilters): Promise<Readable> {
  const table = def.model.tableName;
  const columns = await exportColumns(def, query.includeDeleted);
  const cursor = filteredRecords(def, query)
    .select(columns.map((column) => `${table}.${column}`))
    .orderByRaw(orderBySql(def, query.sort))
    .toKnexQuery()
    .stream({ batchSize: CURSOR_BATCH, highWaterMark: CURSOR_BATCH });

  const { sort, q, includeDeleted, ...filters } = query;
  const audited = { format: 'csv', sort, q: q ?? null, includeDeleted, filters, rows: 0 };
  // Queued now, written when the transaction commits, which is after the last row: the count is final by then.
  recordAudit({ action: `${def.singular}.export`, resourceType: def.singular, after: audited });

  const present = def.present;
  const toCells = new Transform({
    objectMode: true,
    transform(row: RecordData, _encoding, callback) {
      audited.rows += 1;
      const record = present ? present(row) : row;
      callback(null, columns.map((column) => csvCell(record[column])));
    },
  });
  const csv = stringify({ record_delimiter: 'windows' });
  csv.write(columns);
  // A failure anywhere destroys the whole chain, and so reaches whoever reads the CSV; a reader that
  // leaves (destroying the CSV) closes the cursor. The reader learns either way: nothing to do here.
  return pipeline(cursor, toCells, csv, () => undefined);
}
