import { Knex } from 'knex';
import { AppConfig } from '../../config/app-config';
import { withTenant } from '../../infra/tenant-scope';
import { Logger } from '../../infra/logger';
import { randomSecret, sha256Hex } from '../../lib/crypto';
import { AppError, notFound } from '../../lib/errors';
import { revokeSessions } from '../auth/sessions.service';
import { EMAIL_TEMPLATES } from '../notifications/email-templates';
import { sendEmail } from '../notifications/mailer';
import { PlatformAdmin, StaffStatus } from './platform-admin.model';
import { presentPlatformAdmin } from './platform-admin.presenter';
import { PlatformActor, recordPlatformAudit } from './platform-audit';
import { StaffRole, STAFF_ROLE_RANK } from './staff-roles';
import { revokeStaffSessions } from './staff-sessions';

const INVITE_PREFIX = 'sinv_';

export interface StaffInvitation {
  email: string;
  role: StaffRole;
  firstName: string;
  lastName: string;
}

export interface StaffChanges {
  role?: StaffRole;
  status?: Exclude<StaffStatus, 'invited'>;
}

/** Serializes changes that could leave no active super admin (two disabling each other at once). */
const SUPER_ADMIN_LOCK = 'platform_admins.last_super_admin';

/**
 * Staff management (`admins:manage`). Nobody grants, changes or removes a role above their own; the
 * last active super admin can be neither disabled, demoted nor removed; disabling or removing an
 * account ends its console sessions and its support sessions in tenants at once. Staff accounts live
 * on the platform pool (`platformKnex`); `knex`, the runtime pool, only ends the support sessions a
 * disabled staff member holds in tenants, inside each tenant's scope.
 */
export function createStaffService({ knex, platformKnex, config, logger }: { knex: Knex; platformKnex: Knex; config: AppConfig; logger: Logger }) {
  const rankOf = async (trx: Knex.Transaction, adminId: string) => {
    const caller = await PlatformAdmin.query(trx).findById(adminId).throwIfNotFound();
    return STAFF_ROLE_RANK[caller.role];
  };
  const aboveCaller = (what: string) => new AppError('FORBIDDEN', `${what} a role above your own is not allowed`);

  async function refuseLosingLastSuperAdmin(trx: Knex.Transaction, target: PlatformAdmin): Promise<void> {
    if (target.role !== 'super_admin' || target.status !== 'active') return;
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [SUPER_ADMIN_LOCK]);
    const others = await trx('platformAdmins').where({ role: 'super_admin', status: 'active' }).whereNot({ id: target.id }).count<{ count: string }[]>({ count: '*' });
    if (Number(others[0]!.count) === 0) throw new AppError('CONFLICT', 'This is the last active super admin: make another one first');
  }

  /**
   * Support sessions a staff member opened in tenants live in the tenants' own session tables; the
   * platform audit log names each one (tenant.impersonate), so those still running are revoked there.
   */
  async function endImpersonations(trx: Knex.Transaction, adminId: string): Promise<number> {
    const running = await trx('platformAuditLogs')
      .where({ actorId: adminId, action: 'tenant.impersonate' })
      .whereRaw("(details->>'expiresAt')::timestamptz > now()")
      .select<Array<{ tenantId: string; sessionId: string }>>('tenantId', trx.raw("details->>'sessionId' as session_id"));
    for (const { tenantId, sessionId } of running) {
      await withTenant(knex, tenantId, () => revokeSessions({ sessionId }, 'impersonator_disabled'));
    }
    return running.length;
  }

  async function endEverySession(trx: Knex.Transaction, adminId: string): Promise<{ sessions: number; impersonations: number }> {
    return { sessions: await revokeStaffSessions(trx, { adminId }, 'account_disabled'), impersonations: await endImpersonations(trx, adminId) };
  }

  return {
    async list(query: { role?: StaffRole; status?: StaffStatus }) {
      const admins = await PlatformAdmin.query(platformKnex)
        .where((q) => {
          if (query.role) q.where('role', query.role);
          if (query.status) q.where('status', query.status);
        })
        .orderBy([{ column: 'createdAt' }, { column: 'id' }]);
      return admins.map(presentPlatformAdmin);
    },

    /** An invitation by e-mail with a single-use link; the answer carries the token only when mail is the JSON log. */
    async invite(input: StaffInvitation, actor: PlatformActor) {
      const token = randomSecret(INVITE_PREFIX);
      const expiresAt = new Date(Date.now() + config.auth.inviteTtlSeconds * 1000);
      const admin = await platformKnex.transaction(async (trx) => {
        if (STAFF_ROLE_RANK[input.role] > (await rankOf(trx, actor.principal.adminId))) throw aboveCaller('Granting');
        const taken = await PlatformAdmin.query(trx).findOne({ email: input.email });
        if (taken) throw new AppError('CONFLICT', 'A staff member with this email exists', [{ field: 'email', message: 'is already a staff member' }]);
        const invited = await PlatformAdmin.query(trx).insertAndFetch({
          email: input.email,
          role: input.role,
          firstName: input.firstName,
          lastName: input.lastName,
          status: 'invited',
          passwordHash: null,
          inviteTokenHash: sha256Hex(token),
          inviteExpiresAt: expiresAt,
          invitedBy: actor.principal.adminId,
        });
        await recordPlatformAudit(trx, actor, [{ action: 'staff.invite', targetType: 'platform_admin', targetId: invited.id, details: { role: input.role } }]);
        return invited;
      });
      const message = EMAIL_TEMPLATES.staff_invite({ role: admin.role, token, expiresAt: expiresAt.toISOString() });
      // Sent once the invitation is committed; a mail server that fails is logged and shown, the invitation stands.
      const delivered = await sendEmail(config, admin.email, message).then(
        () => true,
        (error: unknown) => {
          logger.warn('staff invitation e-mail failed', { adminId: admin.id, error: (error as Error).message });
          return false;
        },
      );
      const shown = config.email.transport === 'json' ? { inviteToken: token } : {};
      return { ...presentPlatformAdmin(admin), inviteExpiresAt: expiresAt, inviteEmailSent: delivered, ...shown };
    },

    async update(id: string, changes: StaffChanges, actor: PlatformActor) {
      return platformKnex.transaction(async (trx) => {
        const target = await PlatformAdmin.query(trx).findById(id).forUpdate();
        if (!target) throw notFound('Staff member');
        const callerRank = await rankOf(trx, actor.principal.adminId);
        if (STAFF_ROLE_RANK[target.role] > callerRank) throw aboveCaller('Changing');
        if (changes.role && STAFF_ROLE_RANK[changes.role] > callerRank) throw aboveCaller('Granting');
        if (target.status === 'invited' && changes.status === 'active') {
          throw new AppError('CONFLICT', 'An invited staff member becomes active by accepting the invitation');
        }
        const demoted = changes.role !== undefined && changes.role !== 'super_admin';
        if (demoted || changes.status === 'disabled') await refuseLosingLastSuperAdmin(trx, target);
        const updated = await PlatformAdmin.query(trx).patchAndFetchById(id, {
          ...changes,
          // A disabled invitation cannot be accepted any more.
          ...(changes.status === 'disabled' ? { inviteTokenHash: null, inviteExpiresAt: null } : {}),
        });
        const ended = changes.status === 'disabled' && target.status !== 'disabled' ? await endEverySession(trx, id) : undefined;
        await recordPlatformAudit(trx, actor, [
          {
            action: 'staff.update',
            targetType: 'platform_admin',
            targetId: id,
            details: { before: { role: target.role, status: target.status }, after: { role: updated.role, status: updated.status }, ...(ended ? { ended } : {}) },
          },
        ]);
        return presentPlatformAdmin(updated);
      });
    },

    async remove(id: string, actor: PlatformActor): Promise<void> {
      if (id === actor.principal.adminId) throw new AppError('CONFLICT', 'You cannot remove your own account');
      await platformKnex.transaction(async (trx) => {
        const target = await PlatformAdmin.query(trx).findById(id).forUpdate();
        if (!target) throw notFound('Staff member');
        if (STAFF_ROLE_RANK[target.role] > (await rankOf(trx, actor.principal.adminId))) throw aboveCaller('Removing');
        await refuseLosingLastSuperAdmin(trx, target);
        const ended = await endEverySession(trx, id);
        await PlatformAdmin.query(trx).deleteById(id);
        await recordPlatformAudit(trx, actor, [
          { action: 'staff.remove', targetType: 'platform_admin', targetId: id, details: { role: target.role, ended } },
        ]);
      });
    },
  };
}
