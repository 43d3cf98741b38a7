import { isIP } from 'node:net';
import { Knex } from 'knex';
import { PlatformAdminPrincipal } from '../auth/principal';

/** Who changed something from the console, for platform_audit_logs. */
export interface PlatformActor {
  /** The admin who acts (a signed-in principal, or the admin a sign-in flow is about). */
  principal: Pick<PlatformAdminPrincipal, 'adminId'>;
  ip: string;
  userAgent?: string;
  requestId: string;
}

export interface PlatformAuditEntry {
  action: string;
  tenantId?: string | null;
  targetType: string;
  targetId?: string | null;
  details: Record<string, unknown>;
}

const USER_AGENT_MAX = 512;

/** Writes console actions to platform_audit_logs, in the caller's transaction so they commit with the change. */
export async function recordPlatformAudit(trx: Knex | Knex.Transaction, actor: PlatformActor, entries: PlatformAuditEntry[]): Promise<void> {
  await trx('platformAuditLogs').insert(
    entries.map((entry) => ({
      actorType: 'platform_admin',
      actorId: actor.principal.adminId,
      action: entry.action,
      tenantId: entry.tenantId ?? null,
      targetType: entry.targetType,
      targetId: entry.targetId ?? null,
      details: JSON.stringify(entry.details),
      ip: isIP(actor.ip) ? actor.ip : null,
      userAgent: actor.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      requestId: actor.requestId,
    })),
  );
}
