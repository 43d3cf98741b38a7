import Joi from 'joi';
import { email, id, name, phone, text, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { ResourceDefinition } from '../crm/resource-definition';
import { customFieldsShape } from '../custom-fields/custom-field-values';

export const LEAD_STATUSES = ['new', 'contacted', 'qualified', 'unqualified', 'converted', 'lost'] as const;
const ATTRIBUTES_MAX_BYTES = 16_384;

/** Custom attributes: a flat object of scalars, at most 16 KB as JSON (the database checks the same). */
const attributes = Joi.object()
  .pattern(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, Joi.alternatives(Joi.string().max(1000), Joi.number(), Joi.boolean(), null))
  .max(100)
  .custom((value, helpers) => (Buffer.byteLength(JSON.stringify(value)) > ATTRIBUTES_MAX_BYTES ? helpers.error('object.size') : value))
  .messages({ 'object.size': `{{#label}} must be at most ${ATTRIBUTES_MAX_BYTES} bytes as JSON` });

export const leadsResource: ResourceDefinition = {
  name: 'leads',
  singular: 'lead',
  model: recordModel('leads', ['attributes']),
  fields: {
    firstName: name,
    lastName: name,
    email,
    phone,
    company: text(200),
    title: text(200),
    source: text(100),
    status: Joi.string().valid(...LEAD_STATUSES.filter((status) => status !== 'converted')),
    score: Joi.number().integer().min(0).max(100).allow(null),
    ownerId: id,
    notes: text(10_000),
    attributes,
    externalId,
    customFields: customFieldsShape,
  },
  required: [],
  references: { ownerId: 'users' },
  filters: {
    externalId: externalIdFilter,
    status: { column: 'status', op: '=', schema: Joi.string().valid(...LEAD_STATUSES) },
    ownerId: { column: 'ownerId', op: '=', schema: Joi.string().uuid() },
    source: { column: 'source', op: '=', schema: Joi.string().max(100) },
    email: { column: 'email', op: '=', schema: Joi.string().email() },
    scoreMin: { column: 'score', op: '>=', schema: Joi.number().integer().min(0).max(100) },
    scoreMax: { column: 'score', op: '<=', schema: Joi.number().integer().min(0).max(100) },
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
