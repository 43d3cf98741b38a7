import Joi from 'joi';
import { tenantScope } from '../../infra/tenant-scope';
import { fromDatabaseError } from '../../lib/database-errors';
import { AppError, ErrorDetail, notFound } from '../../lib/errors';
import { TenantPrincipal } from '../auth/principal';
import { currentEventContext } from '../events/event-context';
import { createBodySchema } from './record-body';
import { RecordsService } from './records.service';
import { RecordData, ResourceDefinition } from './resource-definition';

/** Operations a batch takes at most: what one request may change, and one transaction holds locks for. */
export const MAX_BATCH_OPERATIONS = 100;

export type BatchOp = 'create' | 'update' | 'upsert' | 'delete';

/** The record an operation acts on, by a unique-ish value instead of its id. */
export type BatchMatch = { externalId: string } | { email: string } | { domain: string };

export interface BatchOperation {
  op: BatchOp;
  id?: string;
  match?: BatchMatch;
  data?: RecordData;
}

/** What became of one operation: the status a single write would have answered, and its error if it failed. */
export interface BatchItem {
  index: number;
  status: number;
  id?: string;
  error?: { code: string; message: string; details?: ErrorDetail[] };
}

/** The keys a resource may be matched by: its external id, and the fields its imports upsert by (email, domain). */
export const matchKeysOf = (def: ResourceDefinition): string[] => ['externalId', ...(def.upsertKeys ?? [])];

const VALIDATION: Joi.ValidationOptions = { abortEarly: false, convert: true, allowUnknown: false, stripUnknown: false };

const invalid = (message: string, details?: ErrorDetail[]): AppError => new AppError('VALIDATION_ERROR', message, details);

/** The bodies of POST and PATCH of each resource, built once: a batch checks up to 100 operations against them. */
const bodySchemas = new WeakMap<ResourceDefinition, { create: Joi.ObjectSchema; update: Joi.ObjectSchema }>();

function bodySchemasOf(def: ResourceDefinition): { create: Joi.ObjectSchema; update: Joi.ObjectSchema } {
  let schemas = bodySchemas.get(def);
  if (!schemas) bodySchemas.set(def, (schemas = { create: createBodySchema(def), update: Joi.object(def.fields).min(1) }));
  return schemas;
}

/** An operation's data against the single write's body schema: what POST (create) or PATCH (update) would take. */
function checkedData(def: ResourceDefinition, data: RecordData | undefined, asCreate: boolean): RecordData {
  if (data === undefined) throw invalid('This operation needs data', [{ field: 'data', message: 'is required' }]);
  const schema = asCreate ? bodySchemasOf(def).create : bodySchemasOf(def).update;
  const { value, error } = schema.validate(data, VALIDATION);
  if (error) throw invalid('The operation is invalid', error.details.map((item) => ({ field: ['data', ...item.path].join('.'), message: item.message })));
  return value as RecordData;
}

/** The operation's shape beyond the route's schema: which of id, match and data each op takes. */
function checkShape(operation: BatchOperation): void {
  const { op, id, match, data } = operation;
  if ((op === 'create' || op === 'upsert') && id !== undefined) throw invalid(`${op} takes no id`, [{ field: 'id', message: 'is not allowed' }]);
  if (op === 'create' && match !== undefined) throw invalid('create takes no match: use upsert', [{ field: 'match', message: 'is not allowed' }]);
  if (op === 'upsert' && match === undefined) throw invalid('upsert needs match', [{ field: 'match', message: 'is required' }]);
  if ((op === 'update' || op === 'delete') && (id === undefined) === (match === undefined)) {
    throw invalid(`${op} needs either id or match`, [{ field: 'id', message: 'give id or match, one of them' }]);
  }
  if (op === 'delete' && data !== undefined) throw invalid('delete takes no data', [{ field: 'data', message: 'is not allowed' }]);
}

/** The single key and value of a match. */
const matchEntry = (match: BatchMatch): [string, string] => Object.entries(match)[0] as [string, string];

/**
 * The live record a match names, locked for the write. An email or domain compares without case; several
 * records sharing one (nothing keeps emails unique) resolve to the oldest.
 */
async function findMatch(def: ResourceDefinition, match: BatchMatch): Promise<RecordData | undefined> {
  const [field, value] = matchEntry(match);
  const query = def.model.query().whereNull('deletedAt').orderBy('createdAt').orderBy('id').first().forUpdate();
  if (field === 'externalId') query.where('externalId', value);
  else query.whereRaw('lower(??::text) = lower(?)', [field, value]);
  return (await query) as unknown as RecordData | undefined;
}

const notFoundBy = (def: ResourceDefinition, match: BatchMatch): AppError =>
  notFound(`${def.singular.charAt(0).toUpperCase()}${def.singular.slice(1)} with this ${matchEntry(match)[0]}`);

/** Records an upsert may have to create: the match's value is part of the record (an upsert by externalId sets it). */
function withMatchedValue(data: RecordData, match: BatchMatch): RecordData {
  const [field, value] = matchEntry(match);
  if (data[field] !== undefined && String(data[field]).toLowerCase() !== value.toLowerCase()) {
    throw invalid(`data.${field} differs from match.${field}`, [{ field: `data.${field}`, message: `must equal match.${field} or be left out` }]);
  }
  return { ...data, [field]: data[field] ?? value };
}

/**
 * An upsert by email or domain: nothing in the schema keeps those unique, so the key is held by a transaction
 * advisory lock (per tenant, resource and lowercased value) around the look-up and the write; a racing upsert
 * of the same key waits for this transaction and then finds the record it made.
 */
async function lockMatchKey(def: ResourceDefinition, match: BatchMatch): Promise<void> {
  const [field, value] = matchEntry(match);
  const { trx, tenantId } = tenantScope();
  await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`batch-upsert:${tenantId}:${def.name}:${field}:${value.toLowerCase()}`]);
}

/** One operation through the single writes' service path (the same checks, hooks, events and audit). */
async function runOperation(def: ResourceDefinition, records: RecordsService, principal: TenantPrincipal, operation: BatchOperation): Promise<Omit<BatchItem, 'index'>> {
  checkShape(operation);
  const { op, match } = operation;
  if (op === 'delete' && !principal.permissions.has(`${def.name}:delete`)) {
    throw new AppError('FORBIDDEN', `delete needs the ${def.name}:delete permission`);
  }
  if (op === 'create') {
    const record = await records.create(principal, checkedData(def, operation.data, true));
    return { status: 201, id: record.id as string };
  }
  if (op === 'upsert') {
    const [field] = matchEntry(match!);
    // The data need only make a whole record when the upsert creates one (required fields); to update, a patch.
    let asCreate: RecordData | AppError;
    try {
      asCreate = withMatchedValue(checkedData(def, operation.data, true), match!);
    } catch (error) {
      asCreate = failureOf(error);
    }
    if (field === 'externalId') {
      const inserted = asCreate instanceof AppError ? undefined : await records.createUnlessExternalIdTaken(principal, asCreate);
      if (inserted) return { status: 201, id: inserted.id as string };
    } else {
      await lockMatchKey(def, match!);
    }
    const existing = await findMatch(def, match!);
    if (!existing) {
      if (asCreate instanceof AppError) throw asCreate;
      // By email or domain under the lock: nobody has it, so this creates it. By external id: the holder of the
      // key that made the insert give way was deleted since, which a retry of the operation will find.
      if (field !== 'externalId') return { status: 201, id: (await records.create(principal, asCreate)).id as string };
      throw new AppError('CONFLICT', 'The record holding this externalId changed while the operation ran: retry it', [{ field: 'match.externalId', message: 'retry' }]);
    }
    // An upsert that names nothing beyond its match finds the record and leaves it as it is.
    const patch = operation.data && Object.keys(operation.data).length ? checkedData(def, operation.data, false) : undefined;
    if (patch) await records.update(principal, existing.id as string, patch);
    return { status: 200, id: existing.id as string };
  }
  const id = operation.id ?? ((await findMatch(def, match!)) ?? { id: undefined }).id;
  if (typeof id !== 'string') throw notFoundBy(def, match!);
  if (op === 'update') {
    await records.update(principal, id, checkedData(def, operation.data, false));
    return { status: 200, id };
  }
  await records.remove(principal, id, false);
  return { status: 204, id };
}

/** An operation's failure as its item shows it; anything that is not the caller's error fails the whole request. */
function failureOf(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const mapped = fromDatabaseError(error);
  if (mapped) return mapped;
  throw error;
}

const errorOf = (error: AppError): BatchItem['error'] => ({ code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });

/**
 * What was recorded or queued in the unit of work up to now, so that a failed operation's share can be
 * dropped with the savepoint it rolled back to: its events must not be audited, sent or put in the feed.
 */
function markUnitOfWork(): () => void {
  const events = currentEventContext().recorded;
  const hooks = tenantScope().afterCommit;
  const [eventCount, hookCount] = [events.length, hooks.length];
  return () => {
    events.splice(eventCount);
    hooks.splice(hookCount);
  };
}

/** Runs work in a savepoint: kept when it succeeds, rolled back (with its events) when it throws. */
async function inSavepoint<T>(name: string, work: () => Promise<T>): Promise<T> {
  const { trx } = tenantScope();
  const forget = markUnitOfWork();
  await trx.raw(`SAVEPOINT ${name}`);
  try {
    const result = await work();
    await trx.raw(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (error) {
    await trx.raw(`ROLLBACK TO SAVEPOINT ${name}`);
    forget();
    throw error;
  }
}

/** A plain create (no id, no match): what a run of creates may do together. */
const isPlainCreate = (operation: BatchOperation): boolean => operation.op === 'create' && operation.id === undefined && operation.match === undefined;

/** The operations in order, each run of two or more creates as one createMany; throws at the first failure. */
async function runAll(def: ResourceDefinition, records: RecordsService, principal: TenantPrincipal, operations: BatchOperation[]): Promise<BatchItem[]> {
  const items: BatchItem[] = [];
  let index = 0;
  while (index < operations.length) {
    let end = index;
    while (end < operations.length && isPlainCreate(operations[end]!)) end += 1;
    if (end - index > 1) {
      const made = await records.createMany(principal, operations.slice(index, end).map((operation) => checkedData(def, operation.data, true)));
      made.forEach((record, n) => items.push({ index: index + n, status: 201, id: record.id as string }));
      index = end;
    } else {
      items.push({ index, ...(await runOperation(def, records, principal, operations[index]!)) });
      index += 1;
    }
  }
  return items;
}

/**
 * POST /{resource}/batch: the operations in order, in the request's one transaction. First all of them at
 * once in one savepoint (runs of creates as one INSERT): most batches succeed whole, and a savepoint or an
 * INSERT of each operation costs round trips. When anything fails, that savepoint is rolled back (with the
 * events recorded) and the operations run again one by one, from the first:
 * - `atomic`: up to the first failure; then nothing is stored, the failed item carries its error and every
 *   other one 424 BATCH_ROLLED_BACK;
 * - else each in a savepoint of its own, so a failed one leaves no trace and the others stand.
 */
export async function runBatch(
  def: ResourceDefinition,
  records: RecordsService,
  principal: TenantPrincipal,
  operations: BatchOperation[],
  atomic: boolean,
): Promise<BatchItem[]> {
  const { trx } = tenantScope();
  const forget = markUnitOfWork();
  await trx.raw('SAVEPOINT batch_all');
  try {
    const items = await runAll(def, records, principal, operations);
    await trx.raw('RELEASE SAVEPOINT batch_all');
    return items;
  } catch (error) {
    failureOf(error);
    await trx.raw('ROLLBACK TO SAVEPOINT batch_all');
    forget();
  }
  const items: BatchItem[] = [];
  for (const [index, operation] of operations.entries()) {
    try {
      const run = () => runOperation(def, records, principal, operation);
      items.push({ index, ...(await (atomic ? run() : inSavepoint('batch_operation', run))) });
    } catch (error) {
      const failure = failureOf(error);
      const failed = { index, status: failure.status, error: errorOf(failure) };
      if (!atomic) {
        items.push(failed);
        continue;
      }
      await trx.raw('ROLLBACK TO SAVEPOINT batch_all');
      forget();
      const rolledBack = new AppError('BATCH_ROLLED_BACK', `Not stored: operation ${index} failed and the batch is atomic`);
      return operations.map((_operation, at) => (at === index ? failed : { index: at, status: rolledBack.status, error: errorOf(rolledBack) }));
    }
  }
  await trx.raw('RELEASE SAVEPOINT batch_all');
  return items;
}
