import { createHash, createSecretKey, KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError } from '../../lib/errors';
import { jwtSecretKeys } from '../../lib/jwt-keys';

export const TENANT_AUDIENCE = 'crm-api';
export const PLATFORM_AUDIENCE = 'crm-admin';
/** The step between password and code at a tenant user's sign-in: good for nothing else. */
export const MFA_AUDIENCE = 'crm-mfa';
const ALGORITHM = 'HS256';

export interface JwtSettings {
  /** JWT_SECRET: one key, or several comma-separated, the current (signing) one first. */
  secret: string;
  issuer: string;
  accessTtlSeconds: number;
}

export interface TenantClaims {
  sub: string;
  tenantId: string;
  role: string;
  sid: string;
  jti: string;
  exp: number;
  /** The platform admin acting as this user, for support sessions. */
  imp?: string;
}

export interface PlatformClaims {
  sub: string;
  role: string;
  /** The staff session; signing out or disabling the account revokes it, and the token with it. */
  sid: string;
  jti: string;
  exp: number;
}

export function signTenantToken(
  settings: JwtSettings,
  claims: { userId: string; tenantId: string; role: string; sessionId: string; impersonatorId?: string },
): { token: string; jti: string; expiresIn: number } {
  const jti = randomUUID();
  const payload = { tenantId: claims.tenantId, role: claims.role, sid: claims.sessionId, ...(claims.impersonatorId ? { imp: claims.impersonatorId } : {}) };
  const signing = signingKeyOf(settings.secret);
  const token = jwt.sign(payload, signing.key, {
    algorithm: ALGORITHM,
    keyid: signing.kid,
    subject: claims.userId,
    audience: TENANT_AUDIENCE,
    issuer: settings.issuer,
    expiresIn: settings.accessTtlSeconds,
    jwtid: jti,
  });
  return { token, jti, expiresIn: settings.accessTtlSeconds };
}

export function signPlatformToken(
  settings: JwtSettings,
  claims: { adminId: string; role: string; sessionId: string },
): { token: string; expiresIn: number } {
  const signing = signingKeyOf(settings.secret);
  const token = jwt.sign({ role: claims.role, sid: claims.sessionId }, signing.key, {
    algorithm: ALGORITHM,
    keyid: signing.kid,
    subject: claims.adminId,
    audience: PLATFORM_AUDIENCE,
    issuer: settings.issuer,
    expiresIn: settings.accessTtlSeconds,
    jwtid: randomUUID(),
  });
  return { token, expiresIn: settings.accessTtlSeconds };
}

/** The audience a token claims, read without trusting it, to route it to the right verifier. */
export function claimedAudience(token: string): string | undefined {
  const decoded = jwt.decode(token, { json: true });
  const aud = decoded?.aud;
  return typeof aud === 'string' ? aud : undefined;
}

interface SigningKey {
  /** Names the key in a token's header without revealing it: the first 16 hex digits of its SHA-256. */
  kid: string;
  key: KeyObject;
}

/**
 * The keys JWT_SECRET holds, current first. Rotation: put the new key first and keep the old one after it
 * for a token lifetime; tokens signed with the old key verify until they expire, new ones use the new key,
 * so nobody is signed out. Made once per setting: jsonwebtoken would otherwise turn a string secret into a
 * key on every verify (first trying it as a public key), a tenth of a list request's CPU.
 */
const keyrings = new Map<string, SigningKey[]>();
export function keyringOf(secret: string): SigningKey[] {
  let ring = keyrings.get(secret);
  if (!ring) {
    ring = jwtSecretKeys(secret).map((key) => ({
      kid: createHash('sha256').update(key).digest('hex').slice(0, 16),
      key: createSecretKey(Buffer.from(key, 'utf8')),
    }));
    keyrings.set(secret, ring);
  }
  return ring;
}

const signingKeyOf = (secret: string): SigningKey => keyringOf(secret)[0]!;

/** The key a token names (`kid`); a token from before key ids (no `kid`) is checked against the current key. */
function verifyKeyOf(secret: string, token: string): KeyObject | undefined {
  const ring = keyringOf(secret);
  const kid = jwt.decode(token, { complete: true })?.header.kid;
  return kid === undefined ? ring[0]!.key : ring.find((candidate) => candidate.kid === kid)?.key;
}

/**
 * Verifies signature, algorithm (pinned: `alg: none` and algorithm swaps are refused), audience,
 * issuer and expiry. An expired token is TOKEN_EXPIRED; anything else wrong is UNAUTHORIZED.
 */
export function verifyToken<T extends TenantClaims | PlatformClaims | MfaChallengeClaims>(settings: JwtSettings, token: string, audience: string): T {
  try {
    const key = verifyKeyOf(settings.secret, token);
    if (!key) throw new Error('unknown key id');
    const claims = jwt.verify(token, key, {
      algorithms: [ALGORITHM],
      audience,
      issuer: settings.issuer,
    }) as jwt.JwtPayload;
    if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string') throw new Error('missing claims');
    return claims as unknown as T;
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError) throw new AppError('TOKEN_EXPIRED', 'The access token has expired');
    throw new AppError('UNAUTHORIZED', 'The access token is invalid');
  }
}

export interface MfaChallengeClaims {
  sub: string;
  tenantId: string;
  /** The challenge row: single use. */
  jti: string;
  exp: number;
}

/** The `mfaToken` of a tenant user's sign-in: names the tenant, the user and the challenge; verified like any token. */
export function signMfaToken(settings: JwtSettings, claims: { userId: string; tenantId: string; challengeId: string; ttlSeconds: number }): string {
  const signing = signingKeyOf(settings.secret);
  return jwt.sign({ tenantId: claims.tenantId }, signing.key, {
    algorithm: ALGORITHM,
    keyid: signing.kid,
    subject: claims.userId,
    audience: MFA_AUDIENCE,
    issuer: settings.issuer,
    expiresIn: claims.ttlSeconds,
    jwtid: claims.challengeId,
  });
}
