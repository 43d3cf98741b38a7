import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { Knex } from 'knex';
import { ZipFile } from 'yazl';
import { defuseFormula } from '../../lib/csv-cell';
import { DataExportFormat } from './data-export.model';
import { exportedTables, TenantTable } from './tenant-tables';

/** Rows per query: memory holds one page of one table, whatever the tenant's size. */
const PAGE_ROWS = 500;
/** Bytes per stored chunk of the export's content. */
const CHUNK_BYTES = 1 << 20;

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * One table's rows of the tenant as JSON text (PostgreSQL's row_to_json: timestamps ISO-8601, bytea as
 * hex), in key order, a page at a time by keyset. Plain queries rather than a cursor, so the export can
 * write its chunks on the same transaction while it reads.
 */
async function* tableRows(trx: Knex.Transaction, tenantId: string, table: TenantTable): AsyncGenerator<string> {
  const key = table.key.map(quote).join(', ');
  const keyText = table.key.map((column, index) => `r.${quote(column)}::text as k${index}`).join(', ');
  const outerOrder = table.key.map((column) => `r.${quote(column)}`).join(', ');
  let after: string[] | undefined;
  for (;;) {
    const page = after ? `and (${key}) > (${table.key.map(() => '?').join(', ')})` : '';
    const { rows } = await trx.raw<{ rows: Array<Record<string, string>> }>(
      `select row_to_json(r)::text as json, ${keyText}
         from (select ${table.columns.map(quote).join(', ')} from ${quote(table.name)}
                where tenant_id = ? ${page} order by ${key} limit ?) r
        order by ${outerOrder}`,
      [tenantId, ...(after ?? []), PAGE_ROWS],
    );
    for (const row of rows) yield row.json!;
    if (rows.length < PAGE_ROWS) return;
    const last = rows[rows.length - 1]!;
    after = table.key.map((_, index) => last[`k${index}`]!);
  }
}

async function organizationRow(trx: Knex.Transaction, tenantId: string): Promise<string> {
  const { rows } = await trx.raw<{ rows: Array<{ json: string }> }>('select row_to_json(t)::text as json from tenants t where t.id = ?', [tenantId]);
  if (!rows[0]) throw new Error('The organization to export no longer exists');
  return rows[0].json;
}

/** `{format, version, generatedAt, organization, tables: {<table>: [rows...]}}`, written as it is read. */
async function* jsonDocument(trx: Knex.Transaction, tenantId: string, tables: TenantTable[]): AsyncGenerator<string> {
  yield `{"format":"crm-organization-export","version":1,"generatedAt":${JSON.stringify(new Date().toISOString())},`;
  yield `"organization":${await organizationRow(trx, tenantId)},"tables":{`;
  for (const [index, table] of tables.entries()) {
    yield `${index > 0 ? ',' : ''}${JSON.stringify(table.name)}:[`;
    let separator = '';
    for await (const row of tableRows(trx, tenantId, table)) {
      yield separator + row;
      separator = ',';
    }
    yield ']';
  }
  yield '}}';
}

/** A value as a CSV cell: JSON for structures, formula-like text defused (OWASP CSV injection). */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(defuseFormula(typeof value === 'object' ? JSON.stringify(value) : String(value)));
}

async function* csvOf(columns: string[], rows: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  yield stringify([columns]);
  let batch: string[][] = [];
  for await (const json of rows) {
    const record = JSON.parse(json) as Record<string, unknown>;
    batch.push(columns.map((column) => cell(record[column])));
    if (batch.length === PAGE_ROWS) {
      yield stringify(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield stringify(batch);
}

async function* organizationCsv(trx: Knex.Transaction, tenantId: string): AsyncGenerator<string> {
  const json = await organizationRow(trx, tenantId);
  yield* csvOf(Object.keys(JSON.parse(json) as object), [json]);
}

/** A zip of one CSV per table (and `organization.csv`); each entry is read only when the zip reaches it. */
function csvZip(trx: Knex.Transaction, tenantId: string, tables: TenantTable[]): Readable {
  const zip = new ZipFile();
  const entry = (name: string, source: () => AsyncIterable<string>) =>
    zip.addReadStreamLazy(name, (done) => done(null, Readable.from(source())));
  entry('organization.csv', () => organizationCsv(trx, tenantId));
  for (const table of tables) entry(`${table.name}.csv`, () => csvOf(table.columns, tableRows(trx, tenantId, table)));
  zip.end();
  return zip.outputStream as Readable;
}

/** The export's content, JSON or a zip of CSVs. */
async function exportContent(trx: Knex.Transaction, tenantId: string, format: DataExportFormat): Promise<AsyncIterable<string | Buffer>> {
  const tables = await exportedTables(trx);
  return format === 'json' ? jsonDocument(trx, tenantId, tables) : csvZip(trx, tenantId, tables);
}

/**
 * Writes the tenant's export into data_export_chunks (replacing what an earlier attempt left) and answers
 * its size in bytes. Runs in the caller's transaction, which should see one snapshot of the tenant.
 */
export async function writeExportContent(trx: Knex.Transaction, tenantId: string, exportId: string, format: DataExportFormat): Promise<number> {
  await trx('dataExportChunks').where({ tenantId, exportId }).delete();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let seq = 0;
  let total = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    await trx('dataExportChunks').insert({ tenantId, exportId, seq, content: Buffer.concat(pending) });
    seq += 1;
    pending = [];
    pendingBytes = 0;
  };
  for await (const piece of await exportContent(trx, tenantId, format)) {
    const buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece, 'utf8');
    pending.push(buffer);
    pendingBytes += buffer.length;
    total += buffer.length;
    if (pendingBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  return total;
}
