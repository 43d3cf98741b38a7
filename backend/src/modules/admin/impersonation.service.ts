import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { withTenant } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { writeAuditNow } from '../audit/audit-store';
import { signTenantToken } from '../auth/access-tokens';
import { Session } from '../auth/session.model';
import { PlatformActor, recordPlatformAudit } from './platform-audit';

export interface ImpersonationInput {
  reason: string;
  /** The tenant user to act as; default: the tenant's oldest active tenant_admin. */
  userId?: string;
}

interface TargetUser {
  id: string;
  email: string;
  roleId: string;
  roleKey: string | null;
}

/**
 * Support sessions. A staff member holding `impersonate` acts as a named tenant user (never as a made-up identity, so the
 * tenant's own permissions and row-level security apply unchanged) with a short-lived access token:
 * IMPERSONATION_TTL_SECONDS, no refresh token, `imp` = the admin's id. Every audit entry the token
 * produces carries impersonator_id; the start is in the tenant's audit log (`impersonation.start`)
 * and the platform audit log (`tenant.impersonate`). Tenants that opted out (allowImpersonation false)
 * are refused, as are suspended ones.
 */
export function createImpersonationService(deps: { knex: Knex; platformKnex: Knex; config: AppConfig }) {
  const { platformKnex } = deps;

  async function targetUser(tenantId: string, userId?: string): Promise<TargetUser> {
    const query = platformKnex('users as u')
      .join('roles as r', (join) => join.on('r.id', '=', 'u.roleId').andOn('r.tenantId', '=', 'u.tenantId'))
      .where('u.tenantId', tenantId)
      .where('u.status', 'active')
      .whereNull('u.deletedAt')
      .select<TargetUser[]>('u.id', 'u.email', 'r.id as roleId', 'r.key as roleKey');
    if (userId) query.where('u.id', userId);
    else query.where('r.key', 'tenant_admin').orderBy([{ column: 'u.createdAt' }, { column: 'u.id' }]);
    const [user] = await query.limit(1);
    if (!user) throw notFound(userId ? 'Active user' : 'Active tenant admin');
    return user;
  }

  return {
    async start(tenantId: string, input: ImpersonationInput, actor: PlatformActor) {
      const tenant = await platformKnex('tenants')
        .where('id', tenantId)
        .first<{ id: string; status: string; impersonationOptOut: boolean } | undefined>('id', 'status', 'impersonationOptOut');
      if (!tenant) throw notFound('Tenant');
      if (tenant.impersonationOptOut) throw new AppError('FORBIDDEN', 'This organization does not allow impersonation');
      if (tenant.status !== 'active') throw new AppError('TENANT_SUSPENDED', 'This organization is suspended');
      const user = await targetUser(tenantId, input.userId);
      const ttlSeconds = deps.config.console.impersonationTtlSeconds;
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);

      // The session and the tenant's entry commit together; the token is issued only once the platform entry is in too.
      const sessionId = await withTenant(deps.knex, tenantId, async () => {
        const session = await Session.query().insert({
          userId: user.id,
          ip: actor.ip || null,
          userAgent: actor.userAgent?.slice(0, 500) ?? null,
          lastUsedAt: new Date(),
          expiresAt,
        });
        await writeAuditNow(
          {
            actorType: 'platform_admin',
            actorId: actor.principal.adminId,
            impersonatorId: actor.principal.adminId,
            ip: actor.ip,
            userAgent: actor.userAgent ?? null,
            requestId: actor.requestId,
          },
          [
            {
              action: 'impersonation.start',
              resourceType: 'users',
              resourceId: user.id,
              after: { reason: input.reason, sessionId: session.id, expiresAt: expiresAt.toISOString() },
            },
          ],
        );
        return session.id;
      });
      await recordPlatformAudit(platformKnex, actor, [
        {
          action: 'tenant.impersonate',
          tenantId,
          targetType: 'user',
          targetId: user.id,
          details: { reason: input.reason, sessionId, expiresAt: expiresAt.toISOString() },
        },
      ]);

      const access = signTenantToken(
        { ...deps.config.jwt, accessTtlSeconds: ttlSeconds },
        { userId: user.id, tenantId, role: user.roleKey ?? user.roleId, sessionId, impersonatorId: actor.principal.adminId },
      );
      return {
        tenantId,
        user: { id: user.id, email: user.email, role: user.roleKey ?? user.roleId },
        impersonatorId: actor.principal.adminId,
        sessionId,
        expiresAt: expiresAt.toISOString(),
        tokens: { accessToken: access.token, tokenType: 'Bearer', expiresIn: access.expiresIn },
      };
    },
  };
}
