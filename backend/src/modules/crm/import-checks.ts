import { tenantScope } from '../../infra/tenant-scope';
import { TenantPrincipal } from '../auth/principal';
import { checkCustomValues } from '../custom-fields/custom-field-values';
import { fieldsOf } from '../custom-fields/custom-fields.service';
import { RELATED_TYPES } from './field-schemas';
import { ownersInScope } from './record-access';
import { ImportRow } from './import-rows';
import { RecordData, ResourceDefinition } from './resource-definition';

/** Upsert keys compare as their columns do: emails are citext, and domains are stored lower-cased. */
export const matchKey = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value.toLowerCase() : undefined;

/** Appends to the list under a key, in place: rebuilding the list per item would cost n² on a chunk. */
export function addTo<K, V>(lists: Map<K, V[]>, key: K, item: V): void {
  const list = lists.get(key);
  if (list) list.push(item);
  else lists.set(key, [item]);
}

const distinct = (rows: ImportRow[], field: string): string[] => [
  ...new Set(rows.map((row) => row.data[field]).filter((value): value is string => typeof value === 'string')),
];

/** The live records whose upsert key equals a row's, by key: one query for the whole chunk. */
export async function findMatches(def: ResourceDefinition, key: string, rows: ImportRow[]): Promise<Map<string, RecordData[]>> {
  const matches = new Map<string, RecordData[]>();
  const values = distinct(rows, key).filter((value) => value !== '');
  if (values.length === 0) return matches;
  const { trx, tenantId } = tenantScope();
  const found: RecordData[] = await trx(def.model.tableName).where({ tenantId }).whereIn(key, values).whereNull('deletedAt');
  for (const record of found) {
    const match = matchKey(record[key])!;
    addTo(matches, match, record);
  }
  return matches;
}

/** Every referenced id must name a live record of this tenant: one query per referenced table per chunk. */
export async function checkReferences(def: ResourceDefinition, rows: ImportRow[]): Promise<void> {
  const { trx } = tenantScope();
  for (const [field, table] of Object.entries(def.references)) {
    const ids = distinct(rows, field);
    if (ids.length === 0) continue;
    const found = new Set<string>(await trx(table).whereIn('id', ids).whereNull('deletedAt').pluck('id'));
    for (const row of rows) {
      const id = row.data[field];
      if (typeof id === 'string' && !found.has(id)) {
        row.errors.push({ row: row.row, field, message: `does not name an existing ${table.replace(/s$/, '')}` });
      }
    }
  }
}

/** relatedType and relatedId go together and name a live record: one query per related table per chunk. */
export async function checkRelated(def: ResourceDefinition, rows: ImportRow[]): Promise<void> {
  if (!def.fields.relatedType || !def.fields.relatedId) return;
  const byType = new Map<string, ImportRow[]>();
  for (const row of rows) {
    const { relatedType: type, relatedId: id } = row.data;
    if ((type === null || type === undefined) !== (id === null || id === undefined)) {
      row.errors.push({ row: row.row, field: type ? 'relatedId' : 'relatedType', message: 'is required with the other' });
    } else if (typeof type === 'string') {
      addTo(byType, type, row);
    }
  }
  const { trx } = tenantScope();
  for (const [type, group] of byType) {
    const table = RELATED_TYPES[type as keyof typeof RELATED_TYPES];
    const found = new Set<string>(await trx(table).whereIn('id', distinct(group, 'relatedId')).whereNull('deletedAt').pluck('id'));
    for (const row of group) {
      if (!found.has(row.data.relatedId as string)) row.errors.push({ row: row.row, field: 'relatedId', message: `does not name an existing ${type}` });
    }
  }
}

/**
 * The owners a sales user may give or take records from (themselves and their team), as in
 * assertMayChange; null when the caller is bounded by permissions alone.
 */
export async function allowedOwners(def: ResourceDefinition, principal: TenantPrincipal): Promise<Set<string> | null> {
  if (!def.ownerField) return null;
  return (await ownersInScope(principal)) ?? null;
}

/**
 * Custom field values against the tenant's fields (read once per transaction). A row's values replace the
 * record's on update, as any imported column does; `required` and `unique` are the database's to enforce.
 */
export async function checkCustomFields(def: ResourceDefinition, rows: ImportRow[]): Promise<void> {
  const given = rows.filter((row) => row.data.customFields !== undefined);
  if (given.length === 0) return;
  const fields = await fieldsOf(def.name);
  const multiselects = new Set(fields.filter((field) => field.type === 'multiselect').map((field) => field.key));
  for (const row of given) {
    const sent = row.data.customFields as RecordData;
    // A CSV cell of a multiselect lists its options comma-separated, as exports write it.
    for (const key of multiselects) if (typeof sent[key] === 'string') sent[key] = (sent[key] as string).split(',').map((option) => option.trim());
    const { values, problems } = checkCustomValues(fields, def.name, sent);
    for (const problem of problems) row.errors.push({ row: row.row, field: problem.field, message: problem.message });
    row.data.customFields = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== null));
  }
}
