import { createSecretKey, KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError } from '../../lib/errors';

export const TENANT_AUDIENCE = 'crm-api';
export const PLATFORM_AUDIENCE = 'crm-admin';
/** The step between password and code at a tenant user's sign-in: good for nothing else. */
export const MFA_AUDIENCE = 'crm-mfa';
const ALGORITHM = 'HS256';

export interface JwtSettings {
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
  const token = jwt.sign(payload, settings.secret, {
    algorithm: ALGORITHM,
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
  const token = jwt.sign({ role: claims.role, sid: claims.sessionId }, settings.secret, {
    algorithm: ALGORITHM,
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

/**
 * jsonwebtoken turns a string secret into a key on every verify, first trying it as a public key, which
 * cost a tenth of a list request's CPU: the key is made once per secret instead.
 */
const verifyKeys = new Map<string, KeyObject>();
function verifyKeyOf(secret: string): KeyObject {
  let key = verifyKeys.get(secret);
  if (!key) verifyKeys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
}

/**
 * Verifies signature, algorithm (pinned: `alg: none` and algorithm swaps are refused), audience,
 * issuer and expiry. An expired token is TOKEN_EXPIRED; anything else wrong is UNAUTHORIZED.
 */
export function verifyToken<T extends TenantClaims | PlatformClaims | MfaChallengeClaims>(settings: JwtSettings, token: string, audience: string): T {
  try {
    const claims = jwt.verify(token, verifyKeyOf(settings.secret), {
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
  return jwt.sign({ tenantId: claims.tenantId }, settings.secret, {
    algorithm: ALGORITHM,
    subject: claims.userId,
    audience: MFA_AUDIENCE,
    issuer: settings.issuer,
    expiresIn: claims.ttlSeconds,
    jwtid: claims.challengeId,
  });
}
