import Joi from 'joi';

export const adminLoginBody = Joi.object({
  email: Joi.string().trim().lowercase().email().max(254).required(),
  // No policy here: a login must not reveal the policy, only whether the password is right.
  password: Joi.string().min(1).max(1024).required(),
});
