import Joi from 'joi';
import { ResourceDefinition } from './resource-definition';

/** The body schema of a create: declared fields only, required ones required. */
export const createBodySchema = (def: ResourceDefinition): Joi.ObjectSchema =>
  Joi.object(
    Object.fromEntries(
      Object.entries(def.fields).map(([field, schema]) => [field, def.required.includes(field) ? schema.required() : schema]),
    ),
  );
