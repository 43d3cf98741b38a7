import Joi from 'joi';
import { id, isoDate, PRIORITIES, relatedType, text, externalId, externalIdFilter } from '../crm/field-schemas';
import { recordModel } from '../crm/record-model';
import { RecordData, ResourceDefinition, WriteContext } from '../crm/resource-definition';
import { assertRelatedExists } from '../crm/related-record';
import { customFieldsShape } from '../custom-fields/custom-field-values';

const STATUSES = ['open', 'in_progress', 'done', 'cancelled'] as const;

function stampCompletion(data: RecordData, existing?: RecordData): RecordData {
  if (data.status !== undefined && data.status !== existing?.status) data.completedAt = data.status === 'done' ? new Date() : null;
  return data;
}

async function prepare(data: RecordData, { existing }: WriteContext): Promise<RecordData> {
  await assertRelatedExists(data, existing);
  return stampCompletion(data, existing);
}

export const tasksResource: ResourceDefinition = {
  name: 'tasks',
  singular: 'task',
  model: recordModel('tasks'),
  fields: {
    title: Joi.string().trim().min(1).max(200),
    description: text(10_000),
    dueDate: isoDate,
    status: Joi.string().valid(...STATUSES),
    priority: Joi.string().valid(...PRIORITIES),
    assigneeId: id,
    relatedType,
    relatedId: id,
    externalId,
    customFields: customFieldsShape,
  },
  required: ['title'],
  references: { assigneeId: 'users' },
  filters: {
    externalId: externalIdFilter,
    status: { column: 'status', op: '=', schema: Joi.string().valid(...STATUSES) },
    priority: { column: 'priority', op: '=', schema: Joi.string().valid(...PRIORITIES) },
    assigneeId: { column: 'assigneeId', op: '=', schema: Joi.string().uuid() },
    relatedType: { column: 'relatedType', op: '=', schema: Joi.string().max(20) },
    relatedId: { column: 'relatedId', op: '=', schema: Joi.string().uuid() },
    dueAfter: { column: 'dueDate', op: '>=', schema: Joi.date().iso() },
    dueBefore: { column: 'dueDate', op: '<=', schema: Joi.date().iso() },
  },
  sorts: { title: [{ column: 'title', type: 'text' }] },
  ownerField: 'assigneeId',
  prepare,
  batch: { prepare: (rows) => rows.map((row) => stampCompletion(row)) },
};
