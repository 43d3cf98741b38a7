import Joi from 'joi';
import { creationPageQuery, Page } from '../../lib/pagination';
import { passwordSchema } from '../auth/passwords';
import type { UserStatus } from './user.model';
import type { UserChanges, UserDraft } from './users.service';

const name = Joi.string().trim().min(1).max(100);
/** A system role key (tenant_admin, ...), or a custom role's id or name. */
const role = Joi.string().trim().min(1).max(100);
const teamId = Joi.string().uuid();

export const listUsersQuery = Joi.object<Page & { status?: UserStatus }>({
  ...creationPageQuery,
  status: Joi.string().valid('active', 'invited', 'disabled'),
});

export const createUserBody = Joi.object<UserDraft>({
  email: Joi.string().trim().lowercase().email().max(254).required(),
  firstName: name.required(),
  lastName: name.required(),
  role: role.required(),
  password: passwordSchema,
  teamId,
});

export const updateUserBody = Joi.object<UserChanges>({
  role,
  status: Joi.string().valid('active', 'disabled'),
  firstName: name,
  lastName: name,
  teamId: teamId.allow(null),
}).min(1);

export const userParams = Joi.object<{ id: string }>({ id: Joi.string().uuid().required() });

export const acceptInviteBody = Joi.object<{ token: string; password: string }>({
  token: Joi.string().max(200).required(),
  password: passwordSchema.required(),
});
