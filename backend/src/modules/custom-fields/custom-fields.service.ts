import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { actorId, TenantPrincipal } from '../auth/principal';
import { recordEvent } from '../events/event-context';
import { CustomField, CustomFieldType, presentCustomField } from './custom-field.model';

export interface CustomFieldDraft {
  resource: string;
  key: string;
  label: string;
  type: CustomFieldType;
  options?: string[];
  required?: boolean;
  unique?: boolean;
  searchable?: boolean;
}

export type CustomFieldPatch = Partial<Pick<CustomFieldDraft, 'label' | 'options' | 'required'>>;

const CHOICE_TYPES: ReadonlySet<CustomFieldType> = new Set(['select', 'multiselect']);
/** Types whose values compare as one scalar: a multiselect holds several, a boolean only two. */
const UNIQUE_TYPES: ReadonlySet<CustomFieldType> = new Set(['text', 'number', 'currency', 'date', 'datetime', 'email', 'url', 'phone']);

/** The fields of each resource, read once per transaction: a list and its writes ask several times. */
const fieldsByTransaction = new WeakMap<object, Map<string, CustomField[]>>();

/** The tenant's fields of one resource (`leads`), in their order. */
export async function fieldsOf(resource: string): Promise<CustomField[]> {
  const { trx } = tenantScope();
  let byResource = fieldsByTransaction.get(trx);
  if (!byResource) fieldsByTransaction.set(trx, (byResource = new Map()));
  const known = byResource.get(resource);
  if (known) return known;
  const fields = await CustomField.query().where({ resource }).orderBy(['position', 'key']);
  byResource.set(resource, fields);
  return fields;
}

const forget = () => fieldsByTransaction.delete(tenantScope().trx);

export async function listCustomFields(resource?: string) {
  const query = CustomField.query().orderBy(['resource', 'position', 'key']);
  if (resource) query.where({ resource });
  return (await query).map(presentCustomField);
}

function assertShape(type: CustomFieldType, options: string[] | undefined, unique: boolean | undefined): void {
  const problems = [];
  if (CHOICE_TYPES.has(type) && !options?.length) problems.push({ field: 'options', message: `are required for a ${type} field` });
  if (!CHOICE_TYPES.has(type) && options?.length) problems.push({ field: 'options', message: `are only for select and multiselect fields` });
  if (unique && !UNIQUE_TYPES.has(type)) problems.push({ field: 'unique', message: `is not available for a ${type} field` });
  if (problems.length) throw new AppError('VALIDATION_ERROR', 'The custom field is invalid', problems);
}

/** The plan's limit counts every field of the tenant, whatever its resource. */
async function assertWithinFieldQuota(principal: TenantPrincipal): Promise<void> {
  const limit = principal.plan.quotas.customFields;
  if (limit === null || limit === undefined) return;
  const count = await CustomField.query().resultSize();
  if (count >= limit) {
    throw new AppError('PLAN_FEATURE_UNAVAILABLE', `The ${principal.plan.code} plan allows ${limit} custom fields`, [
      { field: 'customFields', message: `quota ${limit} reached (${count} in use)` },
    ]);
  }
}

export async function createCustomField(principal: TenantPrincipal, draft: CustomFieldDraft) {
  assertShape(draft.type, draft.options, draft.unique);
  // One definition write at a time per tenant: the quota count and the position are then exact.
  await tenantScope().trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`custom_fields:${tenantScope().tenantId}`]);
  await assertWithinFieldQuota(principal);
  const last = await CustomField.query().where({ resource: draft.resource }).max('position as max').first();
  const actor = actorId(principal);
  const field = await CustomField.query()
    .insert({
      resource: draft.resource,
      key: draft.key,
      label: draft.label,
      type: draft.type,
      options: draft.options ?? [],
      required: draft.required ?? false,
      isUnique: draft.unique ?? false,
      searchable: draft.searchable ?? false,
      position: ((last as unknown as { max: number | null } | undefined)?.max ?? -1) + 1,
      createdBy: actor,
      updatedBy: actor,
    } as never)
    .returning('*');
  forget();
  const shown = presentCustomField(field);
  recordEvent({ type: 'custom_field.created', id: field.id, field: shown });
  return shown;
}

async function load(id: string, lock = false): Promise<CustomField> {
  const query = CustomField.query().findById(id);
  if (lock) query.forUpdate();
  const field = await query;
  if (!field) throw notFound('Custom field');
  return field;
}

/** Options still held by a record cannot go: the records would hold values their field no longer allows. */
async function assertOptionsUnused(field: CustomField, options: string[]): Promise<void> {
  const removed = field.options.filter((option) => !options.includes(option));
  if (!removed.length) return;
  const inUse = await tenantScope().trx('customFieldValues').where({ fieldId: field.id }).whereIn('valueText', removed).first('valueText');
  if (inUse) {
    throw new AppError('CONFLICT', 'An option still in use cannot be removed', [{ field: 'options', message: `"${inUse.valueText as string}" is held by records` }]);
  }
}

export async function updateCustomField(principal: TenantPrincipal, id: string, patch: CustomFieldPatch) {
  const field = await load(id, true);
  if (patch.options) {
    assertShape(field.type, patch.options, field.isUnique);
    await assertOptionsUnused(field, patch.options);
  }
  const updated = await CustomField.query().patchAndFetchById(id, { ...patch, updatedBy: actorId(principal) } as never);
  forget();
  const before = presentCustomField(field);
  const after = presentCustomField(updated);
  const changed = (Object.keys(patch) as Array<keyof CustomFieldPatch>).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  if (changed.length) {
    recordEvent({
      type: 'custom_field.updated',
      id,
      before: Object.fromEntries(changed.map((key) => [key, before[key]])),
      after: Object.fromEntries(changed.map((key) => [key, after[key]])),
    });
  }
  return after;
}

/**
 * The field goes with its values: every record of the resource (deleted ones too) loses the key, in the
 * same transaction, and the deletion's audit entry says how many records held one.
 */
export async function deleteCustomField(id: string): Promise<void> {
  const field = await load(id, true);
  // The definition goes first (its typed values with it): the records' triggers then no longer hold them to it.
  await CustomField.query().deleteById(id);
  const { trx, tenantId } = tenantScope();
  const recordsChanged = await trx(field.resource)
    .where({ tenantId })
    .whereRaw('jsonb_exists(custom_fields, ?)', [field.key])
    .update({ customFields: trx.raw('custom_fields - ?::text', [field.key]) });
  forget();
  recordEvent({ type: 'custom_field.deleted', id, field: presentCustomField(field), recordsChanged });
}
