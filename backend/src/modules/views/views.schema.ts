import Joi from 'joi';
import { CRM_RESOURCES } from '../roles/permissions';
import { VISIBILITIES } from './saved-view.model';
import type { ViewDraft, ViewPatch } from './views.service';

const name = Joi.string().trim().min(1).max(100);
const scalar = Joi.alternatives(Joi.string().max(1000), Joi.number(), Joi.boolean());
/**
 * Query parameters as a list takes them, custom fields' nested (`{customFields: {budget: {gte: 1000}}}`
 * stands for `customFields.budget[gte]=1000`); checked against the resource's list when the view is saved.
 */
const filters = Joi.object({
  customFields: Joi.object()
    .pattern(
      /^[a-z][a-z0-9_]{0,39}$/,
      Joi.alternatives(scalar, Joi.object({ eq: scalar, gte: scalar, lte: scalar, in: Joi.array().items(scalar).min(1).max(100) }).min(1)),
    )
    .max(50),
})
  .pattern(/^[A-Za-z][A-Za-z0-9_]{0,40}$/, scalar)
  .max(50);
const sort = Joi.string().max(100).allow(null);
const columns = Joi.array().items(Joi.string().max(100)).unique().max(100);
const visibility = Joi.string().valid(...VISIBILITIES);

export const viewParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
export const listViewsQuery = Joi.object<{ resource?: string }>({ resource: Joi.string().valid(...CRM_RESOURCES) });
export const createViewBody = Joi.object<ViewDraft>({
  resource: Joi.string().valid(...CRM_RESOURCES).required(),
  name: name.required(),
  filters: filters.default({}),
  sort,
  columns: columns.default([]),
  visibility: visibility.default('private'),
});
export const updateViewBody = Joi.object<ViewPatch>({ name, filters, sort, columns, visibility }).min(1);

export const viewSchema = Joi.object({
  id: Joi.string().uuid(),
  resource: Joi.string().valid(...CRM_RESOURCES),
  name: Joi.string(),
  filters: Joi.object().unknown(),
  sort: Joi.string().allow(null),
  columns: Joi.array().items(Joi.string()),
  visibility: visibility,
  ownerId: Joi.string().uuid(),
  teamId: Joi.string().uuid().allow(null),
  createdAt: Joi.date().iso(),
  updatedAt: Joi.date().iso(),
});
