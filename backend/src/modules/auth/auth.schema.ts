import Joi from 'joi';
import { passwordSchema } from './passwords';

const email = Joi.string().trim().lowercase().email().max(254);
const name = Joi.string().trim().min(1).max(100);

export const registerBody = Joi.object({
  email: email.required(),
  password: passwordSchema.required(),
  firstName: name.required(),
  lastName: name.required(),
  company: Joi.string().trim().min(2).max(120).required(),
  subdomain: Joi.string()
    .lowercase()
    .pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    .invalid('www', 'api', 'admin', 'app')
    .messages({ 'string.pattern.base': '{{#label}} must be letters, digits and inner dashes' }),
  plan: Joi.string().valid('free', 'pro', 'enterprise'),
});

export const loginBody = Joi.object({
  email: email.required(),
  // No policy here: a login must not reveal the policy, only whether the password is right.
  password: Joi.string().min(1).max(1024).required(),
  tenantId: Joi.string().uuid(),
});

export const refreshBody = Joi.object({ refreshToken: Joi.string().max(200) });

export const changePasswordBody = Joi.object({
  currentPassword: Joi.string().min(1).max(1024).required(),
  newPassword: passwordSchema.required().invalid(Joi.ref('currentPassword')).messages({
    'any.invalid': '{{#label}} must differ from the current password',
  }),
});

export const sessionParams = Joi.object({ id: Joi.string().uuid().required() });
