import { serialize } from 'cookie';
import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { signPlatformToken } from '../auth/access-tokens';

const REFRESH_PREFIX = 'art_';
export const STAFF_REFRESH_COOKIE = 'crm_admin_refresh';
/** The cookie goes only to the staff sign-in routes, never to tenant routes or the rest of the console. */
const COOKIE_PATH = '/api/v1/admin/auth';

export const staffRefreshCookie = (token: string, maxAgeSeconds: number): string =>
  serialize(STAFF_REFRESH_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'strict', path: COOKIE_PATH, maxAge: maxAgeSeconds });

export const clearedStaffRefreshCookie = (): string =>
  serialize(STAFF_REFRESH_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'strict', path: COOKIE_PATH, maxAge: 0 });

export interface StaffClient {
  ip: string;
  userAgent?: string;
}

export interface StaffTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export const refreshFailure = (): AppError => new AppError('UNAUTHORIZED', 'The refresh token is invalid, expired or revoked');

async function issueRefreshToken(trx: Knex | Knex.Transaction, sessionId: string, expiresAt: Date): Promise<{ token: string; id: string }> {
  const token = randomSecret(REFRESH_PREFIX);
  const [row] = await trx('platformAdminRefreshTokens').insert({ sessionId, tokenHash: sha256Hex(token), expiresAt }).returning<Array<{ id: string }>>('id');
  return { token, id: row!.id };
}

const tokensOf = (config: AppConfig, admin: { id: string; role: string }, sessionId: string, refreshToken: string): StaffTokens => {
  const access = signPlatformToken(config.jwt, { adminId: admin.id, role: admin.role, sessionId });
  return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresIn: access.expiresIn };
};

/** A sign-in: a session (one refresh-token family) and its first token pair. */
export async function openStaffSession(
  trx: Knex | Knex.Transaction,
  config: AppConfig,
  admin: { id: string; role: string },
  client: StaffClient,
): Promise<{ sessionId: string; tokens: StaffTokens }> {
  const expiresAt = new Date(Date.now() + config.jwt.refreshTtlSeconds * 1000);
  const [session] = await trx('platformAdminSessions')
    .insert({ adminId: admin.id, ip: client.ip || null, userAgent: client.userAgent?.slice(0, 500) ?? null, lastUsedAt: new Date(), expiresAt })
    .returning<Array<{ id: string }>>('id');
  const refresh = await issueRefreshToken(trx, session!.id, expiresAt);
  return { sessionId: session!.id, tokens: tokensOf(config, admin, session!.id, refresh.token) };
}

export type StaffRotation =
  | { outcome: 'rotated'; adminId: string; sessionId: string; tokens: StaffTokens }
  | { outcome: 'reused'; adminId: string; sessionId: string }
  | { outcome: 'invalid' };

/**
 * Spends a refresh token and issues its successor, as for tenant users: a token presented twice means
 * it leaked (RFC 9700 reuse detection), and its whole session is revoked. The caller commits either way.
 */
export async function rotateStaffRefreshToken(trx: Knex.Transaction, config: AppConfig, token: string): Promise<StaffRotation> {
  if (!token.startsWith(REFRESH_PREFIX) || token.length > 200) return { outcome: 'invalid' };
  const current = await trx('platformAdminRefreshTokens as r')
    .join('platformAdminSessions as s', 's.id', 'r.sessionId')
    .join('platformAdmins as a', 'a.id', 's.adminId')
    .where('r.tokenHash', sha256Hex(token))
    .forUpdate()
    .first<
      | { id: string; sessionId: string; usedAt: Date | null; expiresAt: Date; adminId: string; role: string; status: string; revokedAt: Date | null; sessionExpiresAt: Date }
      | undefined
    >('r.id', 'r.sessionId', 'r.usedAt', 'r.expiresAt', 'a.id as adminId', 'a.role', 'a.status', 's.revokedAt', 's.expiresAt as sessionExpiresAt');
  const now = new Date();
  if (!current || current.revokedAt || current.status !== 'active' || current.expiresAt <= now || current.sessionExpiresAt <= now) {
    return { outcome: 'invalid' };
  }
  if (current.usedAt) {
    await revokeStaffSessions(trx, { sessionId: current.sessionId }, 'refresh_token_reuse');
    return { outcome: 'reused', adminId: current.adminId, sessionId: current.sessionId };
  }
  const successor = await issueRefreshToken(trx, current.sessionId, current.sessionExpiresAt);
  await trx('platformAdminRefreshTokens').where({ id: current.id }).update({ usedAt: now, replacedById: successor.id });
  await trx('platformAdminSessions').where({ id: current.sessionId }).update({ lastUsedAt: now });
  return {
    outcome: 'rotated',
    adminId: current.adminId,
    sessionId: current.sessionId,
    tokens: tokensOf(config, { id: current.adminId, role: current.role }, current.sessionId, successor.token),
  };
}

/** Ends one session or all of an admin's: their access tokens stop at the next request (the principal checks the session). */
export async function revokeStaffSessions(
  trx: Knex | Knex.Transaction,
  target: { sessionId: string } | { adminId: string },
  reason: string,
): Promise<number> {
  return trx('platformAdminSessions')
    .where('sessionId' in target ? { id: target.sessionId } : { adminId: target.adminId })
    .whereNull('revokedAt')
    .update({ revokedAt: new Date(), revokedReason: reason });
}

/** An admin's live sessions, newest first. */
export async function liveStaffSessions(knex: Knex, adminId: string) {
  return knex('platformAdminSessions')
    .where({ adminId })
    .whereNull('revokedAt')
    .where('expiresAt', '>', knex.fn.now())
    .orderBy([{ column: 'createdAt', order: 'desc' }, { column: 'id', order: 'desc' }])
    .select<Array<{ id: string; ip: string | null; userAgent: string | null; createdAt: Date; lastUsedAt: Date | null; expiresAt: Date }>>(
      'id',
      'ip',
      'userAgent',
      'createdAt',
      'lastUsedAt',
      'expiresAt',
    );
}
