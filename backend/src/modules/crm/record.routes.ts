import Joi from 'joi';
import { AppError } from '../../lib/errors';
import { created, defineRoute, noContent, ok, page, principalOf, RouteDefinition } from '../../http/route';
import { listQueryWithView } from '../views/views.service';
import { exportRoute } from './export.routes';
import { importRoute } from './import.routes';
import { listQuerySchema, listRecords, ListQuery } from './record-list';
import { recordTimeline } from './record-timeline';
import { RecordsService } from './records.service';
import { ResourceDefinition } from './resource-definition';

const idParams = Joi.object({ id: Joi.string().uuid().required() });

/** The body schema of a create: declared fields only, required ones required. */
export const createBodySchema = (def: ResourceDefinition): Joi.ObjectSchema =>
  Joi.object(
    Object.fromEntries(
      Object.entries(def.fields).map(([field, schema]) => [field, def.required.includes(field) ? schema.required() : schema]),
    ),
  );

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
        const query = await listQueryWithView(def, caller, input.query as ListQuery & { view?: string });
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
      schema: { body: createBodySchema(def) },
      handler: async (input) => created(await records.create(principalOf(input, 'user', 'api_key'), input.body as Record<string, unknown>)),
    }),
    importRoute(def),
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
        return ok(await records.get(input.params.id!, includeDeleted));
      },
    }),
    defineRoute({
      method: 'patch',
      path: `/${def.name}/:id`,
      auditResource: def.singular,
      permission: `${def.name}:write`,
      summary: `Update a ${def.singular} (only the fields sent)`,
      tags,
      schema: { params: idParams, body: Joi.object(def.fields).min(1) },
      handler: async (input) =>
        ok(await records.update(principalOf(input, 'user', 'api_key'), input.params.id!, input.body as Record<string, unknown>)),
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
        await records.remove(principalOf(input, 'user', 'api_key'), input.params.id!, input.query.hard === true);
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
        await records.load(input.params.id!);
        return ok(await recordTimeline(principalOf(input, 'user', 'api_key'), def.singular, input.params.id!));
      },
    }),
  ];
}
