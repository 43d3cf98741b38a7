import Joi from 'joi';
import { AppError } from '../../lib/errors';
import { created, defineRoute, noContent, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { isMergeable } from '../merges/duplicate-rules';
import { rejectDuplicates } from '../merges/duplicates.service';
import { mergeable } from '../merges/merges.service';
import { listQueryWithView } from '../views/views.service';
import { exportRoute } from './export.routes';
import { batchRoute } from './record-batch.routes';
import { importRoute } from './import.routes';
import { listQuerySchema, listRecords } from './record-list';
import { createBodySchema } from './record-body';
import { recordTimeline } from './record-timeline';
import { RecordsService } from './records.service';
import { RecordData, ResourceDefinition } from './resource-definition';

export { createBodySchema };

/** Leads, contacts and accounts: `reject` checks for likely duplicates before creating (`allow`, the default, does not). */
const onDuplicateQuery = Joi.object({ onDuplicate: Joi.string().valid('allow', 'reject').default('allow') });

const idParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

/** The standard routes of a CRM resource: list, create, bulk import, CSV export, read, update, delete, timeline. */
export function recordRoutes(def: ResourceDefinition, records: RecordsService): RouteDefinition[] {
  const tags = [def.name.charAt(0).toUpperCase() + def.name.slice(1)];
  const canSeeDeleted = (permissions: ReadonlySet<string>) => permissions.has(`${def.name}:delete`);
  const refuseDeleted = () =>
    new AppError('FORBIDDEN', `includeDeleted needs the ${def.name}:delete permission`);

  return [
    defineRoute({
      method: 'get',
      path: `/${def.name}`,
      permission: `${def.name}:read`,
      summary: `List ${def.name} (keyset cursor, filters and sort, custom fields' too, full-text q, a saved view)`,
      tags,
      schema: { query: listQuerySchema(def) },
      handler: async (input) => {
        const caller = principalOf(input, 'user', 'api_key');
        const query = await listQueryWithView(def, caller, input.query);
        if (query.includeDeleted && !canSeeDeleted(caller.permissions)) throw refuseDeleted();
        const result = await listRecords(def, query);
        return page(result.data, result.pagination);
      },
    }),
    defineRoute({
      method: 'post',
      path: `/${def.name}`,
      auditResource: def.singular,
      permission: `${def.name}:write`,
      summary: `Create a ${def.singular}`,
      tags,
      ...(isMergeable(def.name) && {
        description: '`?onDuplicate=reject` refuses (409 DUPLICATE_FOUND, the candidates in `details`) a record that looks like an existing one (GET /:id/duplicates\'s rules).',
      }),
      schema: { body: createBodySchema(def), ...(isMergeable(def.name) && { query: onDuplicateQuery }) },
      handler: async (input) => {
        const caller = principalOf(input, 'user', 'api_key');
        if (input.query.onDuplicate === 'reject') await rejectDuplicates(mergeable(def), caller, input.body);
        return created(await records.create(caller, input.body));
      },
    }),
    importRoute(def),
    batchRoute(def, records),
    exportRoute(def),
    defineRoute({
      method: 'get',
      path: `/${def.name}/:id`,
      permission: `${def.name}:read`,
      summary: `Read a ${def.singular}`,
      tags,
      schema: { params: idParams, query: Joi.object({ includeDeleted: Joi.boolean().default(false) }) },
      handler: async (input) => {
        const includeDeleted = input.query.includeDeleted === true;
        if (includeDeleted && !canSeeDeleted(principalOf(input).permissions)) throw refuseDeleted();
        return ok(await records.get(input.params.id, includeDeleted));
      },
    }),
    defineRoute({
      method: 'patch',
      path: `/${def.name}/:id`,
      auditResource: def.singular,
      permission: `${def.name}:write`,
      summary: `Update a ${def.singular} (only the fields sent)`,
      tags,
      schema: { params: idParams, body: Joi.object<RecordData>(def.fields).min(1) },
      handler: async (input) =>
        ok(await records.update(principalOf(input, 'user', 'api_key'), input.params.id, input.body)),
    }),
    defineRoute({
      method: 'delete',
      path: `/${def.name}/:id`,
      auditResource: def.singular,
      permission: `${def.name}:delete`,
      summary: `Delete a ${def.singular} (soft; ?hard=true erases it, tenant admins only)`,
      tags,
      schema: { params: idParams, query: Joi.object({ hard: Joi.boolean().default(false) }) },
      handler: async (input) => {
        await records.remove(principalOf(input, 'user', 'api_key'), input.params.id, input.query.hard === true);
        return noContent();
      },
    }),
    defineRoute({
      method: 'get',
      path: `/${def.name}/:id/timeline`,
      permission: `${def.name}:read`,
      summary: `Activities and audit events of a ${def.singular}, newest first; each part only with activities:read or audit:read`,
      response: { status: 200, description: 'The events, newest first', schema: Joi.array().items(Joi.object().unknown()) },
      tags,
      schema: { params: idParams },
      handler: async (input) => {
        await records.load(input.params.id);
        return ok(await recordTimeline(principalOf(input, 'user', 'api_key'), def.singular, input.params.id));
      },
    }),
  ];
}
