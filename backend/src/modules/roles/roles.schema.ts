import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import { TENANT_PERMISSIONS } from './permissions';
import type { RoleDraft } from './roles.service';

const name = Joi.string().trim().min(1).max(100);
const description = Joi.string().trim().max(500).allow(null);
const permissions = Joi.array()
  .items(Joi.string().valid(...TENANT_PERMISSIONS).messages({ 'any.only': '{{#label}} is not a known permission' }))
  .max(TENANT_PERMISSIONS.length)
  .unique();

export const listRolesQuery = Joi.object<Page>(creationPageQuery);

export const createRoleBody = Joi.object<RoleDraft>({
  name: name.required(),
  description,
  permissions: permissions.required(),
});

export const updateRoleBody = Joi.object<Partial<RoleDraft>>({ name, description, permissions }).min(1);

export const roleParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
