import { pipeline, Readable, Transform } from 'node:stream';
import { stringify } from 'csv-stringify';
import { knexSnakeCaseMappers } from 'objection';
import { defuseFormula } from '../../lib/csv-cell';
import { tenantScope } from '../../infra/tenant-scope';
import { ExportDetails } from '../events/domain-events';
import { recordEvent } from '../events/event-context';
import { filteredRecords, ListFilters, orderBySql } from './record-list';
import { RecordData, ResourceDefinition } from './resource-definition';

/**
 * Rows per FETCH from the cursor: memory stays at a batch whatever the total. Small enough that rows are
 * written out while still in V8's young generation: at 1,000 they were promoted and peak memory doubled.
 */
const CURSOR_BATCH = 250;
const HIDDEN = new Set(['tenantId', 'search']);

const { postProcessResponse } = knexSnakeCaseMappers();

/** A value as a CSV cell, formula-like text defused. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(defuseFormula(value));
}

interface ExportColumn {
  name: string;
  /** Timestamps and JSON come as text made by PostgreSQL: no Date or object per cell to make and format. */
  sql: string;
}

const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/**
 * The columns of an export: the id, the writable fields (the header names an import takes), then what the
 * server keeps (owners of the row, timestamps, derived columns), as the table has them now.
 */
async function exportColumns(def: ResourceDefinition, includeDeleted: boolean): Promise<ExportColumn[]> {
  const table = def.model.tableName;
  const { rows } = await tenantScope().trx.raw<{ rows: Array<{ column_name: string; data_type: string }> }>(
    'select column_name, data_type from information_schema.columns where table_schema = current_schema() and table_name = ? order by ordinal_position',
    [table],
  );
  const columns = rows
    .map(({ column_name: column, data_type: type }) => {
      const name = Object.keys(postProcessResponse({ [column]: true }) as RecordData)[0]!;
      const qualified = `"${table}"."${column}"`;
      const sql = type === 'timestamp with time zone' ? `to_char(${qualified} at time zone 'UTC', ${ISO_MS})` : type === 'jsonb' ? `${qualified}::text` : qualified;
      return { name, sql };
    })
    .filter(({ name }) => !HIDDEN.has(name) && (includeDeleted || name !== 'deletedAt'));
  const fields = Object.keys(def.fields).flatMap((field) => columns.filter((column) => column.name === field));
  return [columns.find((column) => column.name === 'id')!, ...fields, ...columns.filter((column) => column.name !== 'id' && !fields.includes(column))];
}

/**
 * The list's rows (same filters, q and sort, no paging) as a CSV stream read through a server-side cursor
 * in the request's transaction: memory stays at one batch whatever the row count. The caller must keep
 * the transaction open until the stream ends (the router sends a stream before the transaction commits).
 */
export async function exportRecords(def: ResourceDefinition, query: ListFilters): Promise<Readable> {
  const columns = await exportColumns(def, query.includeDeleted);
  const names = columns.map((column) => column.name);
  const cursor = filteredRecords(def, query)
    .select(columns.map((column) => def.model.raw(column.sql)))
    .orderByRaw(orderBySql(def, query.sort))
    .toKnexQuery()
    // Rows as arrays in column order: no object (and no key renaming) per row.
    .stream({ batchSize: CURSOR_BATCH, highWaterMark: CURSOR_BATCH, rowMode: 'array' });

  const { sort, q, includeDeleted, ...filters } = query;
  const audited: ExportDetails = { format: 'csv', sort, q: q ?? null, includeDeleted, filters, rows: 0 };
  // Recorded now, published when the transaction ends, which is after the last row: the count is final by then.
  recordEvent({ type: 'records.exported', resource: def.singular, details: audited });

  const present = def.present;
  const toCells = new Transform({
    objectMode: true,
    transform(row: unknown[], _encoding, callback) {
      audited.rows += 1;
      const values = present ? presented(present, names, row) : row;
      callback(null, values.map(csvCell));
    },
  });
  const csv = stringify({ record_delimiter: 'windows' });
  csv.write(names);
  // A failure anywhere destroys the whole chain, and so reaches whoever reads the CSV; a reader that
  // leaves (destroying the CSV) closes the cursor. The reader learns either way: nothing to do here.
  return pipeline(cursor, toCells, csv, () => undefined);
}

/** A row as the API shows it (a ticket's TCK- number), back in column order. */
function presented(present: (record: RecordData) => RecordData, names: string[], row: unknown[]): unknown[] {
  const record = present(Object.fromEntries(names.map((name, index) => [name, row[index]])));
  return names.map((name) => record[name]);
}
