import Joi from 'joi';
import { id, isoDate, relatedType, text, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { ResourceDefinition } from '../crm/resource-definition';
import { assertRelatedExists } from '../crm/related-record';
import { customFieldsShape } from '../custom-fields/custom-field-values';

const TYPES = ['call', 'email', 'meeting', 'note'] as const;

export const activitiesResource: ResourceDefinition = {
  name: 'activities',
  singular: 'activity',
  model: recordModel('activities'),
  fields: {
    type: Joi.string().valid(...TYPES),
    subject: Joi.string().trim().min(1).max(300),
    body: text(20_000),
    occurredAt: isoDate,
    durationMinutes: Joi.number().integer().min(0).max(100_000).allow(null),
    relatedType,
    relatedId: id,
    ownerId: id,
    externalId,
    customFields: customFieldsShape,
  },
  required: ['type', 'subject'],
  references: { ownerId: 'users' },
  filters: {
    externalId: externalIdFilter,
    type: { column: 'type', op: '=', schema: Joi.string().valid(...TYPES) },
    ownerId: { column: 'ownerId', op: '=', schema: Joi.string().uuid() },
    relatedType: { column: 'relatedType', op: '=', schema: Joi.string().max(20) },
    relatedId: { column: 'relatedId', op: '=', schema: Joi.string().uuid() },
    occurredAfter: { column: 'occurredAt', op: '>=', schema: Joi.date().iso() },
    occurredBefore: { column: 'occurredAt', op: '<=', schema: Joi.date().iso() },
  },
  sorts: { occurredAt: [{ column: 'occurredAt', type: 'timestamp' }] },
  ownerField: 'ownerId',
  prepare: async (data, { existing }) => {
    await assertRelatedExists(data, existing);
    return data;
  },
  // The related-record check is prepare's only work, and imports make it for a whole chunk themselves.
  batch: { prepare: (rows) => rows },
};
