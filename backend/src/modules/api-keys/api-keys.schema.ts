import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import { TENANT_PERMISSIONS } from '../roles/permissions';
import type { NewApiKey } from './api-keys.service';

export const createApiKeyBody = Joi.object<NewApiKey>({
  name: Joi.string().trim().min(1).max(100).required(),
  role: Joi.string()
    .trim()
    .min(1)
    .max(100)
    .when('permissions', { not: Joi.exist(), then: Joi.required() })
    .messages({ 'any.required': '{{#label}} is required unless permissions are given' }),
  permissions: Joi.array()
    .items(Joi.string().valid(...TENANT_PERMISSIONS).messages({ 'any.only': '{{#label}} is not a known permission' }))
    .min(1)
    .max(TENANT_PERMISSIONS.length)
    .unique(),
  expiresAt: Joi.date().iso().greater('now').messages({ 'date.greater': '{{#label}} must be in the future' }),
});

export const listApiKeysQuery = Joi.object<Page>(creationPageQuery);

export const apiKeyParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
