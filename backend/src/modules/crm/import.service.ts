import { randomUUID } from 'node:crypto';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { tooManyRows } from '../../http/route';
import { SpooledUpload } from '../../http/spooled-upload';
import { actorId, ownScopeOf, TenantPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { assertWithinQuota } from '../plans/plan-gates';
import { CRM_RESOURCE_DEFINITIONS } from './crm-resources';
import { allowedOwners, checkCustomFields, checkReferences, checkRelated, findMatches, matchKey } from './import-checks';
import { assertKnownColumns, csvRecords, ImportFormat, ImportRow, RowError, rowReader } from './import-rows';
import { ImportStaging, overlaySql, StagedWrite } from './import-staging';
import { RecordData, ResourceDefinition } from './resource-definition';

export const IMPORT_MODES = ['all-or-nothing', 'valid-only'] as const;

export interface ImportOptions {
  mode: (typeof IMPORT_MODES)[number];
  dryRun: boolean;
  upsertBy?: string;
  /** Rows beyond this many are a 413, whatever the body's size. */
  maxRows: number;
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

/** What an import has seen and done so far, chunk after chunk. */
interface Run {
  def: ResourceDefinition;
  principal: TenantPrincipal;
  options: ImportOptions;
  owners: Set<string> | null;
  firstRowOfKey: Map<string, number>;
  rows: number;
  invalid: number;
  errors: RowError[];
  created: number;
  updated: number;
  staging?: ImportStaging;
  importId?: string;
  /** The plan's quota, once a chunk would exceed it: reported after the rows' own errors, as before any write. */
  quotaError?: unknown;
}

/** Rows per chunk: one check query per referenced table, one COPY, one INSERT and one UPDATE per chunk. */
const CHUNK_ROWS = 2000;
const REPORTED_ERRORS = 1000;

const isValid = (row: ImportRow) => row.errors.length === 0;
const noRows = () => new AppError('VALIDATION_ERROR', 'The import has no rows', [{ field: 'body', message: 'must hold at least one row' }]);

async function* chunked<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * A bulk import in the request's transaction, streamed: rows are read (a CSV as its spooled file streams
 * by), validated and checked (references in bulk) a chunk at a time, and each chunk's records go into a
 * staging table by COPY and from there into the resource's table while the next chunk is being validated.
 * Every created id (and each updated row's previous values) is kept in import_items for undo. What the
 * caller sees is as if every row were checked before anything was written: all-or-nothing fails with
 * every row's errors and the transaction leaves nothing behind, and a dry run answers what the import
 * would do without writing.
 */
export async function importRecords(def: ResourceDefinition, principal: TenantPrincipal, body: unknown[] | SpooledUpload, options: ImportOptions): Promise<ImportReport> {
  const format: ImportFormat = body instanceof SpooledUpload ? 'csv' : 'json';
  if (Array.isArray(body)) {
    if (body.length === 0) throw noRows();
    assertKnownColumns(def, body);
  }
  const inputs: AsyncIterable<unknown> | unknown[] = body instanceof SpooledUpload ? csvRecords(def, body) : body;
  const run: Run = {
    def,
    principal,
    options,
    owners: await allowedOwners(def, principal),
    firstRowOfKey: new Map(),
    rows: 0,
    invalid: 0,
    errors: [],
    created: 0,
    updated: 0,
  };

  let read = 0;
  const readRow = rowReader(def, format);
  async function* validated(): AsyncGenerator<ImportRow> {
    for await (const input of inputs) {
      read += 1;
      // The body link counted CSV lines already; records (line ends other than \n) are counted here.
      if (read > options.maxRows) throw tooManyRows(options.maxRows);
      const row = readRow(input, read);
      if (!row.blank) yield row;
    }
  }
  // A chunk is written while the next one is read and validated (in this process, while the database
  // works); its checks wait for the write before, as both use the one connection of the transaction.
  let writing: Promise<void> = Promise.resolve();
  try {
    for await (const chunk of chunked(validated(), CHUNK_ROWS)) {
      await writing;
      const plan = await planChunk(run, chunk);
      writing = writeChunk(run, plan);
      // Awaited before the next chunk or below; a failure meanwhile must not count as unhandled.
      writing.catch(() => undefined);
    }
  } finally {
    await writing.catch(() => undefined);
  }
  await writing;
  if (read === 0) throw noRows();
  return finish(run);
}

async function finish(run: Run): Promise<ImportReport> {
  const { def, principal, options } = run;
  if (run.invalid > 0 && options.mode === 'all-or-nothing') {
    throw new AppError('VALIDATION_ERROR', `${run.invalid} of ${run.rows} rows are invalid; nothing was imported`, run.errors);
  }
  if (run.quotaError) throw run.quotaError;
  const counts = { created: run.created, updated: run.updated, failed: run.invalid };
  if (options.dryRun) {
    if (counts.created > 0) await assertWithinQuota(principal, 'records', def.model.tableName, counts.created);
    return { importId: null, dryRun: true, ...counts, errors: run.errors };
  }
  const importId = await importRow(run);
  await tenantScope()
    .trx('imports')
    .where({ tenantId: tenantScope().tenantId, id: importId })
    .update({
      status: counts.created + counts.updated === 0 ? 'failed' : 'completed',
      createdCount: counts.created,
      updatedCount: counts.updated,
      failedCount: counts.failed,
    });
  recordEvent({ type: 'records.imported', resource: def.singular, importId, mode: options.mode, upsertBy: options.upsertBy ?? null, ...counts });
  return { importId, dryRun: false, ...counts, errors: run.errors };
}

/** The import's row, made before its first record is written (import_items point at it). */
async function importRow(run: Run): Promise<string> {
  if (run.importId) return run.importId;
  const { trx, tenantId } = tenantScope();
  const actor = actorId(run.principal);
  const [job] = await trx('imports')
    .insert({ tenantId, resourceType: run.def.name, mode: run.options.mode, status: 'completed', createdBy: actor, updatedBy: actor })
    .returning<Array<{ id: string }>>('id');
  run.importId = job!.id;
  return run.importId;
}

/**
 * Sorts a chunk's valid rows into creates and updates (a row whose upsert key matches live records
 * updates them all), marking what is wrong with the others; every check costs one query per chunk,
 * not per row. Rows are counted and their errors reported in row order.
 */
async function planChunk(run: Run, chunk: ImportRow[]): Promise<Plan> {
  const { def, principal, owners, firstRowOfKey } = run;
  const upsertBy = run.options.upsertBy;
  const valid = chunk.filter(isValid);
  const matches = upsertBy ? await findMatches(def, upsertBy, valid) : undefined;
  const plan: Plan = { creates: [], updates: [] };
  for (const row of valid) {
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
  const checkable = valid.filter(isValid);
  await checkReferences(def, checkable);
  await checkRelated(def, checkable);
  await checkCustomFields(def, checkable);
  await def.batch?.check?.(checkable.filter(isValid));

  for (const row of chunk) {
    run.rows += 1;
    if (isValid(row)) continue;
    run.invalid += 1;
    run.errors.push(...row.errors.slice(0, Math.max(0, REPORTED_ERRORS - run.errors.length)));
  }
  const creates = plan.creates.filter(isValid);
  const updates = plan.updates.filter((update) => isValid(update.row));
  run.created += creates.length;
  run.updated += updates.reduce((sum, update) => sum + update.records.length, 0);
  return { creates, updates };
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

/**
 * Writes a chunk's plan: the resource's hooks prepare the values, the staging table takes them by COPY,
 * then one INSERT creates the new records and one UPDATE patches the matched ones. Nothing is written
 * for a dry run, nor once the import is bound to fail (an invalid row in all-or-nothing mode, the quota).
 */
async function writeChunk(run: Run, plan: Plan): Promise<void> {
  const { def, principal, options } = run;
  if (options.dryRun || run.quotaError || (run.invalid > 0 && options.mode === 'all-or-nothing')) return;
  if (plan.creates.length === 0 && plan.updates.length === 0) return;
  if (plan.creates.length > 0) {
    try {
      // Earlier chunks' records are in the table already: the count covers the whole import so far.
      await assertWithinQuota(principal, 'records', def.model.tableName, plan.creates.length);
    } catch (error) {
      run.quotaError = error;
      return;
    }
  }
  const importId = await importRow(run);
  run.staging ??= await ImportStaging.open(def);
  const context = { principal };
  const data = plan.creates.map((row) => row.data);
  const prepared = def.batch?.prepare
    ? await def.batch.prepare(data, context)
    : await Promise.all(data.map((values) => (def.prepare ? def.prepare(values, context) : values)));
  const writes: StagedWrite[] = prepared.map((values, index) => ({ row: plan.creates[index]!.row, recordId: randomUUID(), action: 'create', values }));
  for (const { row, records } of plan.updates) {
    for (const existing of records) {
      const values = def.prepare ? await def.prepare({ ...row.data }, { principal, existing }) : row.data;
      writes.push({ row: row.row, recordId: existing.id as string, action: 'update', values });
    }
  }
  await run.staging.stage(writes);

  const actor = actorId(principal);
  // Hooks see the rows as stored, database defaults included (a deal's stage).
  const stored = await run.staging.insertCreated(importId, actor, Boolean(def.batch?.afterWrite ?? def.afterWrite));
  if (def.batch?.afterWrite) await def.batch.afterWrite(stored, context);
  else if (def.afterWrite) for (const record of stored) await def.afterWrite(record, context);
  const updated = await run.staging.updatePatched(importId, actor, Boolean(def.afterWrite));
  if (def.afterWrite) {
    const before = new Map(plan.updates.flatMap((update) => update.records.map((record) => [record.id, record])));
    for (const record of updated) await def.afterWrite(record, { principal, existing: before.get(record.id) });
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
  const scope = ownScopeOf(principal);
  if (scope && job.createdBy !== actorId(principal) && job.createdBy !== scope.userId) {
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
  recordEvent({ type: 'import.undone', resource: def.singular, importId, ...counts });
  return { importId, status: 'undone', ...counts };
}
