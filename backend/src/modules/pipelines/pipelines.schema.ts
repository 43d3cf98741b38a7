import Joi from 'joi';
import { STAGE_KINDS } from './pipeline.model';
import type { PipelineDraft, PipelinePatch } from './pipelines.service';

const STAGE_KEY = /^[a-z][a-z0-9_]{0,39}$/;
const name = Joi.string().trim().min(1).max(100);

const stage = Joi.object({
  key: Joi.string().pattern(STAGE_KEY).required().messages({ 'string.pattern.base': '{{#label}} must be lower case letters, digits and _ (40 at most), starting with a letter' }),
  name: name.required(),
  probability: Joi.number().integer().min(0).max(100).required(),
  kind: Joi.string().valid(...STAGE_KINDS).required(),
});
const stages = Joi.array().items(stage).min(1).max(50).unique('key');

export const pipelineParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });
export const createPipelineBody = Joi.object<PipelineDraft>({ name: name.required(), stages: stages.required() });
export const updatePipelineBody = Joi.object<PipelinePatch>({
  name,
  stages,
  moveTo: Joi.object().pattern(STAGE_KEY, Joi.string().pattern(STAGE_KEY)).max(50),
})
  .min(1)
  .with('moveTo', 'stages');

export const pipelineSchema = Joi.object({
  id: Joi.string().uuid(),
  name: Joi.string(),
  isDefault: Joi.boolean(),
  stages: Joi.array().items(
    Joi.object({ key: Joi.string(), name: Joi.string(), probability: Joi.number().integer(), kind: Joi.string().valid(...STAGE_KINDS) }),
  ),
  createdAt: Joi.date().iso(),
  updatedAt: Joi.date().iso(),
});
