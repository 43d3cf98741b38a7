import { AppError, notFound } from '../../lib/errors';
import { actorId, ownScopeOf, TenantPrincipal } from '../auth/principal';
import { mergeCustomValues } from '../custom-fields/custom-field-values';
import { fieldsOf } from '../custom-fields/custom-fields.service';
import { recordEvent } from '../events/event-context';
import { assertWithinQuota } from '../plans/plan-gates';
import { tenantScope } from '../../infra/tenant-scope';
import { assertMayChange, assertReferencesExist } from './record-access';
import { presentRecord } from './record-model';
import { RecordData, ResourceDefinition } from './resource-definition';

/** Fields that differ between two versions of a row, as {field: {before, after}}. */
function changedFields(before: RecordData, after: RecordData, fields: string[]): { before: RecordData; after: RecordData } {
  const changed = fields.filter((field) => JSON.stringify(before[field] ?? null) !== JSON.stringify(after[field] ?? null));
  return {
    before: Object.fromEntries(changed.map((field) => [field, before[field] ?? null])),
    after: Object.fromEntries(changed.map((field) => [field, after[field] ?? null])),
  };
}

const subjectOf = (def: ResourceDefinition, ...rows: Array<RecordData | undefined>): string | null => {
  if (!def.subjectField) return null;
  const value = rows.map((row) => row?.[def.subjectField!]).find((email) => typeof email === 'string');
  return (value as string | undefined) ?? null;
};

/** The partial unique index on external ids (migration 20261202000200), as ON CONFLICT must name it. */
const EXTERNAL_ID_ARBITER = '(tenant_id, external_id) WHERE external_id IS NOT NULL AND deleted_at IS NULL';

/** Create, read, update and delete of one resource, in the request's tenant transaction, each a domain event. */
export function createRecordsService(def: ResourceDefinition) {
  const fields = Object.keys(def.fields);

  async function load(id: string, options: { includeDeleted?: boolean; lock?: boolean } = {}): Promise<RecordData> {
    const query = def.model.query().findById(id);
    if (!options.includeDeleted) query.whereNull('deletedAt');
    if (options.lock) query.forUpdate();
    const row = await query;
    if (!row) throw notFound(def.singular.charAt(0).toUpperCase() + def.singular.slice(1));
    return row as unknown as RecordData;
  }

  /** A create's rules before the INSERT: default owner, the resource's prepare, custom fields, scope, references. */
  async function prepareCreate(principal: TenantPrincipal, input: RecordData): Promise<RecordData> {
    let data: RecordData = { ...input };
    // A record belongs to whoever makes it; a scoped (sales_user) API key makes it for its creator.
    const defaultOwner = principal.kind === 'user' ? principal.userId : ownScopeOf(principal)?.userId;
    if (def.ownerField && data[def.ownerField] === undefined && defaultOwner) data[def.ownerField] = defaultOwner;
    data = def.prepare ? await def.prepare(data, { principal }) : data;
    if (data.customFields !== undefined) data.customFields = mergeCustomValues(await fieldsOf(def.name), def.name, data.customFields as RecordData);
    await assertMayChange(def, principal, data);
    await assertReferencesExist(def, data, principal);
    const actor = actorId(principal);
    return { ...data, createdBy: actor, updatedBy: actor };
  }

  /** A create's work after the INSERT: the resource's afterWrite and the domain event. */
  async function finishCreate(principal: TenantPrincipal, row: RecordData): Promise<RecordData> {
    await def.afterWrite?.(row, { principal });
    recordEvent({
      type: 'record.created',
      resource: def.singular,
      id: row.id as string,
      record: Object.fromEntries(fields.filter((field) => row[field] !== undefined).map((field) => [field, row[field]])),
      subject: subjectOf(def, row),
    });
    return presentRecord(row, def.present);
  }

  /**
   * Creates a record. With `skipTakenExternalId` the INSERT gives way (ON CONFLICT DO NOTHING on the
   * external-id index) when a live record already holds its external id, and answers undefined: the
   * database, not a read before the write, decides which of two racing upserts inserts.
   */
  async function insert(principal: TenantPrincipal, input: RecordData, skipTakenExternalId: boolean): Promise<RecordData | undefined> {
    await assertWithinQuota(principal, 'records', def.model.tableName);
    // returning('*'): objection otherwise answers only the fields sent plus the id, so database defaults
    // (createdAt, a deal's stage, a lead's status) would be missing from the answer and from afterWrite.
    const query = def.model
      .query()
      .insert((await prepareCreate(principal, input)) as never)
      .returning('*');
    if (skipTakenExternalId) query.onConflict(tenantScope().knex.raw(EXTERNAL_ID_ARBITER)).ignore();
    const row = (await query) as unknown as RecordData;
    // Nothing returned: the conflict skipped the row, and objection hands back the input without an id.
    if (row.id === undefined) return undefined;
    return finishCreate(principal, row);
  }

  return {
    load,

    async get(id: string, includeDeleted = false) {
      return presentRecord(await load(id, { includeDeleted }), def.present);
    },

    async create(principal: TenantPrincipal, input: RecordData) {
      return (await insert(principal, input, false))!;
    },

    /**
     * Several creates with one quota check and one multi-row INSERT: the same rules, hooks and events as
     * create, each in turn (a batch's run of creates; a round trip a record is most of what a create costs).
     */
    async createMany(principal: TenantPrincipal, inputs: RecordData[]): Promise<RecordData[]> {
      await assertWithinQuota(principal, 'records', def.model.tableName, inputs.length);
      const prepared: RecordData[] = [];
      for (const input of inputs) prepared.push(await prepareCreate(principal, input));
      const rows = (await def.model.query().insert(prepared as never).returning('*')) as unknown as RecordData[];
      const made: RecordData[] = [];
      for (const row of rows) made.push(await finishCreate(principal, row));
      return made;
    },

    /** Creates the record unless a live one holds its external id (undefined then): a batch upsert's insert. */
    createUnlessExternalIdTaken: (principal: TenantPrincipal, input: RecordData) => insert(principal, input, true),

    async update(principal: TenantPrincipal, id: string, patch: RecordData) {
      const existing = await load(id, { lock: true });
      await assertMayChange(def, principal, existing);
      const data = def.prepare ? await def.prepare({ ...patch }, { principal, existing }) : { ...patch };
      // Only the keys sent change; a null removes one.
      if (data.customFields !== undefined) {
        data.customFields = mergeCustomValues(await fieldsOf(def.name), def.name, data.customFields as RecordData, existing.customFields as RecordData);
      }
      if (def.ownerField && data[def.ownerField] !== undefined) await assertMayChange(def, principal, data);
      await assertReferencesExist(def, data, principal);
      // One UPDATE ... RETURNING *, where patchAndFetchById would UPDATE and then SELECT the row again.
      const row = (await def.model
        .query()
        .findById(id)
        .patch({ ...data, updatedBy: actorId(principal) } as never)
        .returning('*')) as unknown as RecordData;
      await def.afterWrite?.(row, { principal, existing });
      const diff = changedFields(existing, row, fields);
      if (Object.keys(diff.after).length) recordEvent({ type: 'record.updated', resource: def.singular, id, ...diff, subject: subjectOf(def, row, existing) });
      for (const event of (await def.eventsOfUpdate?.(existing, row)) ?? []) recordEvent(event);
      return presentRecord(row, def.present);
    },

    /** Soft delete by default; `hard` erases the row for good (tenant admins). */
    async remove(principal: TenantPrincipal, id: string, hard: boolean) {
      if (hard && !principal.permissions.has('organization:manage')) {
        throw new AppError('FORBIDDEN', 'Only tenant admins may delete records permanently');
      }
      const existing = await load(id, { lock: true, includeDeleted: hard });
      await assertMayChange(def, principal, existing);
      if (hard) await def.model.query().deleteById(id);
      else await def.model.query().findById(id).patch({ deletedAt: new Date(), updatedBy: actorId(principal) } as never);
      recordEvent({
        type: 'record.deleted',
        resource: def.singular,
        id,
        before: Object.fromEntries(fields.filter((field) => existing[field] !== undefined).map((field) => [field, existing[field]])),
        permanently: hard,
        subject: subjectOf(def, existing),
      });
    },
  };
}

export type RecordsService = ReturnType<typeof createRecordsService>;
