import { randomUUID } from 'node:crypto';
import { AppDeps } from '../../app-deps';
import { tenantScope } from '../../infra/tenant-scope';
import { AppError, notFound } from '../../lib/errors';
import { inUnitOfWork } from '../../pipeline/unit-of-work';
import { AuditActor } from '../audit/audit-context';
import { renameTenantConflict, subdomainFrom } from '../auth/auth.service';
import { DeletionStatus, scheduleDeletion } from '../compliance/organization-deletion.service';
import { recordEvent, runWithEvents } from '../events/event-context';
import { queueInviteEmail } from '../notifications/notifications.service';
import { Role } from '../roles/role.model';
import { presentTenant } from '../tenants/tenant.presenter';
import { Tenant } from '../tenants/tenant.model';
import { provisionTenant } from '../tenants/tenants.service';
import { newInvitation } from '../users/invitations.service';
import { User } from '../users/user.model';
import { PlatformActor, recordPlatformAuditInTenant } from './platform-audit';

export interface NewTenantByStaff {
  name: string;
  subdomain?: string;
  plan: string;
  owner: { email: string; firstName: string; lastName: string };
}

/** Work done in a tenant on staff's behalf: the tenant's own audit trail names the staff member. */
const staffAuditActor = (actor: PlatformActor): AuditActor => ({
  actorType: 'platform_admin',
  actorId: actor.principal.adminId,
  ip: actor.ip,
  userAgent: actor.userAgent ?? null,
  requestId: actor.requestId,
});

/**
 * Tenants made and scheduled for deletion by staff (`tenants:manage`). Both run as the tenant's own
 * unit of work (its transaction, row-level security, its domain events: the tenant's audit trail), so
 * they are the same operations a customer's sign-up and deletion request are, and both are in the
 * platform audit log too.
 */
export function createTenantProvisioningService(deps: AppDeps) {
  const inTenant = <T>(tenantId: string, actor: PlatformActor, work: () => Promise<T>) =>
    runWithEvents({ tenantId, actor: staffAuditActor(actor) }, () => inUnitOfWork(deps, tenantId, work));

  return {
    /** The tenant, its system roles and its owner, invited as tenant_admin (an e-mail with a single-use code). */
    async create(input: NewTenantByStaff, actor: PlatformActor) {
      const tenantId = randomUUID();
      const subdomain = input.subdomain ?? subdomainFrom(input.name);
      try {
        return await inTenant(tenantId, actor, async () => {
          const { trx } = tenantScope();
          if (!(await trx('plans').where('code', input.plan).first('code'))) {
            throw new AppError('VALIDATION_ERROR', 'The request is invalid', [{ field: 'plan', message: '"plan" is not a known plan' }]);
          }
          await provisionTenant({ name: input.name, subdomain, plan: input.plan });
          const tenant = await Tenant.query().findById(tenantId).throwIfNotFound();
          const role = await Role.query().findOne({ key: 'tenant_admin' }).throwIfNotFound();
          const invitation = newInvitation(deps.config.auth.inviteTtlSeconds);
          const { email, firstName, lastName } = input.owner;
          const owner = await User.query().insert({
            email,
            firstName,
            lastName,
            roleId: role.id,
            status: 'invited',
            passwordHash: null,
            inviteTokenHash: invitation.inviteTokenHash,
            inviteExpiresAt: invitation.inviteExpiresAt,
          });
          recordEvent({
            type: 'user.created',
            id: owner.id,
            email,
            profile: { email, firstName, lastName, roleId: role.id, teamId: null, status: 'invited' },
          });
          await queueInviteEmail(deps.config, owner, { token: invitation.token, expiresAt: invitation.inviteExpiresAt });
          await recordPlatformAuditInTenant(trx, actor, [
            { action: 'tenant.create', tenantId, targetType: 'tenant', targetId: tenantId, details: { plan: input.plan, ownerId: owner.id } },
          ]);
          const shown = deps.config.email.transport === 'json' ? { inviteToken: invitation.token } : {};
          return {
            tenant: presentTenant(tenant),
            owner: { id: owner.id, email, status: 'invited', inviteExpiresAt: invitation.inviteExpiresAt, ...shown },
          };
        });
      } catch (error) {
        throw renameTenantConflict(error, 'name');
      }
    },

    /** 202: the same scheduled deletion a tenant admin can ask for (grace period, cancel, purge). */
    async scheduleDeletion(tenantId: string, actor: PlatformActor): Promise<DeletionStatus> {
      const exists = await deps.platformKnex('tenants').where({ id: tenantId }).first('id');
      if (!exists) throw notFound('Tenant');
      return inTenant(tenantId, actor, async () => {
        const status = await scheduleDeletion(actor.principal.adminId, deps.config.compliance.deletionGraceDays);
        await recordPlatformAuditInTenant(tenantScope().trx, actor, [
          { action: 'tenant.delete_scheduled', tenantId, targetType: 'tenant', targetId: tenantId, details: { purgeAt: status.purgeAt } },
        ]);
        return status;
      });
    },
  };
}
