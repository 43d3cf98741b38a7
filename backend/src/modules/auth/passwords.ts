import bcrypt from 'bcryptjs';
import Joi from 'joi';

/** bcrypt reads at most 72 bytes: a longer password would be silently truncated, so it is refused. */
const MAX_PASSWORD_BYTES = 72;

export const passwordSchema = Joi.string()
  .min(8)
  .max(MAX_PASSWORD_BYTES)
  .pattern(/[a-z]/, 'lowercase')
  .pattern(/[A-Z]/, 'uppercase')
  .pattern(/\d/, 'digit')
  .example('Str0ng-Passw0rd')
  .custom((value: string, helpers) =>
    Buffer.byteLength(value, 'utf8') > MAX_PASSWORD_BYTES ? helpers.error('password.bytes') : value,
  )
  .messages({
    'string.pattern.name': '{{#label}} must contain at least one {{#name}} character',
    'password.bytes': `{{#label}} must be at most ${MAX_PASSWORD_BYTES} bytes`,
  });

export const hashPassword = (password: string, cost: number): Promise<string> => bcrypt.hash(password, cost);

const dummyHashes = new Map<number, string>();

/**
 * Compares in the same time whether or not there is a hash: unknown emails and password-less
 * (invited) users cost a bcrypt comparison too, so timing does not tell them apart.
 */
export async function verifyPassword(password: string, hash: string | null | undefined, cost: number): Promise<boolean> {
  if (hash) return bcrypt.compare(password, hash);
  let dummy = dummyHashes.get(cost);
  if (!dummy) {
    dummy = await bcrypt.hash('not-a-real-password', cost);
    dummyHashes.set(cost, dummy);
  }
  await bcrypt.compare(password, dummy);
  return false;
}
