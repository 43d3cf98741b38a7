import { Knex } from 'knex';
import { sha256Hex } from '../../lib/crypto';
import { AppError } from '../../lib/errors';

/** What a budget counts: tenant sign-ins, staff sign-ins, password-reset requests. */
export type ThrottleScope = 'user_login' | 'staff_login' | 'password_reset';

export interface ThrottleLimits {
  /** Attempts counted in one window before the account locks (or, for resets, before requests are dropped). */
  threshold: number;
  windowSeconds: number;
}

/** The account as every check reads it: trimmed and lowercased, then hashed (no address is stored). */
export const accountHash = (scope: ThrottleScope, email: string): string => sha256Hex(`${scope}:${email.trim().toLowerCase()}`);

/**
 * Per-account budgets in `sign_in_throttles`, kept for every address asked about, whether or not an
 * account has it: a lockout or a dropped reset request looks the same for a known and an unknown email.
 */
export function signInThrottle(knex: Knex) {
  const key = (scope: ThrottleScope, email: string) => ({ scope, accountHash: accountHash(scope, email) });

  return {
    /** Seconds the account stays locked (0: not locked). */
    async lockedSeconds(scope: ThrottleScope, email: string): Promise<number> {
      const row = await knex('signInThrottles')
        .where(key(scope, email))
        .where('lockedUntil', '>', knex.fn.now())
        .first<{ seconds: number } | undefined>(knex.raw('ceil(extract(epoch from locked_until - now()))::int as seconds'));
      return row ? Math.max(1, row.seconds) : 0;
    },

    /**
     * Counts one attempt in the current window (a new window once the last one is over) and answers how
     * many the window holds; when `lockSeconds` is given, reaching the threshold locks the account.
     */
    async count(scope: ThrottleScope, email: string, limits: ThrottleLimits, lockSeconds?: number): Promise<number> {
      const { scope: s, accountHash: hash } = key(scope, email);
      const { rows } = await knex.raw<{ rows: Array<{ attempts: number }> }>(
        `insert into sign_in_throttles as t (scope, account_hash, attempts, window_started_at) values (?, ?, 1, now())
         on conflict (scope, account_hash) do update set
           attempts = case when t.window_started_at > now() - make_interval(secs => ?) then t.attempts + 1 else 1 end,
           window_started_at = case when t.window_started_at > now() - make_interval(secs => ?) then t.window_started_at else now() end
         returning attempts`,
        [s, hash, limits.windowSeconds, limits.windowSeconds],
      );
      const attempts = rows[0]!.attempts;
      if (lockSeconds !== undefined && attempts >= limits.threshold) {
        await knex('signInThrottles')
          .where(key(scope, email))
          .update({ lockedUntil: knex.raw('now() + make_interval(secs => ?)', [lockSeconds]), attempts: 0, windowStartedAt: knex.fn.now() });
      }
      return attempts;
    },

    /** A successful sign-in (or a completed password reset) starts the account's count afresh. */
    async clear(scope: ThrottleScope, email: string): Promise<void> {
      await knex('signInThrottles').where(key(scope, email)).delete();
    },
  };
}

/** The answer to any sign-in while the account is locked, whatever the password. */
export function lockedOut(seconds: number): AppError {
  return new AppError('RATE_LIMITED', 'Too many failed sign-ins: this account is locked for a while', undefined, {
    'Retry-After': String(seconds),
  });
}
