import joiToSwagger from 'joi-to-swagger';
import { AppDeps } from '../../app-deps';
import { withTenant } from '../../infra/tenant-scope';
import { RouteInput } from '../../http/route';
import { readCredential } from '../../middleware/authenticate';
import { loadTenantPrincipal } from '../auth/principal.service';
import { CustomField } from '../custom-fields/custom-field.model';
import { valueSchema } from '../custom-fields/custom-field-values';
import { OpenApiDocument } from './openapi';

type JsonSchema = Record<string, unknown>;

/** The caller's organization's custom fields, or none for a caller without one (a platform admin). */
export async function callerCustomFields(deps: AppDeps, input: RouteInput): Promise<CustomField[]> {
  const header = (name: string) => [input.headers[name]].flat()[0];
  const credential = await readCredential(deps.knex, deps.config.jwt, header('authorization'), header('x-api-key'));
  if (credential.kind === 'platform_admin') return [];
  return withTenant(deps.knex, credential.tenantId, async () => {
    await loadTenantPrincipal(credential);
    return CustomField.query().orderBy(['resource', 'position', 'key']);
  });
}

/** One resource's fields as the `customFields` object schema: each key typed, unknown keys refused. */
function customFieldsSchema(fields: CustomField[], creating: boolean): JsonSchema {
  const required = fields.filter((field) => field.required).map((field) => field.key);
  return {
    type: 'object',
    additionalProperties: false,
    description: creating ? 'Custom field values of this organization' : 'Custom field values to change; null removes one',
    properties: Object.fromEntries(
      fields.map((field) => [field.key, { ...(joiToSwagger(valueSchema(field)).swagger as JsonSchema), description: field.label, ...(creating ? {} : { nullable: true }) }]),
    ),
    ...(creating && required.length ? { required } : {}),
  };
}

/**
 * The generic document with one organization's custom fields typed in the create and update bodies of
 * their resources (so a client generated from it knows them); operations are copied, never changed in place.
 */
export function withCustomFields(document: OpenApiDocument, fields: CustomField[]): OpenApiDocument {
  const paths = { ...document.paths };
  for (const resource of new Set(fields.map((field) => field.resource))) {
    const own = fields.filter((field) => field.resource === resource);
    for (const [path, method] of [[`/api/v1/${resource}`, 'post'], [`/api/v1/${resource}/{id}`, 'patch']] as const) {
      const operation = paths[path]?.[method];
      if (!operation) continue;
      const copy = structuredClone(operation) as unknown as { requestBody: { content: Record<string, { schema: JsonSchema & { properties: JsonSchema; required?: string[] } }> } };
      const body = copy.requestBody.content['application/json']!.schema;
      body.properties.customFields = customFieldsSchema(own, method === 'post');
      if (method === 'post' && own.some((field) => field.required)) body.required = [...new Set([...(body.required ?? []), 'customFields'])];
      paths[path] = { ...paths[path], [method]: copy } as (typeof paths)[string];
    }
  }
  return { ...document, paths };
}
