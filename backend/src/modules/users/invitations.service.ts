import { Knex } from 'knex';
import { withCredentialLookup } from '../../infra/credential-lookup';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { User } from './user.model';

const INVITE_PREFIX = 'inv_';

/** A one-time token to hand to the invitee once; only its hash and expiry are stored. */
export function newInvitation(ttlSeconds: number) {
  const token = randomSecret(INVITE_PREFIX);
  return { token, inviteTokenHash: sha256Hex(token), inviteExpiresAt: new Date(Date.now() + ttlSeconds * 1000) };
}

/** The tenant an invitation belongs to: the token is all the invitee presents, before any tenant is bound. */
export async function invitationTenant(knex: Knex, token: string): Promise<string | undefined> {
  if (!token.startsWith(INVITE_PREFIX)) return undefined;
  const hash = sha256Hex(token);
  const row = await withCredentialLookup(knex, 'token', hash, (trx) =>
    trx('users').where({ inviteTokenHash: hash }).first<{ tenantId: string } | undefined>('tenantId'),
  );
  return row?.tenantId;
}

/**
 * Spends an invitation of the current tenant scope and activates its user. One UPDATE that matches only
 * a pending, unexpired invitation, so of two concurrent accepts one wins. Returns the user's id.
 */
export async function acceptInvitation(token: string, passwordHash: string): Promise<string | undefined> {
  const now = new Date();
  const [user] = await User.query()
    .where({ inviteTokenHash: sha256Hex(token), status: 'invited' })
    .whereNull('deletedAt')
    .where('inviteExpiresAt', '>', now)
    .patch({ passwordHash, status: 'active', inviteTokenHash: null, inviteExpiresAt: null, passwordChangedAt: now, lastLoginAt: now })
    .returning('id');
  return user?.id;
}
