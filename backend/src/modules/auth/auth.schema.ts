import Joi from 'joi';
import { passwordSchema } from './passwords';
import type { LoginInput, RegisterInput } from './auth.service';

const email = Joi.string().trim().lowercase().email().max(254);
const name = Joi.string().trim().min(1).max(100);

export const registerBody = Joi.object<RegisterInput>({
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

export const loginBody = Joi.object<LoginInput>({
  email: email.required(),
  // No policy here: a login must not reveal the policy, only whether the password is right.
  password: Joi.string().min(1).max(1024).required(),
  tenantId: Joi.string().uuid(),
});

export const refreshBody = Joi.object<{ refreshToken?: string }>({ refreshToken: Joi.string().max(200) });

export const changePasswordBody = Joi.object<{ currentPassword: string; newPassword: string }>({
  currentPassword: Joi.string().min(1).max(1024).required(),
  newPassword: passwordSchema.required().invalid(Joi.ref('currentPassword')).messages({
    'any.invalid': '{{#label}} must differ from the current password',
  }),
});

export const sessionParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

const roleRef = Joi.object({ id: Joi.string().uuid().required(), key: Joi.string().allow(null), name: Joi.string() });

/** What every sign-in answers (register, login, refresh, accept-invite): typed for clients. */
export const signedInSchema = Joi.object({
  user: Joi.object({
    id: Joi.string().uuid().required(),
    email: Joi.string().required(),
    firstName: Joi.string().allow(null),
    lastName: Joi.string().allow(null),
    status: Joi.string().valid('active', 'invited', 'disabled').required(),
    role: roleRef.required(),
    teamId: Joi.string().uuid().allow(null),
    lastLoginAt: Joi.date().iso().allow(null),
    createdAt: Joi.date().iso().required(),
    updatedAt: Joi.date().iso().required(),
  }).required(),
  tenant: Joi.object({
    id: Joi.string().uuid().required(),
    name: Joi.string().required(),
    subdomain: Joi.string().required(),
    plan: Joi.string().required(),
    status: Joi.string().valid('active', 'suspended').required(),
    createdAt: Joi.date().iso().required(),
  }).required(),
  tokens: Joi.object({
    accessToken: Joi.string().required(),
    refreshToken: Joi.string().required(),
    tokenType: Joi.string().valid('Bearer').required(),
    expiresIn: Joi.number().integer().required(),
  }).required(),
});

/** With MFA on, the password step answers a single-use challenge instead of tokens. */
export const loginAnswerSchema = Joi.alternatives(
  signedInSchema,
  Joi.object({
    mfaRequired: Joi.boolean().valid(true).required(),
    mfaToken: Joi.string().required().description('Single use, for POST /auth/login/mfa; grants nothing else'),
    expiresIn: Joi.number().integer().required(),
  }),
);
