import Joi from 'joi';

const flagKey = Joi.string()
  .pattern(/^[a-z][a-z0-9_.-]{1,63}$/)
  .description('Lowercase letters, digits, `_`, `.` and `-`, 2..64 characters, starting with a letter');

export const flagKeyParams = Joi.object<{ key: string }>({ key: flagKey.required() });

export const putFlagBody = Joi.object<FlagUpdate>({
  enabled: Joi.boolean().required().description('Off: no tenant has the flag, whatever the targeting says'),
  tenants: Joi.array().items(Joi.string().guid()).max(1000).unique().default([]).description('Tenants that always have the flag'),
  plans: Joi.array().items(Joi.string().trim().min(1).max(50)).min(1).max(20).unique().allow(null).default(null).description('Plans whose tenants are in the audience; null: every plan'),
  percentage: Joi.number().integer().min(0).max(100).allow(null).default(null).description('Share of the audience, by a stable hash of the tenant id; null: all of it'),
}).required();

export interface FlagUpdate {
  enabled: boolean;
  tenants: string[];
  plans: string[] | null;
  percentage: number | null;
}

export const featureFlagSchema = Joi.object({
  key: Joi.string().required(),
  enabled: Joi.boolean().required(),
  tenants: Joi.array().items(Joi.string().guid()).required(),
  plans: Joi.array().items(Joi.string()).allow(null).required(),
  percentage: Joi.number().integer().min(0).max(100).allow(null).required(),
  updatedAt: Joi.date().required(),
});
