import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { knexSnakeCaseMappers } from 'objection';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { insertSelectReturning } from '../../infra/db';
import { tenantScope } from '../../infra/tenant-scope';
import { RecordData, ResourceDefinition } from './resource-definition';

/** A planned write of an import: a new record (its id, its values) or a patch of an existing one. */
export interface StagedWrite {
  row: number;
  recordId: string;
  action: 'create' | 'update';
  /** Field values, camelCase, as the resource's hooks left them. */
  values: RecordData;
}

const { wrapIdentifier, postProcessResponse } = knexSnakeCaseMappers();
/** The column of a field, as knex's snake_case mapper names it, for SQL written by hand. */
const columnOf = (field: string): string => wrapIdentifier(field, (name: string) => name);
const quoted = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;
/** Columns the import sets itself, whatever the values say. */
const SET_BY_IMPORT = new Set(['tenant_id', 'id', 'created_by', 'updated_by']);

/** SET (columns) = the row's current values overlaid with a jsonb object of snake_case columns: unlisted ones keep theirs. */
export function overlaySql(def: ResourceDefinition, patch: string): string {
  const columns = Object.keys(def.fields).map((field) => quoted(columnOf(field)));
  return `(${columns.join(', ')}) = (select ${columns.map((column) => `r.${column}`).join(', ')} from jsonb_populate_record(t, ${patch}) r)`;
}

/**
 * The staging table of one import: a temporary table of the transaction (so it needs no row-level
 * security: no other session can see it), filled by COPY a chunk at a time, from which one INSERT and
 * one UPDATE per chunk write the records and what undo needs. COPY cannot write a table under row-level
 * security, and it costs a fraction of binding the same values to statements. On a Citus coordinator the
 * staging table stays on the coordinator and each INSERT ... SELECT from it carries a RETURNING clause
 * (insertSelectReturning), so that Citus writes the shard by INSERT, not by COPY.
 */
export class ImportStaging {
  private constructor(
    private readonly def: ResourceDefinition,
    private readonly connection: pg.PoolClient,
    /** Per column of the table: its value from a staged row, or its default when the row leaves it out. */
    private readonly insertColumns: Array<{ column: string; value: string }>,
  ) {}

  static async open(def: ResourceDefinition): Promise<ImportStaging> {
    const { trx } = tenantScope();
    await trx.raw('create temporary table import_staging (row integer not null, record_id uuid not null, action text not null, data jsonb not null) on commit drop');
    const { rows } = await trx.raw<{ rows: Array<{ column_name: string; column_default: string | null }> }>(
      `select column_name, column_default from information_schema.columns
        where table_schema = current_schema() and table_name = ? and is_generated = 'NEVER' order by ordinal_position`,
      [def.model.tableName],
    );
    // An INSERT naming a column gives it the value; one leaving it out gives it its default. Rows of one
    // import name different columns (an empty CSV cell leaves its field out), so each cell says which.
    const insertColumns = rows
      .filter((row) => !SET_BY_IMPORT.has(row.column_name))
      .map(({ column_name: column, column_default: fallback }) => ({
        column: quoted(column),
        value: `case when s.data \\? '${column}' then r.${quoted(column)} else ${fallback ?? 'null'} end`,
      }));
    // The transaction's own connection: COPY streams on it directly (knex has no COPY).
    const connection = (await trx.client.acquireConnection()) as pg.PoolClient;
    return new ImportStaging(def, connection, insertColumns);
  }

  /** Replaces the staged rows with these, by COPY. */
  async stage(writes: StagedWrite[]): Promise<void> {
    await tenantScope().trx.raw('truncate import_staging');
    let text = '';
    for (const write of writes) {
      const data = JSON.stringify(Object.fromEntries(Object.entries(write.values).map(([field, value]) => [columnOf(field), value])));
      // COPY's text format: JSON has no raw tabs or line breaks, so only its backslashes need escaping.
      text += `${write.row}\t${write.recordId}\t${write.action}\t${data.replace(/\\/g, '\\\\')}\n`;
    }
    await pipeline(Readable.from([text]), this.connection.query(copyFrom('copy import_staging (row, record_id, action, data) from stdin')));
  }

  /** Inserts the staged new records and notes them for undo; answers them as stored when asked. */
  async insertCreated(importId: string, actor: string | null, returning: boolean): Promise<RecordData[]> {
    const { trx, tenantId, knex } = tenantScope();
    const table = quoted(this.def.model.tableName);
    const result = await trx.raw(
      `insert into ${table} (tenant_id, id, created_by, updated_by, ${this.insertColumns.map((column) => column.column).join(', ')})
       select ?, s.record_id, ?, ?, ${this.insertColumns.map((column) => column.value).join(', ')}
         from import_staging s cross join lateral jsonb_populate_record(null::${table}, s.data) r
        where s.action = 'create' ${insertSelectReturning(knex, returning ? '*' : undefined)}`,
      [tenantId, actor, actor],
    );
    await trx.raw(
      `insert into import_items (tenant_id, import_id, record_id, action)
       select ?, ?, record_id, 'created' from import_staging where action = 'create' ${insertSelectReturning(knex)}`,
      [tenantId, importId],
    );
    // Raw SQL answers snake_case rows; hooks read fields.
    return returning ? (postProcessResponse(result.rows) as RecordData[]) : [];
  }

  /** Keeps each patched record's previous values (as the row stands) for undo, then patches them all. */
  async updatePatched(importId: string, actor: string | null, returning: boolean): Promise<RecordData[]> {
    const { trx, tenantId, knex } = tenantScope();
    const table = quoted(this.def.model.tableName);
    await trx.raw(
      `insert into import_items (tenant_id, import_id, record_id, action, previous)
       select t.tenant_id, ?, t.id, 'updated', to_jsonb(t) - 'search' - 'tenant_id'
         from ${table} t join import_staging s on s.action = 'update' and t.id = s.record_id
        where t.tenant_id = ? ${insertSelectReturning(knex)}`,
      [importId, tenantId],
    );
    const updated = await trx.raw(
      `update ${table} t set ${overlaySql(this.def, 's.data')}, updated_by = ?
         from import_staging s
        where s.action = 'update' and t.tenant_id = ? and t.id = s.record_id ${returning ? 'returning t.*' : ''}`,
      [actor, tenantId],
    );
    return returning ? (postProcessResponse(updated.rows) as RecordData[]) : [];
  }
}
