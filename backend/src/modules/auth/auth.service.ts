import { randomUUID } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { enableCredentialLookup, withCredentialLookup } from '../../infra/credential-lookup';
import { tenantScope, withTenant } from '../../infra/tenant-scope';
import { AppError } from '../../lib/errors';
import { AuditEvent } from '../audit/audit-context';
import { recordEvent } from '../events/event-context';
import { writeAuditNow } from '../audit/audit-store';
import { fromDatabaseError } from '../../lib/database-errors';
import { queueEmail } from '../notifications/notifications.service';
import { Tenant } from '../tenants/tenant.model';
import { presentRoleRef } from '../roles/role.presenter';
import { presentTenant } from '../tenants/tenant.presenter';
import { provisionTenant } from '../tenants/tenants.service';
import { trialEndFor } from '../billing/plan-prices';
import { User } from '../users/user.model';
import { acceptInvitation, invitationTenant } from '../users/invitations.service';
import { presentUser } from '../users/user.presenter';
import { createUser } from '../users/users.service';
import { signTenantToken } from './access-tokens';
import { hashPassword, verifyPassword } from './passwords';
import { UserPrincipal } from './principal';
import { SecondFactor } from './totp-factors';
import { signInDelayMs } from '../security/sign-in-detectors';
import { lockedOut, signInThrottle } from './sign-in-throttle';
import { createUserMfa } from './user-mfa.service';
import {
  ClientInfo,
  denylistAccessToken,
  openSession,
  refreshFailure,
  revokeSessions,
  rotateRefreshToken,
} from './sessions.service';

export interface AuthDeps {
  knex: Knex;
  config: AppConfig;
}

export interface RegisterInput {
  email: string;
  password: string;
  firstName: string;
  lastName: string;
  company: string;
  subdomain?: string;
  plan?: string;
}

export interface LoginInput {
  email: string;
  password: string;
  tenantId?: string;
}

const badCredentials = () => new AppError('UNAUTHORIZED', 'Invalid email or password');

interface LoginCandidate {
  tenantId: string;
  id: string;
  passwordHash: string | null;
  status: string;
}

export function createAuthService({ knex, config }: AuthDeps) {
  const userMfa = createUserMfa(knex, config);
  const throttle = signInThrottle(knex);
  const lockoutLimits = { threshold: config.auth.lockoutThreshold, windowSeconds: config.auth.lockoutSeconds };
  /** Signs an access token and shapes the answer every sign-in returns. */
  async function signedIn(user: User, tenant: Tenant, session: { sessionId: string; refreshToken: string }) {
    const role = user.role?.key ?? user.roleId;
    const access = signTenantToken(config.jwt, { userId: user.id, tenantId: tenant.id, role, sessionId: session.sessionId });
    return {
      user: presentUser(user),
      tenant: presentTenant(tenant),
      tokens: {
        accessToken: access.token,
        refreshToken: session.refreshToken,
        tokenType: 'Bearer',
        expiresIn: access.expiresIn,
      },
    };
  }

  /** Sign-in flows run their own transactions, so they write their audit entries at once, in them. */
  const audit = (client: ClientInfo, userId: string | null, events: AuditEvent[]) =>
    writeAuditNow({ actorType: 'user', actorId: userId, ip: client.ip || null, userAgent: client.userAgent ?? null }, events);

  const loadUser = (userId: string) => User.query().findById(userId).withGraphFetched('role').throwIfNotFound();
  const currentTenant = () => Tenant.query().findById(tenantScope().tenantId).throwIfNotFound();

  return {
    /** Tenant, its system roles, its first user (tenant_admin) and a session: all or nothing. */
    async register(input: RegisterInput, client: ClientInfo) {
      const tenantId = randomUUID();
      const subdomain = input.subdomain ?? subdomainFrom(input.company);
      try {
        return await withTenant(knex, tenantId, async (trx) => {
          // One registration per email at a time, and none for an email already in use anywhere.
          await trx.raw('select pg_advisory_xact_lock(hashtext(lower(?)))', [input.email]);
          await enableCredentialLookup(trx, 'email', input.email);
          const taken = await trx('users').where({ email: input.email }).whereNull('deletedAt').first('id');
          if (taken) {
            throw new AppError('CONFLICT', 'An account with this email already exists', [
              { field: 'email', message: 'is already registered' },
            ]);
          }
          const plan = input.plan ?? 'free';
          await provisionTenant({ name: input.company, subdomain, plan, trialEndsAt: await trialEndFor(plan, config.billing.trialDays) });
          const created = await createUser(
            { email: input.email, password: input.password, firstName: input.firstName, lastName: input.lastName, roleKey: 'tenant_admin' },
            config.auth.bcryptCost,
          );
          const user = await loadUser(created.id);
          const session = await openSession(user.id, client, config.jwt.refreshTtlSeconds);
          const tenant = await currentTenant();
          await audit(client, user.id, [
            { action: 'tenant.register', resourceType: 'tenant', resourceId: tenant.id, after: { name: tenant.name, subdomain: tenant.subdomain, plan: tenant.plan } },
            { action: 'user.create', resourceType: 'user', resourceId: user.id, after: { email: user.email, roleId: user.roleId }, subject: user.email },
            { action: 'auth.login', resourceType: 'session', resourceId: session.sessionId, subject: user.email },
          ]);
          await queueEmail(config, 'welcome', { email: user.email, userId: user.id }, { firstName: user.firstName, organization: tenant.name });
          return signedIn(user, tenant, session);
        });
      } catch (error) {
        throw renameTenantConflict(error);
      }
    },

    async login(input: LoginInput, requestedTenantId: string | undefined, client: ClientInfo) {
      if (input.tenantId && requestedTenantId && input.tenantId !== requestedTenantId) {
        throw new AppError('TENANT_MISMATCH', 'tenantId and X-Tenant-ID name different tenants');
      }
      const tenantId = input.tenantId ?? requestedTenantId;
      // An IP caught stuffing credentials waits before every attempt, right or wrong (docs/SECURITY.md).
      const delayMs = await signInDelayMs(client.ip);
      if (delayMs > 0) await pause(delayMs);
      const candidates = (
        await withCredentialLookup(knex, 'email', input.email, (trx) =>
          trx('users')
            .where({ email: input.email })
            .whereNull('deletedAt')
            .select<LoginCandidate[]>('tenantId', 'id', 'passwordHash', 'status'),
        )
      ).filter((candidate) => !tenantId || candidate.tenantId === tenantId);

      // Every address takes the same path: the lockout read, a bcrypt comparison per account (or against
      // a dummy hash), the failure counted, the same answer; so neither the answer nor its timing tells a
      // known address from an unknown one.
      const lockedSeconds = await throttle.lockedSeconds('user_login', input.email);
      const matches: LoginCandidate[] = [];
      for (const candidate of candidates.length ? candidates : [undefined]) {
        if (await verifyPassword(input.password, candidate?.passwordHash, config.auth.bcryptCost)) matches.push(candidate!);
      }
      if (lockedSeconds > 0) throw lockedOut(lockedSeconds);
      if (matches.length === 0) {
        await throttle.count('user_login', input.email, lockoutLimits, config.auth.lockoutSeconds);
        await Promise.all(candidates.map((candidate) => auditFailedLogin(candidate, input.email, client)));
        throw badCredentials();
      }
      if (matches.length > 1) {
        throw new AppError('VALIDATION_ERROR', 'This email belongs to several organizations: name one with tenantId', [
          { field: 'tenantId', message: `is required; one of ${matches.map((m) => m.tenantId).join(', ')}` },
        ]);
      }
      const match = matches[0]!;
      await throttle.clear('user_login', input.email);
      return withTenant(knex, match.tenantId, async () => {
        const tenant = await currentTenant();
        if (tenant.status !== 'active') throw new AppError('TENANT_SUSPENDED', 'This organization is suspended');
        if (match.status !== 'active') throw new AppError('FORBIDDEN', 'This account is disabled');
        await User.query().findById(match.id).patch({ lastLoginAt: new Date() });
        const user = await loadUser(match.id);
        if (user.mfaEnabledAt) return userMfa.challenge(user.id);
        const session = await openSession(user.id, client, config.jwt.refreshTtlSeconds);
        await audit(client, user.id, [{ action: 'auth.login', resourceType: 'session', resourceId: session.sessionId, subject: user.email }]);
        return signedIn(user, tenant, session);
      });
    },

    /** The second step of a sign-in with MFA on: the challenge and a TOTP code or a recovery code. */
    async loginMfa(input: { mfaToken: string } & SecondFactor, client: ClientInfo) {
      const factor: SecondFactor = 'recoveryCode' in input ? { recoveryCode: input.recoveryCode } : { code: input.code };
      return userMfa.answer(input.mfaToken, factor, client, async (userId) => {
        const tenant = await currentTenant();
        if (tenant.status !== 'active') throw new AppError('TENANT_SUSPENDED', 'This organization is suspended');
        const user = await loadUser(userId);
        if (user.status !== 'active' || user.deletedAt) throw badCredentials();
        const session = await openSession(user.id, client, config.jwt.refreshTtlSeconds);
        await audit(client, user.id, [{ action: 'auth.login', resourceType: 'session', resourceId: session.sessionId, subject: user.email }]);
        return signedIn(user, tenant, session);
      });
    },

    mfaSetup: (principal: UserPrincipal) => userMfa.setup(principal),
    mfaEnable: (principal: UserPrincipal, code: string) => userMfa.enable(principal, code),
    mfaDisable: (principal: UserPrincipal, code: string) => userMfa.disable(principal, code),

    async refresh(refreshToken: string | undefined) {
      if (!refreshToken) throw refreshFailure();
      const rotation = await rotateRefreshToken(knex, refreshToken);
      if (rotation.outcome !== 'rotated') throw refreshFailure();
      return withTenant(knex, rotation.tenantId, async () => {
        const tenant = await currentTenant();
        if (tenant.status !== 'active') throw new AppError('TENANT_SUSPENDED', 'This organization is suspended');
        const user = await User.query().findById(rotation.userId).withGraphFetched('role');
        if (!user || user.status !== 'active' || user.deletedAt) throw refreshFailure();
        return signedIn(user, tenant, rotation);
      });
    },

    /** The invitee chooses a password and is signed in; the invitation is spent. */
    async acceptInvite(input: { token: string; password: string }, client: ClientInfo) {
      const invalid = () => new AppError('UNAUTHORIZED', 'The invitation is invalid, expired or already used');
      const tenantId = await invitationTenant(knex, input.token);
      if (!tenantId) throw invalid();
      return withTenant(knex, tenantId, async () => {
        const tenant = await currentTenant();
        if (tenant.status !== 'active') throw new AppError('TENANT_SUSPENDED', 'This organization is suspended');
        const userId = await acceptInvitation(input.token, await hashPassword(input.password, config.auth.bcryptCost));
        if (!userId) throw invalid();
        const session = await openSession(userId, client, config.jwt.refreshTtlSeconds);
        const user = await loadUser(userId);
        await audit(client, userId, [{ action: 'auth.invite_accepted', resourceType: 'user', resourceId: userId, subject: user.email }]);
        return signedIn(user, tenant, session);
      });
    },

    /** Ends the session: its refresh family is revoked and this access token is refused from now on. */
    async logout(principal: UserPrincipal) {
      await revokeSessions({ sessionId: principal.sessionId }, 'logout');
      await denylistAccessToken(principal.jti, principal.userId, principal.tokenExpiresAt);
      recordEvent({ type: 'auth.logged_out', sessionId: principal.sessionId });
    },

    async me(principal: UserPrincipal) {
      const user = await loadUser(principal.userId);
      return {
        user: presentUser(user),
        tenant: presentTenant(await currentTenant()),
        role: user.role ? presentRoleRef(user.role) : null,
        permissions: [...principal.permissions].sort(),
      };
    },

    /** Every other session of the user is revoked; this one stays signed in. */
    async changePassword(principal: UserPrincipal, input: { currentPassword: string; newPassword: string }) {
      const user = await User.query().findById(principal.userId).throwIfNotFound();
      if (!(await verifyPassword(input.currentPassword, user.passwordHash, config.auth.bcryptCost))) {
        throw new AppError('VALIDATION_ERROR', 'The current password is incorrect', [
          { field: 'currentPassword', message: 'is incorrect' },
        ]);
      }
      await User.query()
        .findById(user.id)
        .patch({ passwordHash: await hashPassword(input.newPassword, config.auth.bcryptCost), passwordChangedAt: new Date() });
      const revoked = await revokeSessions({ userId: user.id, exceptSessionId: principal.sessionId }, 'password_changed');
      recordEvent({ type: 'auth.password_changed', userId: user.id, sessionsRevoked: revoked });
    },
  };

  /** In its own transaction, so the 401 that follows cannot roll it back. */
  async function auditFailedLogin(candidate: LoginCandidate, email: string, client: ClientInfo): Promise<void> {
    await withTenant(knex, candidate.tenantId, () =>
      audit(client, null, [
        { action: 'auth.login_failed', resourceType: 'user', resourceId: candidate.id, result: 'failure', errorCode: 'UNAUTHORIZED', subject: email },
      ]),
    );
  }
}

/** A subdomain from the company name: lowercase letters, digits and dashes. */
export function subdomainFrom(company: string): string {
  const slug = company
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/g, '');
  return slug || `org-${randomUUID().slice(0, 8)}`;
}

/** A clash on the tenants table is about the company name or subdomain the client chose. */
export function renameTenantConflict(error: unknown, nameField = 'company'): unknown {
  const constraint = (error as { constraint?: string; nativeError?: { constraint?: string } }).nativeError?.constraint
    ?? (error as { constraint?: string }).constraint;
  const field = constraint === 'tenants_name_key' ? nameField : constraint === 'tenants_subdomain_key' ? 'subdomain' : undefined;
  if (!field) return error;
  const mapped = fromDatabaseError(error);
  return new AppError(mapped?.code ?? 'CONFLICT', `This ${field} is already taken`, [{ field, message: 'is already taken' }]);
}
