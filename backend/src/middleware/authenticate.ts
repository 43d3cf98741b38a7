import { RequestHandler } from 'express';
import { Knex } from 'knex';
import { withCredentialLookup } from '../infra/credential-lookup';
import { sha256Hex } from '../lib/crypto';
import { AppError } from '../lib/errors';
import {
  claimedAudience,
  JwtSettings,
  PLATFORM_AUDIENCE,
  PlatformClaims,
  TENANT_AUDIENCE,
  TenantClaims,
  verifyToken,
} from '../modules/auth/access-tokens';
import { API_KEY_PREFIX } from '../modules/api-keys/api-key-format';
import { Credential } from '../modules/auth/principal';
import { principalCacheOf } from '../modules/auth/principal-revocation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Link 6, on every non-public route: reads a bearer JWT (tenant or platform audience) or an API key
 * (`Authorization: Bearer crm_live_...` or `X-API-Key`) into res.locals.credential. The token's tenant
 * is the truth: a request naming another tenant is 403 TENANT_MISMATCH. Revocation, user status and
 * permissions are checked later, with the request's transaction (principal.service.ts). An API key's
 * hash is looked up once per instance cache lifetime (principal-cache.ts), not on every request.
 * A failed authentication is charged to the client IP's anonymous budget (`chargeFailure`).
 */
export function authenticate(knex: Knex, jwtSettings: JwtSettings, chargeFailure: RequestHandler): RequestHandler {
  return async (req, res, next) => {
    try {
      const credential = await readCredential(knex, jwtSettings, req.get('authorization'), req.get('x-api-key'));
      const requested = res.locals.requestedTenantId as string | undefined;
      if (requested && 'tenantId' in credential && credential.tenantId !== requested) {
        throw new AppError('TENANT_MISMATCH', 'The request names a different tenant than its credentials');
      }
      res.locals.credential = credential;
      next();
    } catch (error) {
      // Credentials skip the anonymous IP budget; failed ones are charged to it, so guessing keys is limited too.
      if (error instanceof AppError && error.status === 401) chargeFailure(req, res, (limited?: unknown) => next(limited ?? error));
      else next(error);
    }
  };
}

/** The credential a request's headers carry (401 when none or a bad one); also read by the tenant's OpenAPI document. */
export async function readCredential(
  knex: Knex,
  jwtSettings: JwtSettings,
  authorization: string | undefined,
  apiKeyHeader: string | undefined,
): Promise<Credential> {
  if (apiKeyHeader !== undefined) return apiKeyCredential(knex, apiKeyHeader);
  if (!authorization) throw new AppError('UNAUTHORIZED', 'Authentication is required');
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match?.[1]) throw new AppError('UNAUTHORIZED', 'Use an "Authorization: Bearer <token>" header');
  const token = match[1];
  if (token.startsWith(API_KEY_PREFIX)) return apiKeyCredential(knex, token);

  if (claimedAudience(token) === PLATFORM_AUDIENCE) {
    const claims = verifyToken<PlatformClaims>(jwtSettings, token, PLATFORM_AUDIENCE);
    if (![claims.sub, claims.sid].every((id) => typeof id === 'string' && UUID.test(id))) {
      throw new AppError('UNAUTHORIZED', 'The access token is invalid');
    }
    return { kind: 'platform_admin', adminId: claims.sub, sessionId: claims.sid };
  }
  const claims = verifyToken<TenantClaims>(jwtSettings, token, TENANT_AUDIENCE);
  // Ids this server issued; anything else is not one of its tokens (and never reaches a query or a cache key).
  if (![claims.tenantId, claims.sid, claims.sub, claims.jti].every((id) => typeof id === 'string' && UUID.test(id))) {
    throw new AppError('UNAUTHORIZED', 'The access token is invalid');
  }
  if (claims.imp !== undefined && !(typeof claims.imp === 'string' && UUID.test(claims.imp))) {
    throw new AppError('UNAUTHORIZED', 'The access token is invalid');
  }
  return {
    kind: 'user',
    tenantId: claims.tenantId,
    userId: claims.sub,
    sessionId: claims.sid,
    jti: claims.jti,
    exp: claims.exp,
    ...(claims.imp ? { impersonatorId: claims.imp } : {}),
  };
}

async function apiKeyCredential(knex: Knex, key: string): Promise<Credential> {
  const invalid = new AppError('UNAUTHORIZED', 'The API key is invalid, expired or revoked');
  if (!key.startsWith(API_KEY_PREFIX) || key.length > 200) throw invalid;
  const hash = sha256Hex(key);
  const cache = principalCacheOf(knex);
  const cached = cache?.apiKey(hash);
  if (cached) return cached;
  const generation = cache?.generation ?? 0;
  const row = await withCredentialLookup(knex, 'token', hash, (trx) =>
    trx('apiKeys')
      .where({ keyHash: hash })
      .whereNull('revokedAt')
      .where((q) => q.whereNull('expiresAt').orWhere('expiresAt', '>', trx.fn.now()))
      .first<{ tenantId: string; id: string; expiresAt: Date | null } | undefined>('tenantId', 'id', 'expiresAt'),
  );
  if (!row) throw invalid;
  const credential = { kind: 'api_key', tenantId: row.tenantId, apiKeyId: row.id } as const;
  cache?.putApiKey(hash, credential, row.expiresAt, generation);
  return credential;
}
