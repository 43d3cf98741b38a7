import Joi from 'joi';
import { RecordData, ResourceDefinition } from './resource-definition';

/** The body schema of a create: declared fields only, required ones required. */
export const createBodySchema = (def: ResourceDefinition): Joi.ObjectSchema<RecordData> =>
  Joi.object<RecordData>(
    Object.fromEntries(
      Object.entries(def.fields).map(([field, schema]) => [field, def.required.includes(field) ? schema.required() : schema]),
    ),
  );
