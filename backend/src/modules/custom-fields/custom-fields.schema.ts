import Joi from 'joi';
import { CRM_RESOURCES } from '../roles/permissions';
import { CUSTOM_FIELD_TYPES } from './custom-field.model';
import { CUSTOM_FIELD_KEY } from './custom-field-values';
import type { CustomFieldDraft, CustomFieldPatch } from './custom-fields.service';

const label = Joi.string().trim().min(1).max(100);
const options = Joi.array().items(Joi.string().trim().min(1).max(100)).unique().max(100);

export const customFieldParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
export const listCustomFieldsQuery = Joi.object<{ resource?: string }>({ resource: Joi.string().valid(...CRM_RESOURCES) });

export const createCustomFieldBody = Joi.object<CustomFieldDraft>({
  resource: Joi.string().valid(...CRM_RESOURCES).required(),
  key: Joi.string().pattern(CUSTOM_FIELD_KEY).required().messages({ 'string.pattern.base': '{{#label}} must be lower case letters, digits and _ (40 at most), starting with a letter' }),
  label: label.required(),
  type: Joi.string().valid(...CUSTOM_FIELD_TYPES).required(),
  options,
  required: Joi.boolean(),
  unique: Joi.boolean(),
  searchable: Joi.boolean(),
});

export const updateCustomFieldBody = Joi.object<CustomFieldPatch>({ label, options, required: Joi.boolean() }).min(1);

export const customFieldSchema = Joi.object({
  id: Joi.string().uuid(),
  resource: Joi.string().valid(...CRM_RESOURCES),
  key: Joi.string(),
  label: Joi.string(),
  type: Joi.string().valid(...CUSTOM_FIELD_TYPES),
  options: Joi.array().items(Joi.string()),
  required: Joi.boolean(),
  unique: Joi.boolean(),
  searchable: Joi.boolean(),
  position: Joi.number().integer(),
  createdAt: Joi.date().iso(),
  updatedAt: Joi.date().iso(),
});
