import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { actorId, TenantPrincipal } from '../auth/principal';
import { recordAudit } from '../audit/audit-context';
import { assertWithinQuota } from '../plans/plan-gates';
import { CRM_RESOURCE_DEFINITIONS } from './crm-resources';
import { addTo, allowedOwners, checkReferences, checkRelated, findMatches, matchKey } from './import-checks';
import { assertKnownColumns, ImportFormat, ImportRow, readRows, RowError } from './import-rows';
import { RecordData, ResourceDefinition } from './resource-definition';

export const IMPORT_MODES = ['all-or-nothing', 'valid-only'] as const;

export interface ImportOptions {
  mode: (typeof IMPORT_MODES)[number];
  dryRun: boolean;
  upsertBy?: string;
  format: ImportFormat;
}

export interface ImportReport {
  /** null for a dry run, which stores nothing. */
  importId: string | null;
  dryRun: boolean;
  created: number;
  updated: number;
  failed: number;
  errors: RowError[];
}

interface Update {
  row: ImportRow;
  records: RecordData[];
}

interface Plan {
  creates: ImportRow[];
  updates: Update[];
}

/** Rows per INSERT and per check query: one round trip per 1,000 rows, and statements of a few hundred KB. */
const CHUNK_ROWS = 1000;
const REPORTED_ERRORS = 1000;

const { wrapIdentifier, postProcessResponse } = knexSnakeCaseMappers();
/** The column of a field, as knex's snake_case mapper names it, for SQL written by hand. */
const columnOf = (field: string): string => wrapIdentifier(field, (name: string) => name);
const toColumns = (record: RecordData): RecordData => Object.fromEntries(Object.entries(record).map(([field, value]) => [columnOf(field), value]));
const isValid = (row: ImportRow) => row.errors.length === 0;

function* chunks<T>(items: T[]): Generator<T[]> {
  for (let start = 0; start < items.length; start += CHUNK_ROWS) yield items.slice(start, start + CHUNK_ROWS);
}

/**
 * A bulk import in the request's transaction: every row is validated and checked (references in bulk)
 * before anything is written, so all-or-nothing fails with every row's errors and writes nothing, and a
 * dry run answers what the import would do. Rows then go in with multi-row statements, a chunk at a time,
 * and each created id (and each updated row's previous values) is kept in import_items for undo.
 */
export async function importRecords(def: ResourceDefinition, principal: TenantPrincipal, input: unknown[], options: ImportOptions): Promise<ImportReport> {
  if (input.length === 0) throw new AppError('VALIDATION_ERROR', 'The import has no rows', [{ field: 'body', message: 'must hold at least one row' }]);
  assertKnownColumns(def, input);
  const rows = readRows(def, input, options.format).filter((row) => !row.blank);
  const plan = await planImport(def, principal, rows, options.upsertBy);

  const invalid = rows.filter((row) => !isValid(row));
  const errors = invalid.flatMap((row) => row.errors).slice(0, REPORTED_ERRORS);
  if (invalid.length > 0 && options.mode === 'all-or-nothing') {
    throw new AppError('VALIDATION_ERROR', `${invalid.length} of ${rows.length} rows are invalid; nothing was imported`, errors);
  }
  if (plan.creates.length > 0) await assertWithinQuota(principal, 'records', def.model.tableName, plan.creates.length);
  const counts = {
    created: plan.creates.length,
    updated: plan.updates.reduce((sum, update) => sum + update.records.length, 0),
    failed: invalid.length,
  };
  if (options.dryRun) return { importId: null, dryRun: true, ...counts, errors };

  const { trx, tenantId } = tenantScope();
  const actor = actorId(principal);
  const [job] = await trx('imports')
    .insert({
      tenantId,
      resourceType: def.name,
      mode: options.mode,
      status: counts.created + counts.updated === 0 ? 'failed' : 'completed',
      createdCount: counts.created,
      updatedCount: counts.updated,
      failedCount: counts.failed,
      createdBy: actor,
      updatedBy: actor,
    })
    .returning<Array<{ id: string }>>('id');
  const importId = job!.id;
  for (const chunk of chunks(plan.creates)) await insertChunk(def, principal, importId, chunk);
  for (const chunk of chunks(plan.updates)) await updateChunk(def, principal, importId, chunk);
  recordAudit({
    action: `${def.singular}.import`,
    resourceType: 'import',
    resourceId: importId,
    after: { resource: def.name, mode: options.mode, upsertBy: options.upsertBy ?? null, ...counts },
  });
  return { importId, dryRun: false, ...counts, errors };
}

/**
 * Sorts valid rows into creates and updates (a row whose upsert key matches live records updates them
 * all), marking what is wrong with the others; every check costs one query per chunk, not per row.
 */
async function planImport(def: ResourceDefinition, principal: TenantPrincipal, rows: ImportRow[], upsertBy?: string): Promise<Plan> {
  const owners = await allowedOwners(def, principal);
  const firstRowOfKey = new Map<string, number>();
  const plan: Plan = { creates: [], updates: [] };
  for (const chunk of chunks(rows.filter(isValid))) {
    const matches = upsertBy ? await findMatches(def, upsertBy, chunk) : undefined;
    for (const row of chunk) {
      const key = upsertBy ? matchKey(row.data[upsertBy]) : undefined;
      if (upsertBy && key !== undefined) {
        const first = firstRowOfKey.get(key);
        if (first !== undefined) {
          row.errors.push({ row: row.row, field: upsertBy, message: `repeats the ${upsertBy} of row ${first}` });
          continue;
        }
        firstRowOfKey.set(key, row.row);
      }
      const records = key === undefined ? undefined : matches?.get(key);
      if (records) plan.updates.push({ row, records });
      else planCreate(def, principal, row, plan);
      if (owners && def.ownerField) checkOwner(def, owners, row, records);
    }
    const checkable = chunk.filter(isValid);
    await checkReferences(def, checkable);
    await checkRelated(def, checkable);
  }
  return { creates: plan.creates.filter(isValid), updates: plan.updates.filter((update) => isValid(update.row)) };
}

function planCreate(def: ResourceDefinition, principal: TenantPrincipal, row: ImportRow, plan: Plan): void {
  for (const field of def.required) {
    if (row.data[field] === undefined) row.errors.push({ row: row.row, field, message: `"${field}" is required` });
  }
  if (def.ownerField && row.data[def.ownerField] === undefined && principal.kind === 'user') row.data[def.ownerField] = principal.userId;
  plan.creates.push(row);
}

/** A sales user's rows may only give records to, or change records of, themselves and their team. */
function checkOwner(def: ResourceDefinition, owners: Set<string>, row: ImportRow, records?: RecordData[]): void {
  const field = def.ownerField!;
  const given = row.data[field];
  const touched = [...(records ?? []).map((record) => record[field]), ...(given !== undefined || !records ? [given] : [])];
  if (touched.some((owner) => typeof owner !== 'string' || !owners.has(owner))) {
    row.errors.push({ row: row.row, field, message: `Sales users may import only their own and their team's ${def.name}` });
  }
}

async function insertChunk(def: ResourceDefinition, principal: TenantPrincipal, importId: string, rows: ImportRow[]): Promise<void> {
  const { trx, tenantId } = tenantScope();
  const context = { principal };
  const data = rows.map((row) => row.data);
  const prepared = def.batch?.prepare
    ? await def.batch.prepare(data, context)
    : await Promise.all(data.map((values) => (def.prepare ? def.prepare(values, context) : values)));
  const actor = actorId(principal);
  const records = prepared.map((values) => ({ ...values, id: randomUUID(), createdBy: actor, updatedBy: actor }));
  // Hooks see the rows as stored, database defaults included (a deal's stage).
  const hooked = Boolean(def.batch?.afterWrite ?? def.afterWrite);
  const stored: RecordData[] = [];
  for (const group of bySameColumns(records)) stored.push(...(await insertRecords(def, group, hooked)));
  if (def.batch?.afterWrite) await def.batch.afterWrite(stored, context);
  else if (def.afterWrite) for (const record of stored) await def.afterWrite(record, context);
  await trx('importItems').insert(records.map((record) => ({ tenantId, importId, recordId: record.id, action: 'created' })));
}

/** Rows that name the same columns, together: a column a row leaves out must get its default, not null. */
function bySameColumns(records: RecordData[]): RecordData[][] {
  const groups = new Map<string, RecordData[]>();
  for (const record of records) {
    const columns = Object.keys(record).sort().join();
    addTo(groups, columns, record);
  }
  return [...groups.values()];
}

/**
 * One multi-row INSERT ... VALUES for rows that name the same columns, each value cast to its column's type
 * (jsonb sent as JSON). Not INSERT ... SELECT from a jsonb parameter: Citus runs that through the
 * coordinator and COPY, which row-level security refuses on the shards; VALUES of one tenant go to its
 * shard as they are.
 */
async function insertRecords(def: ResourceDefinition, records: RecordData[], returning: boolean): Promise<RecordData[]> {
  const { trx, tenantId } = tenantScope();
  const values = records.map(toColumns);
  const columns = Object.keys(values[0]!);
  const types = await columnTypes(trx, def.model.tableName);
  const row = `(?, ${columns.map((column) => `?::${types.get(column)}`).join(', ')})`;
  const result = await trx.raw(
    `insert into ?? (tenant_id, ${columns.map((column) => `"${column}"`).join(', ')}) values ${values.map(() => row).join(', ')} ${returning ? 'returning *' : ''}`,
    [def.model.tableName, ...values.flatMap((value) => [tenantId, ...columns.map((column) => cell(types.get(column), value[column]))])],
  );
  // Raw SQL answers snake_case rows; hooks read fields.
  return returning ? (postProcessResponse(result.rows) as RecordData[]) : records;
}

/** Each column's SQL type, as the catalogue spells it (so a cast names exactly the column's type). */
async function columnTypes(trx: Knex, table: string): Promise<Map<string, string>> {
  const { rows } = await trx.raw<{ rows: Array<{ name: string; type: string }> }>(
    `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
      where attrelid = to_regclass(?) and attnum > 0 and not attisdropped`,
    [table],
  );
  return new Map(rows.map((column) => [column.name, column.type]));
}

function cell(type: string | undefined, value: unknown): Knex.Value {
  if (value === undefined || value === null) return null;
  return type === 'jsonb' || type === 'json' ? JSON.stringify(value) : (value as Knex.Value);
}

/** SET (columns) = the row's current values overlaid with a jsonb object of snake_case columns: unlisted ones keep theirs. */
function overlaySql(def: ResourceDefinition, patch: string): string {
  const columns = Object.keys(def.fields).map((field) => `"${columnOf(field)}"`);
  return `(${columns.join(', ')}) = (select ${columns.map((column) => `r.${column}`).join(', ')} from jsonb_populate_record(t, ${patch}) r)`;
}

/** The previous values of each row are kept (in SQL, as the row stands) before one UPDATE patches the chunk. */
async function updateChunk(def: ResourceDefinition, principal: TenantPrincipal, importId: string, updates: Update[]): Promise<void> {
  const { trx, tenantId } = tenantScope();
  const patches: Array<{ id: string; patch: RecordData }> = [];
  for (const { row, records } of updates) {
    for (const existing of records) {
      const values = def.prepare ? await def.prepare({ ...row.data }, { principal, existing }) : row.data;
      patches.push({ id: existing.id as string, patch: toColumns(values) });
    }
  }
  // An array, not a set-returning function: Citus pushes this INSERT ... SELECT down to the tenant's shard.
  await trx.raw(
    `insert into import_items (tenant_id, import_id, record_id, action, previous)
     select t.tenant_id, ?, t.id, 'updated', to_jsonb(t) - 'search' - 'tenant_id'
     from ?? t where t.tenant_id = ? and t.id = any(?::uuid[])`,
    [importId, def.model.tableName, tenantId, patches.map((patch) => patch.id)],
  );
  const updated = await trx.raw(
    `update ?? t set ${overlaySql(def, 'p.patch')}, updated_by = ?
     from jsonb_to_recordset(?::jsonb) as p(id uuid, patch jsonb)
     where t.tenant_id = ? and t.id = p.id ${def.afterWrite ? 'returning t.*' : ''}`,
    [def.model.tableName, actorId(principal), JSON.stringify(patches), tenantId],
  );
  if (def.afterWrite) {
    const before = new Map(updates.flatMap((update) => update.records.map((record) => [record.id, record])));
    for (const record of postProcessResponse(updated.rows) as RecordData[]) {
      await def.afterWrite(record, { principal, existing: before.get(record.id) });
    }
  }
}

/**
 * Reverts an import in the request's transaction: the records it created are deleted (softly, as any
 * delete), and the ones it updated get back the values they had just before it. An import of another
 * tenant is, as everything of theirs, not found.
 */
export async function undoImport(principal: TenantPrincipal, importId: string) {
  const { trx, tenantId } = tenantScope();
  const job = await trx('imports').where({ tenantId, id: importId }).forUpdate().first();
  if (!job) throw notFound('Import');
  const def = CRM_RESOURCE_DEFINITIONS.get(job.resourceType as string)!;
  if (!principal.permissions.has(`${def.name}:write`)) {
    throw new AppError('FORBIDDEN', `Undoing this import needs the "${def.name}:write" permission`);
  }
  // A sales user's import touched only their own and their team's records; someone else's may not.
  if (principal.kind === 'user' && principal.roleKey === 'sales_user' && job.createdBy !== principal.userId) {
    throw new AppError('FORBIDDEN', 'Sales users may undo only their own imports');
  }
  if (job.status === 'undone') throw new AppError('CONFLICT', 'This import is already undone');

  const actor = actorId(principal);
  const items = `from import_items i where i.tenant_id = ? and i.import_id = ? and t.tenant_id = i.tenant_id and t.id = i.record_id`;
  const deleted = await trx.raw(`update ?? t set deleted_at = now(), updated_by = ? ${items} and i.action = 'created' and t.deleted_at is null`, [
    def.model.tableName,
    actor,
    tenantId,
    importId,
  ]);
  const restored = await trx.raw(`update ?? t set ${overlaySql(def, 'i.previous')}, updated_by = ? ${items} and i.action = 'updated'`, [
    def.model.tableName,
    actor,
    tenantId,
    importId,
  ]);
  await trx('imports').where({ tenantId, id: importId }).update({ status: 'undone', undoneAt: new Date(), updatedBy: actor });
  const counts = { deleted: deleted.rowCount as number, restored: restored.rowCount as number };
  recordAudit({ action: `${def.singular}.import_undo`, resourceType: 'import', resourceId: importId, after: { resource: def.name, ...counts } });
  return { importId, status: 'undone', ...counts };
}
