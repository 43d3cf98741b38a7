import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { sha256Hex } from '../../lib/crypto';

/** RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second steps. */
const PERIOD = 30;
/** One step either side: a phone clock off by up to 30 s still signs in. */
const SKEW_STEPS = 1;
const ISSUER = 'CRM';
const RECOVERY_CODES = 10;

const totpOf = (secretBase32: string, label = 'account') =>
  new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secretBase32) });

/** A new 160-bit secret (RFC 4226's recommended length), in base32 as apps take it. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The `otpauth://totp/...` URL an authenticator app scans as a QR code. */
export const otpauthUrl = (secretBase32: string, label: string): string => totpOf(secretBase32, label).toString();

/**
 * The time step a code belongs to, when it is right within the allowed skew; undefined otherwise. The
 * caller refuses a step at or before the last one it accepted, so a code works once.
 */
export function acceptedStep(secretBase32: string, code: string, now = Date.now()): number | undefined {
  const delta = totpOf(secretBase32).validate({ token: code, timestamp: now, window: SKEW_STEPS });
  if (delta === null) return undefined;
  return Math.floor(now / 1000 / PERIOD) + delta;
}

/** Ten single-use recovery codes (`xxxxx-xxxxx`, 40 random bits each), shown once; only their hashes are kept. */
export function newRecoveryCodes(): Array<{ code: string; hash: string }> {
  return Array.from({ length: RECOVERY_CODES }, () => {
    const raw = randomBytes(7).toString('hex').slice(0, 10);
    const code = `${raw.slice(0, 5)}-${raw.slice(5)}`;
    return { code, hash: recoveryCodeHash(code) };
  });
}

/** Codes are random, so a plain hash is enough; case and dashes are forgiven as a user types them. */
export const recoveryCodeHash = (code: string): string => sha256Hex(code.toLowerCase().replace(/[^0-9a-f]/g, ''));
