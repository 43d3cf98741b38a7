import { Knex } from 'knex';
import { withCredentialLookup } from '../../infra/credential-lookup';
import { withTenant } from '../../infra/tenant-scope';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { AppError, notFound } from '../../lib/errors';
import { writeAuditNow } from '../audit/audit-store';
import { announcePrincipalChange } from './principal-revocation';
import { RefreshToken, RevokedAccessToken, Session } from './session.model';

const REFRESH_PREFIX = 'rt_';

export interface ClientInfo {
  ip: string;
  userAgent?: string;
}

/** Opens a session (a refresh-token family) for a user of the current tenant scope. */
export async function openSession(userId: string, client: ClientInfo, ttlSeconds: number): Promise<{ sessionId: string; refreshToken: string }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const session = await Session.query().insert({
    userId,
    ip: client.ip || null,
    userAgent: client.userAgent?.slice(0, 500) ?? null,
    lastUsedAt: new Date(),
    expiresAt,
  });
  const { token } = await issueRefreshToken(session.id, userId, expiresAt);
  return { sessionId: session.id, refreshToken: token };
}

async function issueRefreshToken(sessionId: string, userId: string, expiresAt: Date): Promise<{ token: string; id: string }> {
  const token = randomSecret(REFRESH_PREFIX);
  const row = await RefreshToken.query().insert({ sessionId, userId, tokenHash: sha256Hex(token), expiresAt });
  return { token, id: row.id };
}

export type RotationResult =
  | { outcome: 'rotated'; tenantId: string; userId: string; sessionId: string; refreshToken: string }
  | { outcome: 'reused' | 'invalid' };

/**
 * Spends a refresh token and issues its successor in the same family. A token presented a second time
 * means it leaked (RFC 9700 reuse detection): the whole family is revoked, and that is committed even
 * though the caller gets a 401.
 */
export async function rotateRefreshToken(knex: Knex, token: string): Promise<RotationResult> {
  if (!token.startsWith(REFRESH_PREFIX) || token.length > 200) return { outcome: 'invalid' };
  const hash = sha256Hex(token);
  const found = await withCredentialLookup(knex, 'token', hash, (trx) =>
    trx('refreshTokens').where({ tokenHash: hash }).first<{ tenantId: string } | undefined>('tenantId'),
  );
  if (!found) return { outcome: 'invalid' };

  return withTenant(knex, found.tenantId, async () => {
    const current = await RefreshToken.query().where({ tokenHash: hash }).forUpdate().first();
    if (!current) return { outcome: 'invalid' } as const;
    const session = await Session.query().findById(current.sessionId).forUpdate();
    if (!session || session.revokedAt || session.expiresAt <= new Date() || current.expiresAt <= new Date()) {
      return { outcome: 'invalid' } as const;
    }
    if (current.usedAt) {
      await revokeSessions({ sessionId: session.id }, 'refresh_token_reuse');
      await writeAuditNow({ actorType: 'system', actorId: null }, [
        { action: 'auth.refresh_reuse_detected', resourceType: 'session', resourceId: session.id, result: 'failure', errorCode: 'UNAUTHORIZED' },
      ]);
      return { outcome: 'reused' } as const;
    }
    const successor = await issueRefreshToken(session.id, session.userId, session.expiresAt);
    await RefreshToken.query().findById(current.id).patch({ usedAt: new Date(), replacedById: successor.id });
    await Session.query().findById(session.id).patch({ lastUsedAt: new Date() });
    return {
      outcome: 'rotated',
      tenantId: found.tenantId,
      userId: session.userId,
      sessionId: session.id,
      refreshToken: successor.token,
    } as const;
  });
}

/**
 * Revokes one session, or every session of a user (optionally but one): their refresh tokens die with
 * them, and every instance stops accepting their access tokens once this commits.
 */
export async function revokeSessions(
  target: { sessionId: string } | { userId: string; exceptSessionId?: string },
  reason: string,
): Promise<number> {
  const query = Session.query().whereNull('revokedAt');
  if ('sessionId' in target) query.where('id', target.sessionId);
  else {
    query.where('userId', target.userId);
    if (target.exceptSessionId) query.whereNot('id', target.exceptSessionId);
  }
  announcePrincipalChange('sessionId' in target ? { sessionId: target.sessionId } : { userId: target.userId });
  return query.patch({ revokedAt: new Date(), revokedReason: reason });
}

/** The access token stops working at once, not when it expires. */
export async function denylistAccessToken(jti: string, userId: string, expiresAtSeconds: number): Promise<void> {
  await RevokedAccessToken.query()
    .insert({ jti, userId, expiresAt: new Date(expiresAtSeconds * 1000) })
    .onConflict(['tenantId', 'jti'])
    .ignore();
  announcePrincipalChange({ userId });
}

export async function listActiveSessions(userId: string): Promise<Session[]> {
  return Session.query()
    .where({ userId })
    .whereNull('revokedAt')
    .where('expiresAt', '>', new Date())
    .orderBy([{ column: 'createdAt', order: 'desc' }, { column: 'id', order: 'desc' }]);
}

export async function revokeOwnSession(userId: string, sessionId: string): Promise<void> {
  const session = await Session.query().findById(sessionId).where({ userId }).whereNull('revokedAt');
  if (!session) throw notFound('Session');
  await revokeSessions({ sessionId }, 'signed_out_remotely');
}

export const refreshFailure = (): AppError => new AppError('UNAUTHORIZED', 'The refresh token is invalid, expired or revoked');
