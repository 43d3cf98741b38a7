import Joi from 'joi';
import type { SecondFactor } from './totp-factors';

/** TOTP enrolment and the second sign-in step, for staff and tenant users alike. */
const totpCode = Joi.string().trim().pattern(/^\d{6}$/).messages({ 'string.pattern.base': '{{#label}} must be the 6 digits the authenticator app shows' });
const recoveryCode = Joi.string().trim().min(10).max(32);

/**
 * The second step: the challenge and either a TOTP code or a recovery code, never both. Its value is the
 * union the services take; the third type argument names the keys, which the union alone would not.
 */
export const loginMfaBody = Joi.object<{ mfaToken: string } & SecondFactor, false, Record<'mfaToken' | 'code' | 'recoveryCode', unknown>>({
  mfaToken: Joi.string().max(2000).required(),
  code: totpCode,
  recoveryCode,
}).xor('code', 'recoveryCode');

export const mfaCodeBody = Joi.object<{ code: string }>({ code: totpCode.required() });

export const mfaSetupSchema = Joi.object({
  secret: Joi.string().required().description('Base32, for typing into an authenticator app'),
  otpauthUrl: Joi.string().required().description('otpauth://totp/... for a QR code'),
});

export const recoveryCodesSchema = Joi.object({
  recoveryCodes: Joi.array().items(Joi.string()).length(10).required().description('Single use each; shown only now'),
});
