import Joi from 'joi';
import { address, id, phone, text, url, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { ResourceDefinition } from '../crm/resource-definition';
import { customFieldsShape } from '../custom-fields/custom-field-values';

export const accountsResource: ResourceDefinition = {
  name: 'accounts',
  singular: 'account',
  model: recordModel('accounts', ['address']),
  fields: {
    name: Joi.string().trim().min(1).max(200),
    domain: Joi.string().trim().lowercase().domain().max(253).allow(null, ''),
    industry: text(100),
    size: text(50),
    phone,
    website: url,
    address,
    status: Joi.string().valid('active', 'inactive', 'prospect'),
    ownerId: id,
    externalId,
    customFields: customFieldsShape,
  },
  required: ['name'],
  references: { ownerId: 'users' },
  filters: {
    externalId: externalIdFilter,
    status: { column: 'status', op: '=', schema: Joi.string().valid('active', 'inactive', 'prospect') },
    ownerId: { column: 'ownerId', op: '=', schema: Joi.string().uuid() },
    industry: { column: 'industry', op: '=', schema: Joi.string().max(100) },
    domain: { column: 'domain', op: '=', schema: Joi.string().max(253) },
  },
  sorts: { name: [{ column: 'name', type: 'text' }] },
  ownerField: 'ownerId',
  upsertKeys: ['domain'],
};
