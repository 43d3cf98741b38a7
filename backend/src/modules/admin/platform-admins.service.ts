import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { Logger } from '../../infra/logger';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { AppError, notFound } from '../../lib/errors';
import { hashPassword, verifyPassword } from '../auth/passwords';
import { PlatformAdminPrincipal } from '../auth/principal';
import { lockedOut, signInThrottle } from '../auth/sign-in-throttle';
import { PlatformAdmin } from './platform-admin.model';
import { presentPlatformAdmin } from './platform-admin.presenter';
import { PlatformAuditEntry, recordPlatformAudit } from './platform-audit';
import { createTotpFactors, SecondFactor } from '../auth/totp-factors';
import { rowContext } from '../credentials/credential-crypto';
import { liveStaffSessions, openStaffSession, refreshFailure, revokeStaffSessions, rotateStaffRefreshToken, StaffClient, StaffTokens } from './staff-sessions';

const MFA_TOKEN_PREFIX = 'mfa_';
/** Long enough to open an authenticator app, short enough that a stolen password step is worth little. */
const MFA_CHALLENGE_SECONDS = 300;
/** Wrong codes one challenge takes before it is spent; the login rate limit counts every try as well. */
const MFA_CHALLENGE_ATTEMPTS = 5;

/**
 * At boot: creates the first super admin from SUPER_ADMIN_EMAIL / SUPER_ADMIN_PASSWORD unless an admin
 * with that email exists. An existing admin is left alone, so changing the variable never resets a password.
 */
export async function ensureSuperAdmin(knex: Knex, config: AppConfig, logger: Logger): Promise<void> {
  const wanted = config.auth.superAdmin;
  if (!wanted) return;
  const email = wanted.email.toLowerCase();
  if (await PlatformAdmin.query(knex).findOne({ email })) return;
  const passwordHash = await hashPassword(wanted.password, config.auth.bcryptCost);
  // Several instances may boot at once: the unique email decides, and only the winner logs.
  const inserted = await PlatformAdmin.query(knex)
    .insert({ email, passwordHash, role: 'super_admin', status: 'active' })
    .onConflict('email')
    .ignore()
    .returning('id');
  if (inserted.id) logger.info('platform super admin created', { email });
}

/** What a sign-in step answers: tokens, or the MFA challenge to answer first. */
export type StaffSignIn =
  | { kind: 'signed_in'; admin: ReturnType<typeof presentPlatformAdmin>; tokens: StaffTokens }
  | { kind: 'mfa_required'; mfaToken: string; expiresIn: number };

interface RequestContext extends StaffClient {
  requestId: string;
}

/**
 * Staff sign-in and one's own account: password, then TOTP when it is on; sessions with rotating
 * refresh tokens; MFA enrolment; invitations accepted. Runs on the platform pool (`knex` here): the
 * runtime role has no privilege on staff accounts or their sessions; every step is in the platform audit log.
 */
export function createPlatformAdminsService({ knex, config }: { knex: Knex; config: AppConfig }) {
  const mfa = createTotpFactors(config, {
    accounts: 'platformAdmins',
    recoveryCodes: 'platformAdminRecoveryCodes',
    owner: 'adminId',
    hash: 'codeHash',
    rowDefaults: () => ({}),
    contextOf: (adminId) => rowContext('platform_admins', 'platform', adminId),
  });
  const badCredentials = () => new AppError('UNAUTHORIZED', 'Invalid email or password');
  const throttle = signInThrottle(knex);
  const lockoutLimits = { threshold: config.auth.lockoutThreshold, windowSeconds: config.auth.lockoutSeconds };
  const badChallenge = () => new AppError('UNAUTHORIZED', 'The code is wrong, or the sign-in step expired: sign in again');
  const audit = (trx: Knex | Knex.Transaction, adminId: string, context: RequestContext, entry: PlatformAuditEntry) =>
    recordPlatformAudit(trx, { principal: { adminId }, ip: context.ip, userAgent: context.userAgent, requestId: context.requestId }, [entry]);

  async function completeSignIn(trx: Knex.Transaction, admin: PlatformAdmin, context: RequestContext, how: string): Promise<StaffSignIn> {
    const signedIn = await PlatformAdmin.query(trx).patchAndFetchById(admin.id, { lastLoginAt: new Date() });
    const { sessionId, tokens } = await openStaffSession(trx, config, admin, context);
    await audit(trx, admin.id, context, { action: 'staff.login', targetType: 'platform_admin_session', targetId: sessionId, details: { method: how } });
    return { kind: 'signed_in', admin: presentPlatformAdmin(signedIn), tokens };
  }

  /** Runs `work`, commits what it wrote, and only then throws what it decided to refuse (a spent code, a reused token). */
  async function committedThenThrow<T>(work: (trx: Knex.Transaction) => Promise<T | AppError>): Promise<T> {
    const result = await knex.transaction(work);
    if (result instanceof AppError) throw result;
    return result;
  }

  async function me(principal: PlatformAdminPrincipal) {
    const admin = await PlatformAdmin.query(knex).findById(principal.adminId);
    if (!admin) throw notFound('Platform admin');
    return presentPlatformAdmin(admin);
  }

  return {
    /**
     * Unknown, disabled, invited and wrong-password sign-ins cost the same bcrypt comparison, count against
     * the address's lockout and get the same 401; a locked address (known or not) gets 429 either way.
     */
    async login(input: { email: string; password: string }, context: RequestContext): Promise<StaffSignIn> {
      const lockedSeconds = await throttle.lockedSeconds('staff_login', input.email);
      const admin = await PlatformAdmin.query(knex).findOne({ email: input.email });
      const hash = admin?.status === 'active' ? (admin.passwordHash ?? undefined) : undefined;
      const verified = await verifyPassword(input.password, hash, config.auth.bcryptCost);
      if (lockedSeconds > 0) throw lockedOut(lockedSeconds);
      if (!admin || !verified) {
        await throttle.count('staff_login', input.email, lockoutLimits, config.auth.lockoutSeconds);
        throw badCredentials();
      }
      await throttle.clear('staff_login', input.email);
      return knex.transaction(async (trx): Promise<StaffSignIn> => {
        if (!admin.mfaEnabledAt) return completeSignIn(trx, admin, context, 'password');
        const mfaToken = randomSecret(MFA_TOKEN_PREFIX);
        await trx('platformMfaChallenges').insert({
          adminId: admin.id,
          tokenHash: sha256Hex(mfaToken),
          expiresAt: new Date(Date.now() + MFA_CHALLENGE_SECONDS * 1000),
          ip: context.ip || null,
          userAgent: context.userAgent?.slice(0, 500) ?? null,
        });
        return { kind: 'mfa_required', mfaToken, expiresIn: MFA_CHALLENGE_SECONDS };
      });
    },

    /** The second step: the challenge is single use, and a wrong code counts against it (and the login rate limit). */
    async loginMfa(input: { mfaToken: string } & SecondFactor, context: RequestContext): Promise<StaffSignIn> {
      if (!input.mfaToken.startsWith(MFA_TOKEN_PREFIX)) throw badChallenge();
      return committedThenThrow(async (trx) => {
        const challenge = await trx('platformMfaChallenges')
          .where({ tokenHash: sha256Hex(input.mfaToken) })
          .whereNull('usedAt')
          .where('expiresAt', '>', trx.fn.now())
          .where('failedAttempts', '<', MFA_CHALLENGE_ATTEMPTS)
          .forUpdate()
          .first<{ id: string; adminId: string } | undefined>('id', 'adminId');
        if (!challenge) return badChallenge();
        const admin = await PlatformAdmin.query(trx).findById(challenge.adminId);
        const factor: SecondFactor = 'recoveryCode' in input ? { recoveryCode: input.recoveryCode } : { code: input.code };
        if (admin?.status !== 'active' || !(await mfa.verify(trx, admin.id, factor))) {
          await trx('platformMfaChallenges').where({ id: challenge.id }).increment('failedAttempts', 1);
          await audit(trx, challenge.adminId, context, { action: 'staff.login_mfa_failed', targetType: 'platform_admin', targetId: challenge.adminId, details: {} });
          return badChallenge();
        }
        await trx('platformMfaChallenges').where({ id: challenge.id }).update({ usedAt: new Date() });
        return completeSignIn(trx, admin, context, 'recoveryCode' in factor ? 'recovery_code' : 'totp');
      });
    },

    /** Rotation with reuse detection: a spent token presented again ends its whole session. */
    async refresh(refreshToken: string | undefined, context: RequestContext): Promise<{ tokens: StaffTokens }> {
      if (!refreshToken) throw refreshFailure();
      return committedThenThrow(async (trx) => {
        const rotation = await rotateStaffRefreshToken(trx, config, refreshToken);
        if (rotation.outcome === 'invalid') return refreshFailure();
        if (rotation.outcome === 'reused') {
          await audit(trx, rotation.adminId, context, { action: 'staff.refresh_reuse_detected', targetType: 'platform_admin_session', targetId: rotation.sessionId, details: {} });
          return refreshFailure();
        }
        return { tokens: rotation.tokens };
      });
    },

    async logout(principal: PlatformAdminPrincipal, context: RequestContext): Promise<void> {
      await knex.transaction(async (trx) => {
        await revokeStaffSessions(trx, { sessionId: principal.sessionId }, 'logout');
        await audit(trx, principal.adminId, context, { action: 'staff.logout', targetType: 'platform_admin_session', targetId: principal.sessionId, details: {} });
      });
    },

    /** The invitee chooses a password and is signed in; the invitation is spent (one UPDATE: of two racers one wins). */
    async acceptInvite(input: { token: string; password: string }, context: RequestContext): Promise<StaffSignIn> {
      const passwordHash = await hashPassword(input.password, config.auth.bcryptCost);
      return committedThenThrow(async (trx) => {
        const [accepted] = await PlatformAdmin.query(trx)
          .where({ inviteTokenHash: sha256Hex(input.token), status: 'invited' })
          .where('inviteExpiresAt', '>', new Date())
          .patch({ passwordHash, status: 'active', inviteTokenHash: null, inviteExpiresAt: null })
          .returning('*');
        if (!accepted) return new AppError('UNAUTHORIZED', 'The invitation is invalid, expired or already used');
        await audit(trx, accepted.id, context, { action: 'staff.invite_accepted', targetType: 'platform_admin', targetId: accepted.id, details: {} });
        return completeSignIn(trx, accepted, context, 'invitation');
      });
    },

    me,

    /** For a console checking its token: who, which session, and what the role may do. */
    async verify(principal: PlatformAdminPrincipal) {
      const admin = await me(principal);
      const session = (await liveStaffSessions(knex, principal.adminId)).find((live) => live.id === principal.sessionId);
      return {
        admin,
        session: { id: principal.sessionId, expiresAt: session?.expiresAt ?? null },
        permissions: [...principal.permissions].map((permission) => permission.replace(/^platform:/, '')).sort(),
        mfaEnrollmentRequired: config.auth.adminMfaRequired && !principal.mfaEnabled,
      };
    },

    async sessions(principal: PlatformAdminPrincipal) {
      return (await liveStaffSessions(knex, principal.adminId)).map((session) => ({ ...session, current: session.id === principal.sessionId }));
    },

    async revokeSession(principal: PlatformAdminPrincipal, sessionId: string, context: RequestContext): Promise<void> {
      await knex.transaction(async (trx) => {
        const revoked = await trx('platformAdminSessions')
          .where({ id: sessionId, adminId: principal.adminId })
          .whereNull('revokedAt')
          .update({ revokedAt: new Date(), revokedReason: 'signed_out_remotely' });
        if (revoked === 0) throw notFound('Session');
        await audit(trx, principal.adminId, context, { action: 'staff.session_revoked', targetType: 'platform_admin_session', targetId: sessionId, details: {} });
      });
    },

    async mfaSetup(principal: PlatformAdminPrincipal, context: RequestContext) {
      return knex.transaction(async (trx) => {
        const enrolment = await mfa.setup(trx, principal.adminId);
        await audit(trx, principal.adminId, context, { action: 'staff.mfa_setup', targetType: 'platform_admin', targetId: principal.adminId, details: {} });
        return enrolment;
      });
    },

    async mfaEnable(principal: PlatformAdminPrincipal, code: string, context: RequestContext) {
      return knex.transaction(async (trx) => {
        const codes = await mfa.enable(trx, principal.adminId, code);
        await audit(trx, principal.adminId, context, { action: 'staff.mfa_enabled', targetType: 'platform_admin', targetId: principal.adminId, details: {} });
        return codes;
      });
    },

    /** Turning MFA off ends every other session: they were opened under the second factor. */
    async mfaDisable(principal: PlatformAdminPrincipal, code: string, context: RequestContext): Promise<void> {
      await knex.transaction(async (trx) => {
        await mfa.disable(trx, principal.adminId, code);
        await trx('platformAdminSessions')
          .where({ adminId: principal.adminId })
          .whereNot({ id: principal.sessionId })
          .whereNull('revokedAt')
          .update({ revokedAt: new Date(), revokedReason: 'mfa_disabled' });
        await audit(trx, principal.adminId, context, { action: 'staff.mfa_disabled', targetType: 'platform_admin', targetId: principal.adminId, details: {} });
      });
    },
  };
}
