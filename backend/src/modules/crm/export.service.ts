import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { knexSnakeCaseMappers } from 'objection';
import { defuseFormula } from '../../lib/csv-cell';
import { DownloadBody, InTenant } from '../../http/route';
import { tenantScope } from '../../infra/tenant-scope';
import { fieldsOf } from '../custom-fields/custom-fields.service';
import { ExportDetails } from '../events/domain-events';
import { recordEvent } from '../events/event-context';
import { afterCursorSql, cursorValuesSql, orderSql } from '../../lib/pagination';
import { filteredRecords, ListFilters, listKeyset } from './record-list';
import { isDuplicateKey } from './record-model';
import { RecordData, ResourceDefinition } from './resource-definition';

/**
 * Rows per page. Each page is one short transaction (four round trips), so pages must be large enough that
 * those stay a small part of the time, and small enough that a page in memory stays a few MB.
 */
const PAGE_ROWS = 2000;
const HIDDEN = new Set(['tenantId', 'search', 'customSearch']);
const CSV = { record_delimiter: 'windows' } as const;

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
 * The columns of an export: the id, the writable fields and a column per custom field (the header names an
 * import takes), then what the
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
    .filter(({ name }) => !HIDDEN.has(name) && !isDuplicateKey(name) && (includeDeleted || name !== 'deletedAt'));
  const fields = Object.keys(def.fields).flatMap((field) => (field === 'customFields' ? [] : columns.filter((column) => column.name === field)));
  const rest = columns.filter((column) => column.name !== 'id' && column.name !== 'customFields' && !fields.includes(column));
  return [columns.find((column) => column.name === 'id')!, ...fields, ...(await customFieldColumns(def)), ...rest];
}

/** A column per custom field (`customFields.budget`), as an import takes it back; a multiselect's options comma-separated. */
async function customFieldColumns(def: ResourceDefinition): Promise<ExportColumn[]> {
  const value = (key: string) => `"${def.model.tableName}"."custom_fields" -> '${key}'`;
  return (await fieldsOf(def.name)).map((field) => ({
    name: `customFields.${field.key}`,
    sql: field.type === 'multiselect' ? `(select string_agg(o.value, ',') from jsonb_array_elements_text(${value(field.key)}) as o(value))` : `${value(field.key)} #>> '{}'`,
  }));
}

/**
 * The list's rows (same filters, q and sort, no paging) as a CSV download read in pages: each page is a
 * keyset query (the list's own cursor condition) in a short transaction of its own, so memory stays at a
 * page and no connection is held while the client reads. Rows are read as their pages are reached: a row
 * changed meanwhile comes as it is then.
 */
export async function exportRecords(def: ResourceDefinition, query: ListFilters): Promise<DownloadBody> {
  const columns = await exportColumns(def, query.includeDeleted);
  const names = columns.map((column) => column.name);

  const { sort, q, includeDeleted, custom: _custom, ...filters } = query;
  const audited: ExportDetails = { format: 'csv', sort, q: q ?? null, includeDeleted, filters, rows: 0 };
  // Recorded now, published once the last row is sent (a download's events wait for it): the count is final by then.
  recordEvent({ type: 'records.exported', resource: def.singular, details: audited });

  // Each row ends with its key values as cursor text: the next page starts after the last row's.
  const keyset = listKeyset(def, query);
  const page = (after: string[] | undefined): Promise<unknown[][]> => {
    const builder = filteredRecords(def, query);
    if (after) builder.whereRaw(afterCursorSql(keyset), after);
    return builder
      .select([...columns.map((column) => column.sql), ...cursorValuesSql(keyset)].map((sql) => def.model.raw(sql)))
      .orderByRaw(orderSql(keyset))
      .limit(PAGE_ROWS)
      .toKnexQuery()
      // Rows as arrays in column order: no object (and no key renaming) per row.
      .options({ rowMode: 'array' }) as unknown as Promise<unknown[][]>;
  };

  const present = def.present;
  const cells = (row: unknown[]): string[] => {
    const values = row.slice(0, names.length);
    return (present ? presented(present, names, values) : values).map(csvCell);
  };
  async function* csvPages(inTenant: InTenant): AsyncGenerator<string> {
    yield stringify([names], CSV);
    let after: string[] | undefined;
    for (;;) {
      const rows = await inTenant(() => page(after));
      audited.rows += rows.length;
      if (rows.length > 0) yield stringify(rows.map(cells), CSV);
      if (rows.length < PAGE_ROWS) return;
      after = rows.at(-1)!.slice(names.length) as string[];
    }
  }
  return (inTenant) => Readable.from(csvPages(inTenant), { highWaterMark: 1 });
}

/** A row as the API shows it (a ticket's TCK- number), back in column order. */
function presented(present: (record: RecordData) => RecordData, names: string[], row: unknown[]): unknown[] {
  const record = present(Object.fromEntries(names.map((name, index) => [name, row[index]])));
  return names.map((name) => record[name]);
}
