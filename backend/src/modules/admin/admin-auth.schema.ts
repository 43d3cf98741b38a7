import Joi from 'joi';
import { passwordSchema } from '../auth/passwords';
import { STAFF_ROLES, StaffRole } from './staff-roles';
import type { StaffStatus } from './platform-admin.model';
import type { StaffChanges, StaffInvitation } from './staff.service';

export const adminLoginBody = Joi.object<{ email: string; password: string }>({
  email: Joi.string().trim().lowercase().email({ tlds: { allow: false } }).max(254).required(),
  // No policy here: a login must not reveal the policy, only whether the password is right.
  password: Joi.string().min(1).max(1024).required(),
});

export const acceptStaffInviteBody = Joi.object<{ token: string; password: string }>({
  token: Joi.string().max(200).required(),
  password: passwordSchema.required(),
});

export const staffSessionParams = Joi.object<{ id: string }>({ id: Joi.string().guid().required() });

export const staffSchema = Joi.object({
  id: Joi.string().guid().required(),
  email: Joi.string().required(),
  firstName: Joi.string().allow(null).required(),
  lastName: Joi.string().allow(null).required(),
  role: Joi.string().valid(...STAFF_ROLES).required(),
  status: Joi.string().valid('active', 'invited', 'disabled').required(),
  mfaEnabled: Joi.boolean().required(),
  lastLoginAt: Joi.date().allow(null).required(),
  createdAt: Joi.date().required(),
});

const accessTokens = Joi.object({
  accessToken: Joi.string().required(),
  tokenType: Joi.string().valid('Bearer').required(),
  expiresIn: Joi.number().integer().required(),
}).description('The refresh token is not here: it is set as the HttpOnly cookie `crm_admin_refresh` on /api/v1/admin/auth');

export const staffSignInSchema = Joi.alternatives(
  Joi.object({ admin: staffSchema.required(), tokens: accessTokens.required() }),
  Joi.object({
    mfaRequired: Joi.boolean().valid(true).required(),
    mfaToken: Joi.string().required().description('Single use, for POST /admin/auth/login/mfa; grants nothing else'),
    expiresIn: Joi.number().integer().required(),
  }),
);

export const staffRefreshSchema = Joi.object({ tokens: accessTokens.required() });

export const staffVerifySchema = Joi.object({
  admin: staffSchema.required(),
  session: Joi.object({ id: Joi.string().guid().required(), expiresAt: Joi.date().allow(null).required() }).required(),
  permissions: Joi.array().items(Joi.string()).required(),
  mfaEnrollmentRequired: Joi.boolean().required(),
});

export const staffSessionSchema = Joi.object({
  id: Joi.string().guid().required(),
  ip: Joi.string().allow(null).required(),
  userAgent: Joi.string().allow(null).required(),
  createdAt: Joi.date().required(),
  lastUsedAt: Joi.date().allow(null).required(),
  expiresAt: Joi.date().required(),
  current: Joi.boolean().required(),
});

const name = Joi.string().trim().min(1).max(100);

export const inviteStaffBody = Joi.object<StaffInvitation>({
  email: Joi.string().trim().lowercase().email({ tlds: { allow: false } }).max(254).required(),
  role: Joi.string().valid(...STAFF_ROLES).required(),
  firstName: name.required(),
  lastName: name.required(),
});

export const updateStaffBody = Joi.object<StaffChanges>({
  role: Joi.string().valid(...STAFF_ROLES),
  status: Joi.string().valid('active', 'disabled'),
})
  .or('role', 'status')
  .required();

export const listStaffQuery = Joi.object<{ role?: StaffRole; status?: StaffStatus }>({
  role: Joi.string().valid(...STAFF_ROLES),
  status: Joi.string().valid('active', 'invited', 'disabled'),
});

export const invitedStaffSchema = staffSchema.keys({
  inviteExpiresAt: Joi.date().required(),
  inviteEmailSent: Joi.boolean().required(),
  inviteToken: Joi.string().description('Only when e-mail is the JSON log (EMAIL_TRANSPORT=json): the code the e-mail carries'),
});
