import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { actorId, TenantPrincipal } from '../auth/principal';
import { CRM_RESOURCE_DEFINITIONS } from '../crm/crm-resources';
import { assertMayChange } from '../crm/record-access';
import { presentRecord } from '../crm/record-model';
import type { RecordData, ResourceDefinition } from '../crm/resource-definition';
import { recordEvent } from '../events/event-context';
import { isMergeable, MergeableName } from './duplicate-rules';
import { movedCounts, MovedLinks, moveLinks, recordLinkChanges, restoreLinks } from './merge-links';

export type MergeableDefinition = ResourceDefinition & { name: MergeableName };

/** The declaration of a lead, contact or account as one that has duplicates and merges. */
export function mergeable(def: ResourceDefinition): MergeableDefinition {
  if (!isMergeable(def.name)) throw new Error(`${def.name} have no duplicates or merges`);
  return def as MergeableDefinition;
}

export interface MergeInput {
  duplicateIds: string[];
  /** Field -> the record (survivor or a duplicate) whose value the survivor keeps. */
  prefer?: Record<string, string>;
}

interface MergeRow {
  id: string;
  resource: 'lead' | 'contact' | 'account';
  survivorId: string;
  duplicateIds: string[];
  survivorBefore: RecordData;
  moved: MovedLinks[];
  undoneAt: Date | null;
}

const isBlank = (value: unknown) => value === null || value === undefined || value === '';

const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** A merge changes the survivor and deletes the duplicates: it takes both the resource's write and delete permissions. */
function assertMayMerge(def: ResourceDefinition, principal: TenantPrincipal): void {
  for (const action of ['write', 'delete']) {
    if (!principal.permissions.has(`${def.name}:${action}`)) throw new AppError('FORBIDDEN', `Merging ${def.name} needs ${def.name}:write and ${def.name}:delete`);
  }
}

/**
 * The survivor's fields after the merge: each keeps the survivor's value, a blank one takes the first
 * duplicate's (in the order given) that has one, and `prefer` names the record a field comes from.
 */
function mergedFields(def: ResourceDefinition, survivor: RecordData, duplicates: RecordData[], prefer: Record<string, string>): RecordData {
  const byId = new Map([survivor, ...duplicates].map((row) => [row.id as string, row]));
  const patch: RecordData = {};
  for (const field of Object.keys(def.fields)) {
    const preferred = prefer[field];
    const value = preferred ? byId.get(preferred)![field] : isBlank(survivor[field]) ? duplicates.map((row) => row[field]).find((candidate) => !isBlank(candidate)) : undefined;
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(survivor[field] ?? null)) patch[field] = value;
  }
  return patch;
}

function assertPreferValid(def: ResourceDefinition, survivorId: string, input: MergeInput): void {
  const records = new Set([survivorId, ...input.duplicateIds]);
  const problems = Object.entries(input.prefer ?? {}).flatMap(([field, recordId]) => [
    ...(def.fields[field] ? [] : [{ field: `prefer.${field}`, message: `is not a field of a ${def.singular}` }]),
    ...(records.has(recordId) ? [] : [{ field: `prefer.${field}`, message: 'must name the survivor or one of duplicateIds' }]),
  ]);
  if (input.duplicateIds.includes(survivorId)) problems.push({ field: 'duplicateIds', message: 'must not name the survivor itself' });
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'The merge is invalid', problems);
}

async function lockLive(def: ResourceDefinition, ids: readonly string[]): Promise<RecordData[]> {
  const rows = (await def.model.query().whereIn('id', [...ids]).whereNull('deletedAt').forUpdate()) as unknown as RecordData[];
  return ids.map((id) => rows.find((row) => row.id === id)).filter((row): row is RecordData => row !== undefined);
}

/**
 * POST /{resource}/:id/merge: the record at `survivorId` stays; the duplicates' links move to it, they are
 * soft-deleted with `mergedInto`, blank fields of the survivor are filled from them (or as `prefer` says),
 * and a `merges` row keeps all that for an undo. One transaction; an unknown or foreign id is a 404.
 */
export async function mergeRecords(def: MergeableDefinition, principal: TenantPrincipal, survivorId: string, input: MergeInput) {
  assertMayMerge(def, principal);
  // Ids first: a record the caller cannot see is 404 whatever else the body says, so another tenant's id
  // answers exactly like an unknown one (the same id twice is 400 only for a record the caller has).
  const [survivor] = await lockLive(def, [survivorId]);
  if (!survivor) throw notFound(capitalized(def.singular));
  const duplicates = await lockLive(def, input.duplicateIds);
  if (duplicates.length !== input.duplicateIds.length) throw notFound(`${capitalized(def.singular)} to merge`);
  assertPreferValid(def, survivorId, input);
  for (const row of [survivor, ...duplicates]) await assertMayChange(def, principal, row);

  const actor = actorId(principal);
  const { trx, tenantId } = tenantScope();
  // The duplicates go first: a value moving to the survivor (a unique custom field) is then no longer theirs.
  await def.model.query().whereIn('id', input.duplicateIds).patch({ deletedAt: new Date(), mergedInto: survivorId, updatedBy: actor } as never);
  const moved = await moveLinks(def.name, survivorId, input.duplicateIds);
  const patch = mergedFields(def, survivor, duplicates, input.prefer ?? {});
  const updated = (await def.model
    .query()
    .findById(survivorId)
    .patch({ ...patch, updatedBy: actor } as never)
    .returning('*')) as unknown as RecordData;
  const before = Object.fromEntries(Object.keys(patch).map((field) => [field, survivor[field] ?? null]));
  const [merge] = (await trx('merges')
    .insert({ tenantId, resource: def.singular, survivorId, duplicateIds: input.duplicateIds, survivorBefore: JSON.stringify(before), moved: JSON.stringify(moved), createdBy: actor, updatedBy: actor })
    .returning(['id', 'createdAt'])) as Array<{ id: string; createdAt: Date }>;

  const subject = (row: RecordData) => (def.subjectField && typeof row[def.subjectField] === 'string' ? (row[def.subjectField] as string) : null);
  for (const duplicate of duplicates) {
    recordEvent({
      type: 'record.deleted',
      resource: def.singular,
      id: duplicate.id as string,
      before: Object.fromEntries(Object.keys(def.fields).filter((field) => duplicate[field] !== undefined).map((field) => [field, duplicate[field]])),
      permanently: false,
      subject: subject(duplicate),
    });
  }
  recordLinkChanges(moved, survivorId, 'merged');
  recordEvent({ type: 'record.merged', resource: def.singular, id: survivorId, subject: subject(updated), mergeId: merge!.id, duplicateIds: input.duplicateIds, before, after: patch, moved: movedCounts(moved) });
  return {
    mergeId: merge!.id,
    survivor: presentRecord(updated, def.present),
    duplicateIds: input.duplicateIds,
    moved: movedCounts(moved),
    createdAt: merge!.createdAt,
  };
}

/**
 * POST /merges/:id/undo: the duplicates come back (not deleted, no `mergedInto`), the moved links point at
 * them again, and the survivor's overwritten fields take their old values. Once only: a second undo is 409.
 */
export async function undoMerge(principal: TenantPrincipal, mergeId: string) {
  const { trx } = tenantScope();
  const merge = (await trx('merges').where({ id: mergeId }).forUpdate().first()) as MergeRow | undefined;
  if (!merge) throw notFound('Merge');
  const def = [...CRM_RESOURCE_DEFINITIONS.values()].find((candidate) => candidate.singular === merge.resource)!;
  assertMayMerge(def, principal);
  if (merge.undoneAt) throw new AppError('CONFLICT', 'This merge has already been undone');
  const survivor = (await def.model.query().findById(merge.survivorId).forUpdate()) as unknown as RecordData | undefined;
  if (!survivor) throw new AppError('CONFLICT', `The surviving ${def.singular} has been erased: the merge can no longer be undone`);
  await assertMayChange(def, principal, survivor);

  const actor = actorId(principal);
  const restoredIds = (await def.model
    .query()
    .whereIn('id', merge.duplicateIds)
    .where('mergedInto', merge.survivorId)
    .patch({ deletedAt: null, mergedInto: null, updatedBy: actor } as never)
    .returning('id')) as unknown as Array<{ id: string }>;
  const restoredGroups = await restoreLinks(merge.survivorId, merge.moved);
  const restoredLinks = restoredGroups.reduce((count, group) => count + group.ids.length, 0);
  const fields = Object.keys(merge.survivorBefore);
  if (fields.length) await def.model.query().findById(merge.survivorId).patch({ ...merge.survivorBefore, updatedBy: actor } as never);
  await trx('merges').where({ id: mergeId }).update({ undoneAt: trx.fn.now(), undoneBy: actor, updatedBy: actor });

  const subject = (row: RecordData) => (def.subjectField && typeof row[def.subjectField] === 'string' ? (row[def.subjectField] as string) : null);
  if (fields.length) {
    const after = Object.fromEntries(fields.map((field) => [field, survivor[field] ?? null]));
    recordEvent({ type: 'record.updated', resource: def.singular, id: merge.survivorId, before: after, after: merge.survivorBefore, subject: subject(survivor) });
  }
  for (const { id } of restoredIds) {
    recordEvent({ type: 'record.updated', resource: def.singular, id, before: { mergedInto: merge.survivorId }, after: { mergedInto: null }, subject: null });
  }
  recordLinkChanges(restoredGroups, merge.survivorId, 'restored');
  recordEvent({ type: 'merge.undone', resource: def.singular, mergeId, survivorId: merge.survivorId, duplicateIds: restoredIds.map((row) => row.id), restoredLinks });
  return { mergeId, survivorId: merge.survivorId, restoredIds: restoredIds.map((row) => row.id), restoredLinks };
}
