import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { tenantScope, withTenant } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { writeAuditNow } from '../audit/audit-store';
import { rowContext } from '../credentials/credential-crypto';
import { recordEvent } from '../events/event-context';
import { announcePrincipalChange } from './principal-revocation';
import { MFA_AUDIENCE, MfaChallengeClaims, signMfaToken, verifyToken } from './access-tokens';
import { UserPrincipal } from './principal';
import { ClientInfo, revokeSessions } from './sessions.service';
import { createTotpFactors, SecondFactor } from './totp-factors';

/** Long enough to open an authenticator app, short enough that a stolen password step is worth little. */
const CHALLENGE_SECONDS = 300;
/** Wrong codes one challenge takes before it is spent; the login rate limit counts every try as well. */
const CHALLENGE_ATTEMPTS = 5;

const badChallenge = () => new AppError('UNAUTHORIZED', 'The code is wrong, or the sign-in step expired: sign in again');

/**
 * TOTP for tenant users: enrolment on one's own account, and the second sign-in step. The state lives in
 * the user's tenant (users' mfa_* columns, user_recovery_codes, user_mfa_challenges) under row-level security.
 */
export function createUserMfa(knex: Knex, config: AppConfig) {
  const factors = createTotpFactors(config, {
    accounts: 'users',
    recoveryCodes: 'userRecoveryCodes',
    owner: 'userId',
    hash: 'secretHash',
    rowDefaults: () => ({ tenantId: tenantScope().tenantId }),
    contextOf: (userId) => rowContext('users', tenantScope().tenantId, userId),
  });

  return {
    /** After a right password, in the user's tenant scope: the challenge a code must answer. */
    async challenge(userId: string): Promise<{ mfaRequired: true; mfaToken: string; expiresIn: number }> {
      const { trx, tenantId } = tenantScope();
      const challengeId = randomUUID();
      await trx('userMfaChallenges').insert({ tenantId, id: challengeId, userId, expiresAt: new Date(Date.now() + CHALLENGE_SECONDS * 1000) });
      return { mfaRequired: true, mfaToken: signMfaToken(config.jwt, { userId, tenantId, challengeId, ttlSeconds: CHALLENGE_SECONDS }), expiresIn: CHALLENGE_SECONDS };
    },

    /**
     * The second step: the challenge is spent by a right factor; a wrong one is counted (committed even
     * though the caller gets a 401). Answers the user's tenant and id once the factor is right; `complete`
     * then signs them in within the same transaction.
     */
    async answer<T>(mfaToken: string, factor: SecondFactor, client: ClientInfo, complete: (userId: string) => Promise<T>): Promise<T> {
      let claims: MfaChallengeClaims;
      try {
        claims = verifyToken<MfaChallengeClaims>(config.jwt, mfaToken, MFA_AUDIENCE);
      } catch {
        throw badChallenge();
      }
      const outcome = await withTenant(knex, claims.tenantId, async (trx) => {
        const challenge = await trx('userMfaChallenges')
          .where({ tenantId: claims.tenantId, id: claims.jti, userId: claims.sub })
          .whereNull('usedAt')
          .where('expiresAt', '>', trx.fn.now())
          .where('failedAttempts', '<', CHALLENGE_ATTEMPTS)
          .forUpdate()
          .first<{ id: string } | undefined>('id');
        if (!challenge) return { refused: badChallenge() };
        if (!(await factors.verify(trx, claims.sub, factor))) {
          await trx('userMfaChallenges').where({ tenantId: claims.tenantId, id: challenge.id }).increment('failedAttempts', 1);
          await writeAuditNow({ actorType: 'user', actorId: null, ip: client.ip || null, userAgent: client.userAgent ?? null }, [
            { action: 'auth.login_mfa_failed', resourceType: 'user', resourceId: claims.sub, result: 'failure', errorCode: 'UNAUTHORIZED' },
          ]);
          return { refused: badChallenge() };
        }
        await trx('userMfaChallenges').where({ tenantId: claims.tenantId, id: challenge.id }).update({ usedAt: new Date() });
        return { done: await complete(claims.sub) };
      });
      if ('refused' in outcome) throw outcome.refused;
      return outcome.done;
    },

    setup: (principal: UserPrincipal) => factors.setup(tenantScope().trx, principal.userId),

    async enable(principal: UserPrincipal, code: string) {
      const codes = await factors.enable(tenantScope().trx, principal.userId, code);
      recordEvent({ type: 'auth.mfa_changed', userId: principal.userId, enabled: true, sessionsRevoked: 0 });
      // Where the organization requires MFA, the user's other routes open now, on every instance.
      announcePrincipalChange({ userId: principal.userId });
      return codes;
    },

    /** Turning MFA off ends every other session of the user: they were opened under the second factor. */
    async disable(principal: UserPrincipal, code: string): Promise<void> {
      await factors.disable(tenantScope().trx, principal.userId, code);
      const revoked = await revokeSessions({ userId: principal.userId, exceptSessionId: principal.sessionId }, 'mfa_disabled');
      recordEvent({ type: 'auth.mfa_changed', userId: principal.userId, enabled: false, sessionsRevoked: revoked });
    },
  };
}
