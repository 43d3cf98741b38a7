import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

/** A random secret with a readable prefix, e.g. `crm_live_...`; 32 bytes of entropy. */
export const randomSecret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;

export function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Whether an Authorization header carries exactly `token` as a bearer token (compared in constant time). */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  return typeof header === 'string' && constantTimeEquals(header.replace(/^Bearer\s+/i, ''), token);
}
