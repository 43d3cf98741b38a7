import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { withCredentialLookup } from '../../infra/credential-lookup';
import { withTenant } from '../../infra/tenant-scope';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { writeAuditNow } from '../audit/audit-store';
import { queueEmail } from '../notifications/notifications.service';
import { hashPassword } from './passwords';
import { ClientInfo, revokeSessions } from './sessions.service';
import { signInThrottle } from './sign-in-throttle';

const TOKEN_PREFIX = 'prt_';
export const RESET_TTL_MS = 30 * 60_000;
/**
 * Reset requests one address may make per hour, from any IP: past it the answer is the same 202, but no
 * code is made or mailed, so a flood of requests cannot void the code the owner is about to use, nor
 * fill their inbox. Counted for every address, known or not.
 */
export const RESET_REQUESTS = { threshold: 3, windowSeconds: 3600 };

const invalidToken = () => new AppError('UNAUTHORIZED', 'The reset token is invalid, expired or already used');

export function createPasswordResetService({ knex, config }: { knex: Knex; config: AppConfig }) {
  const audit = (client: ClientInfo, userId: string, action: string, subject: string) =>
    writeAuditNow({ actorType: 'user', actorId: userId, ip: client.ip || null, userAgent: client.userAgent ?? null }, [
      { action, resourceType: 'user', resourceId: userId, subject },
    ]);

  const throttle = signInThrottle(knex);

  return {
    /**
     * E-mails a single-use reset token to every active account of that email (in the named tenant, if
     * one is named) whose organization is active. The caller learns nothing: the answer never depends
     * on whether an account matched. Earlier unused tokens of the account stop working. At most
     * RESET_REQUESTS per address and hour are acted on.
     */
    async request(email: string, tenantId: string | undefined, client: ClientInfo): Promise<void> {
      if ((await throttle.count('password_reset', email, RESET_REQUESTS)) > RESET_REQUESTS.threshold) return;
      const accounts = (
        await withCredentialLookup(knex, 'email', email, (trx) =>
          trx('users').where({ email, status: 'active' }).whereNull('deletedAt').select<Array<{ tenantId: string; id: string; email: string }>>('tenantId', 'id', 'email'),
        )
      ).filter((account) => !tenantId || account.tenantId === tenantId);
      for (const account of accounts) {
        await withTenant(knex, account.tenantId, async (trx) => {
          const tenant = await trx('tenants').where({ id: account.tenantId }).first<{ status: string }>('status');
          if (tenant?.status !== 'active') return;
          // Requests are worked after their answers, so two may overlap: one account's take turns, and
          // only the newest code stays usable.
          await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`password-reset:${account.id}`]);
          const token = randomSecret(TOKEN_PREFIX);
          const expiresAt = new Date(Date.now() + RESET_TTL_MS);
          await trx('passwordResetTokens').where({ userId: account.id }).whereNull('usedAt').update({ usedAt: trx.fn.now() });
          await trx('passwordResetTokens').insert({ tenantId: account.tenantId, userId: account.id, tokenHash: sha256Hex(token), expiresAt });
          await queueEmail(config, 'password_reset', { email: account.email, userId: account.id }, { token, expiresAt: expiresAt.toISOString() });
          await audit(client, account.id, 'auth.password_reset_requested', account.email);
        });
      }
    },

    /** Spends the token (one UPDATE: of two concurrent uses one wins), sets the password and ends every session. */
    async reset(token: string, newPassword: string, client: ClientInfo): Promise<void> {
      if (!token.startsWith(TOKEN_PREFIX)) throw invalidToken();
      const hash = sha256Hex(token);
      const found = await withCredentialLookup(knex, 'token', hash, (trx) =>
        trx('passwordResetTokens').where({ tokenHash: hash }).first<{ tenantId: string } | undefined>('tenantId'),
      );
      if (!found) throw invalidToken();
      const passwordHash = await hashPassword(newPassword, config.auth.bcryptCost);
      await withTenant(knex, found.tenantId, async (trx) => {
        const [spent] = (await trx('passwordResetTokens')
          .where({ tokenHash: hash })
          .whereNull('usedAt')
          .where('expiresAt', '>', trx.fn.now())
          .update({ usedAt: trx.fn.now() })
          .returning('userId')) as Array<{ userId: string }>;
        if (!spent) throw invalidToken();
        const [user] = (await trx('users')
          .where({ id: spent.userId, status: 'active' })
          .whereNull('deletedAt')
          .update({ passwordHash, passwordChangedAt: trx.fn.now() })
          .returning(['id', 'email'])) as Array<{ id: string; email: string }>;
        if (!user) throw invalidToken();
        await revokeSessions({ userId: user.id }, 'password_reset');
        // The owner proved the mailbox: a lockout that guessing caused ends with the new password.
        await throttle.clear('user_login', user.email);
        await audit(client, user.id, 'auth.password_reset', user.email);
      });
    },
  };
}
