import Joi from 'joi';
import { address, email, id, name, phone, text, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { ResourceDefinition } from '../crm/resource-definition';
import { customFieldsShape } from '../custom-fields/custom-field-values';

export const contactsResource: ResourceDefinition = {
  name: 'contacts',
  singular: 'contact',
  model: recordModel('contacts', ['address']),
  fields: { firstName: name, lastName: name, email, phone, title: text(200), accountId: id, ownerId: id, address, externalId, customFields: customFieldsShape },
  required: [],
  references: { accountId: 'accounts', ownerId: 'users' },
  filters: {
    externalId: externalIdFilter,
    accountId: { column: 'accountId', op: '=', schema: Joi.string().uuid() },
    ownerId: { column: 'ownerId', op: '=', schema: Joi.string().uuid() },
    email: { column: 'email', op: '=', schema: Joi.string().email() },
  },
  sorts: {
    name: [
      { column: 'lastName', type: 'text', nullable: true },
      { column: 'firstName', type: 'text', nullable: true },
    ],
  },
  ownerField: 'ownerId',
  subjectField: 'email',
  upsertKeys: ['email'],
};
