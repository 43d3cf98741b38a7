import Joi from 'joi';
import { AnyRouteInput, created, defineRoute, noContent, ok, principalOf, RouteDefinition } from '../../http/route';
import { customFieldParams, customFieldSchema, createCustomFieldBody, listCustomFieldsQuery, updateCustomFieldBody } from './custom-fields.schema';
import { createCustomField, deleteCustomField, listCustomFields, updateCustomField } from './custom-fields.service';

export function customFieldsRoutes(): RouteDefinition[] {
  const tags = ['Custom fields'];
  const caller = (input: AnyRouteInput) => principalOf(input, 'user', 'api_key');

  return [
    defineRoute({
      method: 'get',
      path: '/custom-fields',
      permission: 'authenticated',
      summary: "The organization's custom fields, by resource and position (what records may carry in customFields)",
      response: { status: 200, description: 'Every custom field', schema: Joi.array().items(customFieldSchema) },
      tags,
      schema: { query: listCustomFieldsQuery },
      handler: async (input) => ok(await listCustomFields(input.query.resource)),
    }),
    defineRoute({
      method: 'post',
      path: '/custom-fields',
      auditResource: 'custom_field',
      permission: 'custom_fields:manage',
      summary: 'Add a custom field to a CRM resource (the plan limits how many)',
      response: { status: 201, description: 'The field', schema: customFieldSchema },
      tags,
      schema: { body: createCustomFieldBody },
      handler: async (input) => created(await createCustomField(caller(input), input.body)),
    }),
    defineRoute({
      method: 'patch',
      path: '/custom-fields/:id',
      auditResource: 'custom_field',
      permission: 'custom_fields:manage',
      summary: "Change a custom field's label, options (none still in use may go) or whether it is required",
      response: { status: 200, description: 'The field', schema: customFieldSchema },
      tags,
      schema: { params: customFieldParams, body: updateCustomFieldBody },
      handler: async (input) => ok(await updateCustomField(caller(input), input.params.id, input.body)),
    }),
    defineRoute({
      method: 'delete',
      path: '/custom-fields/:id',
      auditResource: 'custom_field',
      permission: 'custom_fields:manage',
      summary: 'Delete a custom field and every value records hold of it (audited with how many records held one)',
      tags,
      schema: { params: customFieldParams },
      handler: async (input) => {
        await deleteCustomField(input.params.id);
        return noContent();
      },
    }),
  ];
}
